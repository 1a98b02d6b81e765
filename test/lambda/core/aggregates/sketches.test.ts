/**
 * distinct, percentile, first and last against plain references (a Set of strings, a sorted array, a scan by
 * time), merging in any grouping, and the byte form.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Aggregator, aggregatorFor } from '../../../../lambda/core/aggregates';
import { ByteReader, ByteWriter } from '../../../../lambda/core/aggregates/bytes';
import { EXACT_DISTINCT_LIMIT } from '../../../../lambda/core/aggregates/distinct';
import { hash53 } from '../../../../lambda/core/aggregates/hash';
import { MIN_MAGNITUDE } from '../../../../lambda/core/aggregates/percentile';
import type { FeatureSpec } from '../../../../lambda/core/spec';
import { prng } from '../../../../bin/bench/workload';

const feature = (aggregate: FeatureSpec['aggregate'], extra: Partial<FeatureSpec> = {}): FeatureSpec => ({
  name: 'f',
  window: { type: 'tumbling', sizeMs: 10 },
  aggregate,
  field: 'x',
  ...extra,
});

function fold<A>(agg: Aggregator<A>, values: ReadonlyArray<readonly [number, number]>): A {
  const a = agg.of(values[0]![0], values[0]![1]);
  for (const [v, t] of values.slice(1)) agg.add(a, v, t);
  return a;
}

/** Folds the values in consecutive groups at the cut points, then merges the groups left to right. */
function grouped<A>(agg: Aggregator<A>, values: ReadonlyArray<readonly [number, number]>, cuts: readonly number[]): A {
  const points = [...new Set(cuts.map((c) => 1 + (c % values.length)))].filter((c) => c < values.length).sort((a, b) => a - b);
  const groups: Array<ReadonlyArray<readonly [number, number]>> = [];
  let from = 0;
  for (const p of [...points, values.length]) {
    groups.push(values.slice(from, p));
    from = p;
  }
  const out = fold(agg, groups[0]!);
  for (const g of groups.slice(1)) agg.mergeInto(out, fold(agg, g));
  return out;
}

function roundTrip<A>(agg: Aggregator<A>, a: A): { back: A; bytes: Uint8Array } {
  const w = new ByteWriter();
  agg.write(w, a);
  const bytes = w.finish();
  expect(bytes.length).toBeLessThanOrEqual(agg.maxBytes);
  const r = new ByteReader(bytes);
  const back = agg.read(r);
  expect(r.done).toBe(true);
  const again = new ByteWriter();
  agg.write(again, back);
  expect(again.finish()).toEqual(bytes);
  return { back, bytes };
}

describe('distinct', () => {
  const agg = aggregatorFor(feature('distinct'));
  const hashed = (xs: readonly string[]): Array<[number, number]> => xs.map((x, i) => [hash53(x), i]);

  it('is exact up to 64 distinct values, in any grouping, and round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 150 }), fc.array(fc.nat(), { maxLength: 4 }), (xs, cuts) => {
        const values = hashed(xs);
        const expected = new Set(xs).size;
        const whole = fold(agg, values);
        const parts = grouped(agg, values, cuts);
        if (expected <= EXACT_DISTINCT_LIMIT) expect(agg.result(whole)).toBe(expected);
        expect(agg.result(parts)).toBe(agg.result(whole));
        expect(agg.count(parts)).toBe(xs.length);
        expect(agg.result(roundTrip(agg, parts).back)).toBe(agg.result(whole));
      }),
      { numRuns: 500 },
    );
  });

  it('estimates beyond 64 within 6% in every one of 300 windows, 1.6% relative standard error overall', () => {
    const rnd = prng(7);
    const errors: number[] = [];
    for (let w = 0; w < 300; w++) {
      const n = 65 + Math.floor(rnd() ** 2 * 40_000);
      const values: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) values.push([hash53(`w${w}-merchant-${i}`), i]);
      // Two copies of every value: repeats must not count.
      const a = fold(agg, values);
      for (const [v, t] of values.slice(0, 50)) agg.add(a, v, t);
      const est = agg.result(a);
      errors.push((est - n) / n);
    }
    const worst = Math.max(...errors.map(Math.abs));
    const rse = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length);
    expect(worst).toBeLessThanOrEqual(0.06);
    expect(rse).toBeLessThanOrEqual(0.02);
  });

  it('merges sketches and exact sets to the same registers whatever the grouping', () => {
    const values = hashed(Array.from({ length: 3000 }, (_, i) => `m${i % 1700}`));
    const whole = fold(agg, values);
    for (const cuts of [[10], [100, 2000], [63, 64, 65, 2999]]) {
      const parts = grouped(agg, values, cuts);
      expect(roundTrip(agg, parts).bytes).toEqual(roundTrip(agg, whole).bytes);
    }
  });
});

describe('percentile', () => {
  for (const [q, alpha] of [[0.5, 0.01], [0.95, 0.01], [0.99, 0.05], [0.1, 0.001]] as const) {
    it(`p${q * 100} is within ${alpha} of the exact rank's value, in any grouping, and round-trips`, () => {
      const agg = aggregatorFor(feature('percentile', { percentile: q, relativeAccuracy: alpha }));
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -5, max: 5 }), fc.constant(0), fc.constantFrom(3.5e-323, -1e-305, 2e-300)), { minLength: 1, maxLength: 200 }),
          fc.array(fc.nat(), { maxLength: 4 }),
          (xs, cuts) => {
            const values = xs.map((x, i) => [x, i] as const);
            const sorted = [...xs].sort((a, b) => a - b);
            const exact = sorted[Math.floor(q * (xs.length - 1))]!;
            const whole = fold(agg, values);
            const got = agg.result(whole);
            // Magnitudes below 1e-300 count as zero.
            if (Math.abs(exact) < MIN_MAGNITUDE) expect(got).toBe(0);
            else expect(Math.abs(got - exact)).toBeLessThanOrEqual(alpha * Math.abs(exact) * (1 + 1e-9));
            expect(agg.result(grouped(agg, values, cuts))).toBe(got);
            expect(agg.result(roundTrip(agg, whole).back)).toBe(got);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('keeps its accuracy over nine decades at any relativeAccuracy (p10 of 1..10,000 at 0.1%)', () => {
    for (const alpha of [0.01, 0.001]) {
      const agg = aggregatorFor(feature('percentile', { percentile: 0.1, relativeAccuracy: alpha }));
      const a = fold(agg, Array.from({ length: 10_000 }, (_, i) => [i + 1, i] as const));
      expect(Math.abs(agg.result(a) - 1000)).toBeLessThanOrEqual(1000 * alpha);
    }
  });

  it('keeps the serialized sketch small: 10,000 amounts from $1 to $5,000 at 1% take under 2 KB', () => {
    const agg = aggregatorFor(feature('percentile', { percentile: 0.95 }));
    const rnd = prng(3);
    const values: Array<[number, number]> = Array.from({ length: 10_000 }, (_, i) => [Math.round(Math.exp(rnd() * Math.log(5000)) * 100) / 100, i]);
    expect(roundTrip(agg, fold(agg, values)).bytes.length).toBeLessThan(2048);
  });
});

describe('first and last', () => {
  it('pick the value of the earliest / latest event time; ties go to the earlier / later arrival; any grouping', () => {
    const first = aggregatorFor(feature('first'));
    const last = aggregatorFor(feature('last'));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -100, max: 100 }), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 3 }), (pairs, cuts) => {
        const values = pairs.map(([v, t]) => [v, t] as const);
        let fi = 0;
        let li = 0;
        pairs.forEach(([, t], i) => {
          if (t < pairs[fi]![1]) fi = i;
          if (t >= pairs[li]![1]) li = i;
        });
        expect(first.result(fold(first, values))).toBe(pairs[fi]![0]);
        expect(last.result(fold(last, values))).toBe(pairs[li]![0]);
        expect(first.result(grouped(first, values, cuts))).toBe(pairs[fi]![0]);
        expect(last.result(grouped(last, values, cuts))).toBe(pairs[li]![0]);
        expect(last.result(roundTrip(last, fold(last, values)).back)).toBe(pairs[li]![0]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('byte form', () => {
  it('round-trips every number exactly, small integers in a few bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.integer(), fc.constant(-0), fc.maxSafeInteger())), (xs) => {
        const w = new ByteWriter();
        for (const x of xs) w.num(x);
        const r = new ByteReader(w.finish());
        for (const x of xs) expect(Object.is(r.num(), x)).toBe(true);
      }),
    );
    const w = new ByteWriter();
    w.num(1234);
    expect(w.length).toBe(2);
  });

  it('names state that ends early instead of reading zeros', () => {
    const agg = aggregatorFor(feature('sum'));
    expect(() => agg.read(new ByteReader(new Uint8Array([5])))).toThrow(/state bytes end early/);
  });
});
