/**
 * `npm run bench -- --write-input` writes the bench's own workload: line for line what the bench generates for the
 * same records, seed and spacing, in arrival order throughout, however long the file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWorkload, writeLongWorkload } from '../../../bin/bench/workload';

const dir = mkdtempSync(join(tmpdir(), 'workload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { arrivalTime: number; data: string });

describe('the written workload', () => {
  it('is the bench\'s workload for the same records, seed and spacing, line for line', async () => {
    for (const spacingMs of [50, 5]) {
      const path = join(dir, `w${spacingMs}.jsonl`);
      await writeLongWorkload(path, { records: 20_000, keys: 500, seed: 7, spacingMs });
      expect(read(path)).toEqual(generateWorkload({ records: 20_000, keys: 500, seed: 7, spacingMs }));
    }
  });

  it('stays in arrival order over a file much longer than the longest arrival delay, with unique ids', async () => {
    // 250,000 records at 50 ms: 3.5 hours of event time, where arrivals trail event time by up to 18 minutes.
    const path = join(dir, 'long.jsonl');
    await writeLongWorkload(path, { records: 250_000, keys: 5_000, seed: 7, spacingMs: 50 });
    const lines = read(path);
    expect(lines).toHaveLength(250_000);
    const outOfOrder = lines.findIndex((l, i) => i > 0 && l.arrivalTime < lines[i - 1]!.arrivalTime);
    expect(outOfOrder).toBe(-1);
    const ids = new Set<string>();
    let dupes = 0;
    for (const l of lines) {
      const m = /"event_id":"([^"]+)"/.exec(l.data);
      if (m === null) continue;
      if (ids.has(m[1]!)) dupes++;
      else ids.add(m[1]!);
    }
    // Only the producer retries the workload makes on purpose (1%) repeat an id.
    expect(dupes / lines.length).toBeGreaterThan(0.005);
    expect(dupes / lines.length).toBeLessThan(0.015);
  }, 60_000);
});
