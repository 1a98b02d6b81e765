/**
 * The estimate before labels with a calibration fitted on labelled windows, against a reference from the raw pairs
 * (test/support/calibration-reference.ts): an isotonic fit by its min–max formula, and sums over the later window's
 * predictions and over every pair of them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addPrediction, calibrationCounts, emptyCounts, estimatedPerformance } from '../../../lambda/core/label-join';
import { scoreBin } from '../../../lambda/core/evaluation';
import { addLabelled, emptyLabelledBins, fitCalibration, mergeLabelled } from '../../../lambda/core/score-metrics';
import { referenceEstimate as reference } from '../../support/calibration-reference';

const close = (got: number | null, want: number | null, what: string): void => {
  if (want === null) expect(got, what).toBeNull();
  else expect(Math.abs(got! - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-9);
};

const scoreArb = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 0.5, 0.01, 0.99), fc.integer({ min: 0, max: 100 }).map((k) => k / 100));
// Labels that follow the score only loosely, so the fit pools bins.
const pairArb = fc.tuple(scoreArb, fc.double({ min: 0, max: 1, noNaN: true })).map(([score, u]) => ({ score, label: u < 0.2 + 0.5 * score }));
const windowsArb = fc.array(fc.array(pairArb, { maxLength: 40 }), { minLength: 1, maxLength: 4 });

function countsOf(scores: readonly number[], threshold: number): ReturnType<typeof emptyCounts> {
  const c = emptyCounts();
  for (const s of scores) addPrediction(c, { score: s, positive: s >= threshold, scoreBin: scoreBin(s) });
  return c;
}

describe('calibrated estimate before labels', () => {
  it('equals the reference over raw pairs: map fitted on earlier windows (bins merged), applied to a later one', () => {
    fc.assert(
      fc.property(windowsArb, fc.array(scoreArb, { maxLength: 60 }), fc.oneof(fc.constantFrom(0.5, 0.3, 0.29, 0.015, 1), fc.double({ min: 0, max: 1, noNaN: true })), (earlier, later, threshold) => {
        const merged = earlier.map((w) => {
          const b = emptyLabelledBins();
          for (const p of w) addLabelled(b, p.score, p.label);
          return b;
        }).reduce(mergeLabelled);
        const calibration = fitCalibration(merged.positives, merged.negatives);
        const want = reference(earlier.flat(), later, threshold);
        if (want === null) {
          expect(calibration).toBeNull();
          return;
        }
        expect(calibration!.labelled).toBe(earlier.flat().length);
        const got = estimatedPerformance(countsOf(later, threshold), calibration);
        close(got.precision, want.precision, 'precision');
        close(got.recall, want.recall, 'recall');
        close(got.rocAuc, want.rocAuc, 'ROC AUC');
        expect(got.calibratedOn).toBe(earlier.flat().length);
      }),
      { numRuns: 300 },
    );
  });

  it('a final window adds its labelled bins under the unlabeled policy: "negative" counts an unlabeled prediction as a negative', () => {
    const c = countsOf([0.1, 0.1, 0.9, 0.95], 0.5);
    // One label joined: the 0.9 is a positive.
    c.labelPositiveBins[90]! += 1;
    const negative = calibrationCounts(c, 'negative');
    const unknown = calibrationCounts(c, 'unknown');
    expect([negative.positives[90], negative.negatives[10], negative.negatives[95], negative.negatives[90]]).toEqual([1, 2, 1, 0]);
    expect([unknown.positives.reduce((a, b) => a + b), unknown.negatives.reduce((a, b) => a + b)]).toEqual([1, 0]);
  });

  it('the fraud example\'s shape: confident scores that are mostly wrong are estimated by their labels, not their scores', () => {
    // 20 predictions at 0.9999 of which 4 were fraud, 40 at 0.01 of which none: the scores alone say precision 1.
    const labelled = emptyLabelledBins();
    for (let i = 0; i < 20; i++) addLabelled(labelled, 0.9999, i < 4);
    for (let i = 0; i < 40; i++) addLabelled(labelled, 0.01, false);
    const later = countsOf([...new Array<number>(20).fill(0.9999), ...new Array<number>(40).fill(0.01)], 0.5);
    expect(estimatedPerformance(later).precision).toBeCloseTo(0.9999, 6);
    const calibrated = estimatedPerformance(later, fitCalibration(labelled.positives, labelled.negatives));
    expect(calibrated.precision).toBeCloseTo(0.2, 12);
    expect(calibrated.recall).toBeCloseTo(1, 12);
    expect(fitCalibration(new Array<number>(100).fill(0), new Array<number>(100).fill(0))).toBeNull();
  });
});
