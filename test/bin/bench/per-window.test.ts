import { describe, expect, it } from 'vitest';
import { PerWindowEngine } from '../../../bin/bench/per-window';
import { BENCH_SPEC, generateWorkload } from '../../../bin/bench/workload';
import { WindowEngine } from '../../../lambda/core/engine';
import { parseInputLine } from '../../../lambda/core/input-line';

describe('per-window baseline of the benchmark', () => {
  it('hands out exactly the final windows the sliced engine does, so the timing compares equal work', () => {
    const spec = { ...BENCH_SPEC, features: BENCH_SPEC.features.filter((f) => f.window.type !== 'session') };
    const records = generateWorkload({ records: 4000, keys: 40, seed: 3, spacingMs: 2000 }).map((l, i) => parseInputLine(JSON.stringify(l), i + 1));
    const sliced = new WindowEngine(spec, { trackChanges: false });
    const perWindow = new PerWindowEngine(spec);
    // Window id → [value, count]; values are compared with a tolerance, as the two add the same numbers in a
    // different order (slice by slice vs record by record).
    const a = new Map<string, [number, number]>();
    const b = new Map<string, [number, number]>();
    const put = (m: Map<string, [number, number]>, w: { feature: string; key: string; windowStart: number; windowEnd: number; value: number; count: number }) => {
      const id = `${w.feature}|${w.key}|${w.windowStart}|${w.windowEnd}`;
      expect(m.has(id)).toBe(false);
      m.set(id, [w.value, w.count]);
    };
    for (let i = 0; i < records.length; i += 300) {
      const chunk = records.slice(i, i + 300);
      for (const f of sliced.processBatch(chunk).finals) put(a, f);
      perWindow.processBatch(chunk);
      for (const f of perWindow.finals) put(b, f);
      perWindow.takeFinals();
    }
    for (const f of sliced.flush().finals) put(a, f);
    perWindow.fire(Infinity);
    for (const f of perWindow.finals) put(b, f);
    expect(a.size).toBeGreaterThan(1000);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [id, [value, count]] of a) {
      const [v, c] = b.get(id)!;
      expect(c).toBe(count);
      expect(Math.abs(v - value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(value)));
    }
    expect(perWindow.stateUpdates).toBeGreaterThan(4 * records.length);
  });
});
