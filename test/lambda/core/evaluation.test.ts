import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEATURE_VALUE_BINS, SCORE_BINS, binShares, confusion, featureValueBin, populationStabilityIndex } from '../../../lambda/core/evaluation';

describe('confusion', () => {
  it('counts thresholded scores against labels', () => {
    const c = confusion(
      [
        { score: 0.9, label: true },
        { score: 0.7, label: false },
        { score: 0.5, label: true },
        { score: 0.2, label: true },
        { score: 0.1, label: false },
      ],
      0.5,
    );
    expect(c).toEqual({ truePositives: 2, falsePositives: 1, falseNegatives: 1, trueNegatives: 1, precision: 2 / 3, recall: 2 / 3, positiveRate: 3 / 5 });
    expect(confusion([], 0.5)).toMatchObject({ precision: null, recall: null, positiveRate: null });
    expect(confusion([{ score: 0.1, label: false }], 0.5)).toMatchObject({ precision: null, recall: null, positiveRate: 0 });
  });
});

describe('population stability index', () => {
  /** The same index written out over explicit bin indexes, sharing no code with the module. */
  function reference(a: readonly number[], b: readonly number[]): number {
    const bin = (s: number): number => Math.min(9, Math.floor(s * 10 + 1e-12));
    const share = (xs: readonly number[]) => {
      const c = new Array(10).fill(0) as number[];
      for (const x of xs) c[bin(x)]! += 1;
      return c.map((n) => Math.max(n / xs.length, 1e-4));
    };
    const [r, c] = [share(a), share(b)];
    return r.reduce((sum, ri, i) => sum + (c[i]! - ri) * Math.log(c[i]! / ri), 0);
  }

  it('agrees with a direct computation over ten bins of [0, 1]', () => {
    const scores = fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 200 });
    fc.assert(
      fc.property(scores, scores, (a, b) => {
        expect(populationStabilityIndex(a, b)).toBeCloseTo(reference(a, b), 9);
      }),
      { numRuns: 300 },
    );
  });

  it('is 0 for the same distribution and above 0.2 for a shifted one', () => {
    const even = Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
    expect(populationStabilityIndex(even, even)).toBe(0);
    expect(populationStabilityIndex(even, even.map((s) => Math.min(0.999, s * 0.5 + 0.45)))).toBeGreaterThan(0.2);
  });

  it('puts a score on a bin edge in the bin above it', () => {
    expect(binShares([0.1, 0.0999, 1], SCORE_BINS)).toEqual([1 / 3, 1 / 3, 0, 0, 0, 0, 0, 0, 0, 1 / 3]);
  });
});

describe('feature value bins', () => {
  it('put no value, negatives, zero and (0, 1) apart, then powers of two up to 512 and beyond', () => {
    const cases: Array<[number | null, number]> = [
      [null, 0],
      [Number.NaN, 0],
      [-5, 1],
      [-0.1, 1],
      [0, 2],
      [0.5, 3],
      [1, 4],
      [1.99, 4],
      [2, 5],
      [3.5, 5],
      [4, 6],
      [256, 12],
      [511.9, 12],
      [512, 13],
      [1e12, 13],
    ];
    for (const [v, b] of cases) expect(featureValueBin(v), String(v)).toBe(b);
    expect(FEATURE_VALUE_BINS).toBe(14);
  });
});
