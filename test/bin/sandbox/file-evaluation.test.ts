/**
 * A file run's evaluation lines: each window's estimate with the calibration of the run's earlier final windows,
 * against the reference over raw pairs (test/support/calibration-reference.ts), and the published estimate kept.
 */
import { describe, expect, it } from 'vitest';
import { evaluationLines } from '../../../bin/sandbox/file-evaluation';
import type { StoredWindow } from '../../../lambda/adapters/evaluation-store';
import { scoreBin } from '../../../lambda/core/evaluation';
import { addLabel, addPrediction, emptyCounts } from '../../../lambda/core/label-join';
import { parseSpec } from '../../../lambda/core/spec';
import { prng } from '../../../bin/bench/workload';
import { type Pair, referenceEstimate } from '../../support/calibration-reference';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const ev = parseSpec({
  source: { keyField: 'k', timeField: 't' },
  watermark: { allowedLatenessMs: 0 },
  features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
  scoring: { model: 'm.json' },
  evaluation: { labelWindowMs: HOUR, unlabeled: 'unknown' },
}).evaluation!;

function window(start: number, pairs: readonly Pair[], final: boolean): StoredWindow {
  const counts = emptyCounts();
  for (const p of pairs) {
    addPrediction(counts, { score: p.score, positive: p.score >= 0.5, scoreBin: scoreBin(p.score), features: { n: p.score > 0.9 ? null : 1 } });
    if (final) addLabel(counts, { score: p.score, positive: p.score >= 0.5, label: p.label, delayMs: 1000 });
  }
  return { windowStart: start, counts, checkpoints: new Map(), closed: true, provisional: false, final };
}

describe('evaluation lines of a file run', () => {
  it('estimate each window with the calibration of the final windows before it, as the reference over their raw pairs', () => {
    const rnd = prng(3);
    const pairs = Array.from({ length: 4 }, () => Array.from({ length: 30 }, () => {
      const score = rnd();
      return { score, label: rnd() < 0.1 + 0.3 * score };
    }));
    // The third window is not final: it adds nothing to the calibration of the fourth.
    const windows = pairs.map((p, i) => window(T0 + i * HOUR, p, i !== 2));
    const lines = evaluationLines(windows, T0, ev, () => null);
    expect(lines[0]!.estimatedOnEarlierWindows).toBeNull();
    for (const [i, earlier] of [[1, pairs[0]!], [2, [...pairs[0]!, ...pairs[1]!]], [3, [...pairs[0]!, ...pairs[1]!]]] as const) {
      const want = referenceEstimate(earlier, pairs[i]!.map((p) => p.score), 0.5)!;
      const got = lines[i]!.estimatedOnEarlierWindows!;
      expect(got.calibratedOn).toBe(earlier.length);
      expect(got.precision!).toBeCloseTo(want.precision!, 12);
      expect(got.recall!).toBeCloseTo(want.recall!, 12);
      expect(got.rocAuc!).toBeCloseTo(want.rocAuc!, 12);
    }
    // The published estimate: the window's own when it kept one, else the scores taken as probabilities.
    const kept = { precision: 0.3, recall: 0.4, rocAuc: 0.7, calibratedOn: 12 };
    const [line] = evaluationLines([{ ...windows[1]!, estimated: kept }], T0, ev, () => null);
    expect([line!.estimatedPrecision, line!.estimatedRecall, line!.estimatedRocAuc, line!.estimateCalibratedOn]).toEqual([0.3, 0.4, 0.7, 12]);
    expect(lines[0]!.estimateCalibratedOn).toBe(0);
    expect(lines[0]!.featureEmptyShare.n).toBe(pairs[0]!.filter((p) => p.score > 0.9).length / 30);
  });
});
