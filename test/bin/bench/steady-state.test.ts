import { describe, expect, it } from 'vitest';
import { formatSteadyState, quarters } from '../../../bin/bench/steady-state';
import type { BatchUnits } from '../../../bin/bench/emulator-bench';

const batch = (i: number): BatchUnits => ({ records: 10, writeUnits: i, boundUnits: 1, readUnits: 2 * i, boundReadUnits: 0.5, by: new Map([['write key item', i]]) });

describe('steady-state quarters', () => {
  it('split the batches in order into four runs that together hold every batch once', () => {
    const qs = quarters(Array.from({ length: 10 }, (_, i) => batch(i)));
    expect(qs.map((q) => q.batches)).toEqual([2, 3, 2, 3]);
    expect(qs.map((q) => q.writeUnits)).toEqual([0 + 1, 2 + 3 + 4, 5 + 6, 7 + 8 + 9]);
    expect(qs.reduce((a, q) => a + q.readUnits, 0)).toBe(2 * 45);
    expect(qs.reduce((a, q) => a + q.records, 0)).toBe(100);
    expect(qs.map((q) => q.by.get('write key item'))).toEqual([1, 9, 11, 24]);
  });

  it('judge the last quarter against the targets', () => {
    const row = { perBatch: [], writeUnits: 0, boundUnits: 0, readUnits: 0, boundReadUnits: 0, s3Puts: 0, idPages: 0, failedAttempts: 0, batchMs: [], clientCpuMs: 0 };
    const lines = formatSteadyState({ label: 'x', row: row as never, quarters: quarters(Array.from({ length: 8 }, (_, i) => batch(i))), totalMs: 1 });
    // Last quarter: writes 6 + 7 over a bound of 2 (6.5x), reads 26 over 1 (26x).
    expect(lines.find((l) => l.startsWith('last quarter:'))).toBe('last quarter: write units 6.50x the bound (target 1.5x: missed), read units 26.00x (target 3x: missed)');
    // 13 write units of the key item over 20 records.
    expect(lines).toContain('last quarter, units per 1,000 records by what they were spent on: write key item 650.0');
  });
});
