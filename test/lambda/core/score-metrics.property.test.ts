/**
 * Threshold-free measures from labelled score bins against a reference written directly from the definitions over
 * the raw (score, label) pairs: ROC AUC as the share of (positive, negative) pairs ordered right (ties half), average
 * precision over the distinct thresholds, log loss, Brier score and the expected calibration error; and merging
 * two windows' bins equals binning both windows' pairs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOG_LOSS_EPS, type LabelledBins, addLabelled, emptyLabelledBins, mergeLabelled, thresholdFreeMetrics, wilsonInterval } from '../../../lambda/core/score-metrics';

interface Pair {
  score: number;
  label: boolean;
}

/** Scores as the bins see them: rounded down to 0.01 (the top bin holds 1). */
const q = (s: number): number => Math.min(99, Math.floor(s * 100));

function reference(pairs: readonly Pair[]): { rocAuc: number | null; prAuc: number | null; logLoss: number | null; brier: number | null; ece: number | null } {
  const pos = pairs.filter((p) => p.label);
  const neg = pairs.filter((p) => !p.label);
  let rocAuc: number | null = null;
  if (pos.length > 0 && neg.length > 0) {
    let s = 0;
    for (const a of pos) for (const b of neg) s += q(a.score) > q(b.score) ? 1 : q(a.score) === q(b.score) ? 0.5 : 0;
    rocAuc = s / (pos.length * neg.length);
  }
  let prAuc: number | null = null;
  if (pos.length > 0) {
    const thresholds = [...new Set(pairs.map((p) => q(p.score)))].sort((a, b) => b - a);
    let prevRecall = 0;
    prAuc = 0;
    for (const t of thresholds) {
      const tp = pos.filter((p) => q(p.score) >= t).length;
      const fp = neg.filter((p) => q(p.score) >= t).length;
      const recall = tp / pos.length;
      prAuc += (recall - prevRecall) * (tp / (tp + fp));
      prevRecall = recall;
    }
  }
  const n = pairs.length;
  const clip = (p: number): number => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));
  const logLoss = n === 0 ? null : pairs.reduce((s, p) => s - (p.label ? Math.log(clip(p.score)) : Math.log(1 - clip(p.score))), 0) / n;
  const brier = n === 0 ? null : pairs.reduce((s, p) => s + (p.score - (p.label ? 1 : 0)) ** 2, 0) / n;
  let ece: number | null = null;
  if (n > 0) {
    ece = 0;
    for (let r = 0; r < 10; r++) {
      const inBin = pairs.filter((p) => Math.floor(q(p.score) / 10) === r);
      if (inBin.length === 0) continue;
      const mean = inBin.reduce((s, p) => s + p.score, 0) / inBin.length;
      const rate = inBin.filter((p) => p.label).length / inBin.length;
      ece += (inBin.length / n) * Math.abs(mean - rate);
    }
  }
  return { rocAuc, prAuc, logLoss, brier, ece };
}

function binned(pairs: readonly Pair[]): LabelledBins {
  const b = emptyLabelledBins();
  for (const p of pairs) addLabelled(b, p.score, p.label);
  return b;
}

const close = (got: number | null, want: number | null, what: string): void => {
  if (want === null) expect(got, what).toBeNull();
  else expect(Math.abs(got! - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
};

// Scores spread over [0, 1], with exact 0, 1 and bin edges, and labels leaning towards high scores.
const pairArb = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 0.5, 0.01, 0.99, 0.1), fc.integer({ min: 0, max: 100 }).map((k) => k / 100)).chain((score) => fc.boolean().map((coin) => ({ score, label: coin !== score < 0.5 })));
const pairsArb = fc.array(pairArb, { maxLength: 120 });

describe('threshold-free measures from labelled bins', () => {
  it('equal the reference over the raw pairs', () => {
    fc.assert(
      fc.property(pairsArb, (pairs) => {
        const got = thresholdFreeMetrics(binned(pairs));
        const want = reference(pairs);
        close(got.rocAuc, want.rocAuc, 'ROC AUC');
        close(got.prAuc, want.prAuc, 'PR AUC');
        close(got.logLoss, want.logLoss, 'log loss');
        close(got.brier, want.brier, 'Brier');
        close(got.expectedCalibrationError, want.ece, 'ECE');
        expect(got.labelled).toBe(pairs.length);
        expect(got.reliability.reduce((s, r) => s + r.count, 0)).toBe(pairs.length);
      }),
      { numRuns: 300 },
    );
  });

  it('merge across windows: the merged bins measure what binning both windows does', () => {
    fc.assert(
      fc.property(pairsArb, pairsArb, (a, b) => {
        const merged = thresholdFreeMetrics(mergeLabelled(binned(a), binned(b)));
        const whole = reference([...a, ...b]);
        close(merged.rocAuc, whole.rocAuc, 'ROC AUC');
        close(merged.prAuc, whole.prAuc, 'PR AUC');
        close(merged.logLoss, whole.logLoss, 'log loss');
        close(merged.brier, whole.brier, 'Brier');
        close(merged.expectedCalibrationError, whole.ece, 'ECE');
      }),
      { numRuns: 200 },
    );
  });

  it('a perfect ranking has AUCs of 1, a reversed one a ROC AUC of 0; no labels, no measures', () => {
    const perfect = thresholdFreeMetrics(binned([{ score: 0.9, label: true }, { score: 0.95, label: true }, { score: 0.2, label: false }]));
    expect([perfect.rocAuc, perfect.prAuc]).toEqual([1, 1]);
    expect(thresholdFreeMetrics(binned([{ score: 0.1, label: true }, { score: 0.9, label: false }])).rocAuc).toBe(0);
    const none = thresholdFreeMetrics(emptyLabelledBins());
    expect([none.rocAuc, none.prAuc, none.logLoss, none.brier, none.expectedCalibrationError]).toEqual([null, null, null, null, null]);
    expect(() => addLabelled(emptyLabelledBins(), 1.5, true)).toThrow('a score must be a number from 0 to 1, got 1.5');
  });
});

describe('Wilson intervals', () => {
  it('match published values and hold the observed share within [0, 1]', () => {
    // 95% Wilson intervals (Newcombe 1998, table I): 0/10 → [0, 0.2775], 8/10 → [0.4902, 0.9433], 81/263 → [0.2553, 0.3662].
    const r = (i: { lower: number; upper: number } | null): number[] => [Number(i!.lower.toFixed(4)), Number(i!.upper.toFixed(4))];
    expect(r(wilsonInterval(0, 10))).toEqual([0, 0.2775]);
    expect(r(wilsonInterval(8, 10))).toEqual([0.4902, 0.9433]);
    expect(r(wilsonInterval(81, 263))).toEqual([0.2553, 0.3662]);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(3, 2)).toThrow('wilsonInterval needs integers 0 ≤ successes ≤ n, got 3 of 2');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }).chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n))), ([k, n]) => {
        const i = wilsonInterval(k, n)!;
        expect(i.lower).toBeGreaterThanOrEqual(0);
        expect(i.upper).toBeLessThanOrEqual(1);
        expect(i.lower).toBeLessThanOrEqual(k / n + 1e-12);
        expect(i.upper).toBeGreaterThanOrEqual(k / n - 1e-12);
      }),
    );
  });
});
