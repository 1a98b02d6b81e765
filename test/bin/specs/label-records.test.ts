/**
 * bin/specs/fraud-label-records.jsonl holds the story's labels (bin/specs/fraud-labels.jsonl, the training-set
 * format) as label records for a file run's --labels: the same events, keys, values and times, each valid.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseLabel } from '../../../lambda/core/label-join';
import { parseSpecJson } from '../../../lambda/core/spec';

const SPECS = join(__dirname, '..', '..', '..', 'bin', 'specs');
const lines = (file: string): Array<Record<string, unknown>> =>
  readFileSync(join(SPECS, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

it('holds the training labels as label records, each one valid', () => {
  const spec = parseSpecJson(readFileSync(join(SPECS, 'fraud.json'), 'utf8'));
  const training = lines('fraud-labels.jsonl');
  const records = lines('fraud-label-records.jsonl');
  expect(records.map((r) => [r.eventId, r.key, r.label, r.labelTime])).toEqual(training.map((t) => [t.event_id, t.key, t.is_fraud, t.time]));
  for (const r of records) expect(parseLabel(JSON.stringify(r), Date.parse(r.labelTime as string), spec).ok, JSON.stringify(r)).toBe(true);
});
