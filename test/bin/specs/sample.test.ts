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
