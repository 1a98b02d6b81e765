import { describe, expect, it } from 'vitest';
import { formatServingBench, formatServingReadBench, runServingBench, runServingReadBench } from '../../../bin/bench/serving';
import { BENCH_SPEC, generateWorkload } from '../../../bin/bench/workload';
import { parseInputLine } from '../../../lambda/core/input-line';

describe('serving section of the benchmark', () => {
  it('serves every key the engine holds at T, times each read and reports quantiles in order', () => {
    const records = generateWorkload({ records: 3000, keys: 50, seed: 3, spacingMs: 500 }).map((l, i) => parseInputLine(JSON.stringify(l), i + 1));
    const at = records[1500]!.arrivalTime!;
    const b = runServingBench(BENCH_SPEC, records, at, 2);
    expect(b.keys).toBeGreaterThan(40);
    expect(b.features).toBe(BENCH_SPEC.features.length);
    expect(b.timings).toBe(b.keys * 2);
    expect(Object.values(b.statuses).reduce((x, y) => x + y, 0)).toBe(b.keys * b.features);
    expect(b.statuses.present).toBeGreaterThan(0);
    expect(b.statuses.unavailable).toBeUndefined();
    expect(b.p50Ms).toBeGreaterThan(0);
    expect(b.p50Ms).toBeLessThanOrEqual(b.p99Ms);
    expect(b.p99Ms).toBeLessThanOrEqual(b.maxMs);
    expect(b.decodeP50Ms).toBeGreaterThan(0);
    expect(b.decodeP50Ms).toBeLessThanOrEqual(b.decodeP99Ms);
    expect(formatServingBench(b)[1]).toMatch(/^ {2}per key: p50 \d+\.\d{4} ms, p99 \d+\.\d{4} ms \(target ≤ 0\.2 ms at p99\), max/);
  });
});

describe('serving reads of the benchmark', () => {
  it('reads 1 key in one request and 100 keys in one request, eventually consistent at half the units', async () => {
    const records = generateWorkload({ records: 2000, keys: 300, seed: 5, spacingMs: 200 }).map((l, i) => parseInputLine(JSON.stringify(l), i + 1));
    const b = await runServingReadBench(BENCH_SPEC, records, records[1000]!.arrivalTime!, 3);
    expect(b.keys).toBeGreaterThan(100);
    expect(b.rows.map((r) => [r.keysPerCall, r.requestsPerCall])).toEqual([[1, 1], [100, 1]]);
    for (const r of b.rows) {
      expect(r.unitsPerKeyConsistent).toBeGreaterThan(0);
      expect(r.unitsPerKeyEventual).toBe(r.unitsPerKeyConsistent / 2);
    }
    expect(b.itemBytesP50).toBeGreaterThan(0);
    expect(formatServingReadBench(b)).toHaveLength(3);
  }, 60_000);
});
