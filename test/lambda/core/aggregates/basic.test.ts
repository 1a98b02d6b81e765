import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Acc, accOf, addInto, copyAcc, mergeInto, resultValue } from '../../../../lambda/core/aggregates/basic';
import { Feed, makeEngine, runAll } from '../../../support/engine-harness';

describe('accumulators', () => {
  it('start from one value and fold more in', () => {
    const a = accOf(4);
    expect(a).toEqual([1, 4, 4, 4, 0]);
    addInto(a, -2);
    addInto(a, 10);
    expect(a).toEqual([3, 12, -2, 10, 0]);
  });

  it('merge partial aggregates like folding their values one by one', () => {
    const left = accOf(3);
    addInto(left, 8);
    const right = accOf(-1);
    addInto(right, 5);
    mergeInto(left, right);
    const folded = accOf(3);
    for (const v of [8, -1, 5]) addInto(folded, v);
    expect(left).toEqual(folded);
  });

  it('copies are independent', () => {
    const a = accOf(1);
    const b = copyAcc(a);
    addInto(b, 2);
    expect(a).toEqual([1, 1, 1, 1, 0]);
    expect(b).toEqual([2, 3, 1, 2, 0]);
  });

  it('reads out count, sum, min, max and avg', () => {
    const a: Acc = [4, 10, -3, 9, 0];
    expect(resultValue('count', a)).toBe(4);
    expect(resultValue('sum', a)).toBe(10);
    expect(resultValue('min', a)).toBe(-3);
    expect(resultValue('max', a)).toBe(9);
    expect(resultValue('avg', a)).toBe(2.5);
  });
});

describe('aggregates on a tumbling window', () => {
  const kinds = [
    ['count', 3],
    ['sum', 12],
    ['min', -4],
    ['max', 10],
    ['avg', 4],
  ] as const;

  it.each(kinds)('%s over amounts 6, -4, 10 in [0, 10) is %d', (aggregate, expected) => {
    const feature = aggregate === 'count' ? { aggregate } : { aggregate, field: 'amount' };
    const engine = makeEngine({ features: [{ name: 'f', window: { type: 'tumbling', sizeMs: 10 }, ...feature }] });
    const feed = new Feed();
    const out = runAll(engine, [feed.ev('u', 1, { amount: 6 }), feed.ev('u', 9, { amount: -4 }), feed.ev('u', 5, { amount: 10 }), feed.ev('u', 10, { amount: 100 })]);
    expect(out.windows).toEqual([
      { feature: 'f', key: 'u', windowStart: 0, windowEnd: 10, value: expected, count: 3 },
      { feature: 'f', key: 'u', windowStart: 10, windowEnd: 20, value: aggregate === 'count' ? 1 : 100, count: 1 },
    ]);
  });

  it('computes all five on the same records at once, per key', () => {
    const engine = makeEngine({
      features: kinds.map(([aggregate]) => ({ name: aggregate, window: { type: 'tumbling', sizeMs: 10 }, aggregate, ...(aggregate === 'count' ? {} : { field: 'amount' }) })),
    });
    const feed = new Feed();
    const out = runAll(engine, [feed.ev('a', 1, { amount: 1 }), feed.ev('b', 2, { amount: 7 }), feed.ev('a', 3, { amount: 2 })]);
    const value = (feature: string, key: string) => out.windows.find((w) => w.feature === feature && w.key === key)?.value;
    expect([value('count', 'a'), value('sum', 'a'), value('min', 'a'), value('max', 'a'), value('avg', 'a')]).toEqual([2, 3, 1, 2, 1.5]);
    expect([value('count', 'b'), value('sum', 'b'), value('min', 'b'), value('max', 'b'), value('avg', 'b')]).toEqual([1, 7, 7, 7, 7]);
  });

  it('reports fractional averages exactly as sum / count', () => {
    const engine = makeEngine({ features: [{ name: 'f', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'avg', field: 'amount' }] });
    const feed = new Feed();
    const out = runAll(engine, [feed.ev('u', 1, { amount: 1 }), feed.ev('u', 2, { amount: 1 }), feed.ev('u', 3, { amount: 2 })]);
    expect(out.windows[0]!.value).toBe(4 / 3);
  });
});

describe('compensated sums', () => {
  const fold = (values: readonly number[]): Acc => {
    const a = accOf(values[0]!);
    for (const v of values.slice(1)) addInto(a, v);
    return a;
  };

  it('read the same digits whatever the grouping and order, within the rounding of the values themselves', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -10_000_000, max: 10_000_000 }), { minLength: 1, maxLength: 60 }), fc.nat(), fc.nat(), (cents, cut, seed) => {
        const values = cents.map((c) => c / 100);
        const whole = resultValue('sum', fold(values));
        // Split in two slices merged, and the values in another order.
        const k = 1 + (cut % values.length);
        const left = fold(values.slice(0, k));
        if (k < values.length) mergeInto(left, fold(values.slice(k)));
        const shuffled = [...values].sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
        expect(resultValue('sum', left)).toBe(whole);
        expect(resultValue('sum', fold(shuffled))).toBe(whole);
        const decimal = cents.reduce((a, b) => a + b, 0) / 100;
        // Each value is itself the nearest double to its decimal: the sum can be off by their representation errors.
        expect(Math.abs(whole - decimal)).toBeLessThanOrEqual(values.reduce((a, v) => a + Math.abs(v), 0) * Number.EPSILON);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads ten times 0.1 as 1, where a plain sum reads 0.9999999999999999', () => {
    const values = new Array<number>(10).fill(0.1);
    expect(values.reduce((a, b) => a + b, 0)).toBe(0.9999999999999999);
    expect(resultValue('sum', fold(values))).toBe(1);
  });
});
