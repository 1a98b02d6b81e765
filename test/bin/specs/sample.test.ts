/**
 * The sample records of the README (bin/specs/fraud-records.jsonl: the `npm start` story as a file) replay with
 * the example spec to the figures the README quotes, and each kind of rejection shows up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadSpecFile } from '../../../bin/cli/spec-file';
import { replay } from '../../../bin/replay/run';

const SPECS = join(__dirname, '..', '..', '..', 'bin', 'specs');
const out = mkdtempSync(join(tmpdir(), 'sample-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('replays the sample records to the summary the README shows', async () => {
  const summary = await replay({ spec: loadSpecFile(join(SPECS, 'fraud.json')), inputPath: join(SPECS, 'fraud-records.jsonl'), outDir: out });
  expect(summary).toEqual({ records: 66, applied: 63, late: 6, invalid: 1, future: 1, duplicates: 1, lateRecords: 0, finalWindows: 687, corrections: 0, firings: 0 });
  const rejected = readFileSync(join(out, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; key?: string });
  expect(rejected.map((r) => `${r.reason} ${r.key}`).sort()).toEqual(['future user_13', 'invalid user_05', ...Array<string>(6).fill('late user_07')]);
});

it('labels the sample as the story goes: the drained account\'s payments fraud, the ordinary customers\' not, each naming a payment of its key', () => {
  const payments = new Map<string, string>();
  for (const line of readFileSync(join(SPECS, 'fraud-records.jsonl'), 'utf8').trim().split('\n')) {
    let p: unknown;
    try {
      p = JSON.parse((JSON.parse(line) as { data: string }).data);
    } catch {
      continue; // the story's invalid record
    }
    const rec = p as { user_id?: string; event_id?: string };
    if (rec.event_id !== undefined && rec.user_id !== undefined) payments.set(rec.event_id, rec.user_id);
  }
  const labels = readFileSync(join(SPECS, 'fraud-labels.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; event_id: string; is_fraud: number });
  expect(labels.filter((l) => l.is_fraud === 1).length).toBeGreaterThan(0);
  for (const l of labels) {
    expect(payments.get(l.event_id), l.event_id).toBe(l.key);
    expect(l.is_fraud, `${l.key} ${l.event_id}`).toBe(l.key === 'acct_fraudster' ? 1 : 0);
  }
});
