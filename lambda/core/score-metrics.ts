/**
 * Threshold-free measures of a model over an evaluation window, from labelled score bins instead of the scores
 * themselves: per bin of 100 equal bins over [0, 1], the labelled positives and negatives, with exact sums for the
 * log loss, the Brier score and the calibration. Counts and sums add, so bins merge across windows (and stores
 * keep them with atomic ADDs), and no table scan is needed. Within a bin scores count as tied: ROC AUC and PR AUC
 * are those of the scores rounded down to 0.01 (exact for such scores); log loss, Brier score and calibration use
 * the exact scores.
 */

/** Number of equal score bins over [0, 1]. */
export const LABELLED_BINS = 100;
/** Reliability diagram bins: ten equal bins over [0, 1] (each ten of the fine bins). */
export const RELIABILITY_BINS = 10;
/** Scores are clipped to [EPS, 1 − EPS] in the log loss, so a confident mistake costs about 34.5, not infinity. */
export const LOG_LOSS_EPS = 1e-15;

export interface LabelledBins {
  /** Labelled positives and negatives per bin. */
  readonly positives: number[];
  readonly negatives: number[];
  /** Σ score per bin (labelled predictions): the reliability diagram's mean score. */
  readonly scoreSums: number[];
  /** Σ −[y·ln p + (1 − y)·ln(1 − p)] over labelled predictions (p clipped by LOG_LOSS_EPS). */
  logLossSum: number;
  /** Σ (p − y)² over labelled predictions. */
  brierSum: number;
}

export function emptyLabelledBins(): LabelledBins {
  const zeros = (): number[] => new Array<number>(LABELLED_BINS).fill(0);
  return { positives: zeros(), negatives: zeros(), scoreSums: zeros(), logLossSum: 0, brierSum: 0 };
}

/** The fine bin of a score in [0, 1]: floor(score · 100), 1 in the top bin. */
export function labelledBin(score: number): number {
  if (!(score >= 0 && score <= 1)) throw new RangeError(`a score must be a number from 0 to 1, got ${score}`);
  return Math.min(LABELLED_BINS - 1, Math.floor(score * LABELLED_BINS));
}

/** Adds one labelled prediction. */
export function addLabelled(b: LabelledBins, score: number, label: boolean): void {
  const i = labelledBin(score);
  if (label) b.positives[i]! += 1;
  else b.negatives[i]! += 1;
  b.scoreSums[i]! += score;
  const p = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, score));
  b.logLossSum += label ? -Math.log(p) : -Math.log(1 - p);
  b.brierSum += (score - (label ? 1 : 0)) ** 2;
}

/** The bins of two windows together. */
export function mergeLabelled(a: LabelledBins, b: LabelledBins): LabelledBins {
  const sum = (x: readonly number[], y: readonly number[]): number[] => x.map((v, i) => v + y[i]!);
  return { positives: sum(a.positives, b.positives), negatives: sum(a.negatives, b.negatives), scoreSums: sum(a.scoreSums, b.scoreSums), logLossSum: a.logLossSum + b.logLossSum, brierSum: a.brierSum + b.brierSum };
}

export interface ReliabilityBin {
  /** Score range [lower, upper). */
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean score and observed positive share of the bin; null when empty. */
  readonly meanScore: number | null;
  readonly positiveRate: number | null;
}

export interface ThresholdFreeMetrics {
  readonly labelled: number;
  readonly positives: number;
  /** Probability that a positive scores above a negative (ties half); null without both classes. */
  readonly rocAuc: number | null;
  /** Average precision: Σ over thresholds of the recall gained × the precision there; null without a positive. */
  readonly prAuc: number | null;
  readonly logLoss: number | null;
  readonly brier: number | null;
  /** Expected calibration error: Σ over reliability bins of (count / n) · |mean score − positive rate|. */
  readonly expectedCalibrationError: number | null;
  readonly reliability: readonly ReliabilityBin[];
}

export function thresholdFreeMetrics(b: LabelledBins): ThresholdFreeMetrics {
  const P = b.positives.reduce((x, y) => x + y, 0);
  const N = b.negatives.reduce((x, y) => x + y, 0);
  const n = P + N;
  // Mann–Whitney over the bins: a positive beats the negatives of lower bins, ties the negatives of its own.
  let rocAuc: number | null = null;
  if (P > 0 && N > 0) {
    let below = 0;
    let wins = 0;
    for (let i = 0; i < LABELLED_BINS; i++) {
      wins += b.positives[i]! * (below + b.negatives[i]! / 2);
      below += b.negatives[i]!;
    }
    rocAuc = wins / (P * N);
  }
  // Thresholds from the top bin down; tied scores enter together.
  let prAuc: number | null = null;
  if (P > 0) {
    let tp = 0;
    let fp = 0;
    let ap = 0;
    for (let i = LABELLED_BINS - 1; i >= 0; i--) {
      if (b.positives[i]! + b.negatives[i]! === 0) continue;
      tp += b.positives[i]!;
      fp += b.negatives[i]!;
      ap += (b.positives[i]! / P) * (tp / (tp + fp));
    }
    prAuc = ap;
  }
  const per = LABELLED_BINS / RELIABILITY_BINS;
  const reliability: ReliabilityBin[] = [];
  let ece = 0;
  for (let r = 0; r < RELIABILITY_BINS; r++) {
    let count = 0;
    let pos = 0;
    let sum = 0;
    for (let i = r * per; i < (r + 1) * per; i++) {
      count += b.positives[i]! + b.negatives[i]!;
      pos += b.positives[i]!;
      sum += b.scoreSums[i]!;
    }
    const meanScore = count === 0 ? null : sum / count;
    const positiveRate = count === 0 ? null : pos / count;
    if (count > 0) ece += (count / n) * Math.abs(meanScore! - positiveRate!);
    reliability.push({ lower: r / RELIABILITY_BINS, upper: (r + 1) / RELIABILITY_BINS, count, meanScore, positiveRate });
  }
  return {
    labelled: n,
    positives: P,
    rocAuc,
    prAuc,
    logLoss: n === 0 ? null : b.logLossSum / n,
    brier: n === 0 ? null : b.brierSum / n,
    expectedCalibrationError: n === 0 ? null : ece,
    reliability,
  };
}

export interface Interval {
  readonly lower: number;
  readonly upper: number;
}

/**
 * Wilson score interval of a proportion (successes of n trials) at the normal quantile z (1.96: 95%); null for
 * n = 0. Unlike the normal approximation it stays within [0, 1] and is sensible for small n and shares near 0 or 1,
 * as precision over a window of about 100 predictions is.
 */
export function wilsonInterval(successes: number, n: number, z = 1.96): Interval | null {
  if (!(Number.isInteger(successes) && Number.isInteger(n) && successes >= 0 && successes <= n)) throw new RangeError(`wilsonInterval needs integers 0 ≤ successes ≤ n, got ${successes} of ${n}`);
  if (n === 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/**
 * A calibration map fitted on labelled windows: per fine bin, the probability of a positive label given a score in
 * that bin. Fitted by isotonic regression (pool adjacent violators) over the bins holding labelled predictions,
 * each weighted by its count, so the map never decreases with the score and needs no parameter; a bin without a
 * labelled prediction takes the value of the nearest labelled bin below it (above it, below the first). The inputs
 * are counts per fine bin, which add across windows: the map of several windows is fitted on their summed counts.
 */
export interface Calibration {
  /** P(label | score in bin i), i = 0 … LABELLED_BINS − 1. */
  readonly probability: readonly number[];
  /** Labelled predictions it was fitted on. */
  readonly labelled: number;
}

export function fitCalibration(positives: readonly number[], negatives: readonly number[]): Calibration | null {
  if (positives.length !== LABELLED_BINS || negatives.length !== LABELLED_BINS) throw new RangeError(`calibration needs ${LABELLED_BINS} bins of positives and negatives, got ${positives.length} and ${negatives.length}`);
  // Blocks of adjacent labelled bins: [first bin, last bin, weight, mean label]; merged while one falls below the one before.
  const blocks: Array<{ from: number; to: number; weight: number; mean: number }> = [];
  for (let i = 0; i < LABELLED_BINS; i++) {
    const w = positives[i]! + negatives[i]!;
    if (w <= 0) continue;
    blocks.push({ from: i, to: i, weight: w, mean: positives[i]! / w });
    while (blocks.length > 1 && blocks[blocks.length - 2]!.mean >= blocks[blocks.length - 1]!.mean) {
      const b = blocks.pop()!;
      const a = blocks[blocks.length - 1]!;
      const weight = a.weight + b.weight;
      blocks[blocks.length - 1] = { from: a.from, to: b.to, weight, mean: (a.mean * a.weight + b.mean * b.weight) / weight };
    }
  }
  if (blocks.length === 0) return null;
  const probability = new Array<number>(LABELLED_BINS).fill(blocks[0]!.mean);
  for (const b of blocks) for (let i = b.from; i < LABELLED_BINS; i++) probability[i] = b.mean;
  return { probability, labelled: blocks.reduce((s, b) => s + b.weight, 0) };
}

/**
 * The confidence-based estimate of a window's precision, recall and ROC AUC before its labels (NannyML's CBPE), from
 * its predictions per fine bin and a calibration map: a prediction in bin i is positive with probability p_i, so the
 * expected true positives are Σ p_i over the positive predictions, the expected positive labels Σ p_i over all, and
 * the ROC AUC that of bins holding n_i·p_i positives and n_i·(1 − p_i) negatives (ties half, each prediction with
 * itself included). `positivePredictions` are the window's predictions at or above the threshold: the top ones by
 * score, so every bin but the one holding the threshold is wholly positive or wholly negative, and that one holds
 * the rest (no threshold needed).
 */
export function calibratedEstimate(predictionsPerBin: readonly number[], positivePredictions: number, calibration: Calibration): { precision: number | null; recall: number | null; rocAuc: number | null } {
  const p = calibration.probability;
  let left = positivePredictions;
  let expectedTruePositives = 0;
  let expectedPositives = 0;
  let expectedNegatives = 0;
  let wins = 0;
  let negativesBelow = 0;
  // From the top bin down: the positive predictions are the highest scores.
  const positives = new Array<number>(LABELLED_BINS).fill(0);
  for (let i = LABELLED_BINS - 1; i >= 0; i--) {
    const flagged = Math.min(left, predictionsPerBin[i]!);
    left -= flagged;
    expectedTruePositives += flagged * p[i]!;
    positives[i] = predictionsPerBin[i]! * p[i]!;
  }
  for (let i = 0; i < LABELLED_BINS; i++) {
    const neg = predictionsPerBin[i]! * (1 - p[i]!);
    wins += positives[i]! * (negativesBelow + neg / 2);
    negativesBelow += neg;
    expectedPositives += positives[i]!;
    expectedNegatives += neg;
  }
  return {
    precision: positivePredictions === 0 ? null : expectedTruePositives / positivePredictions,
    recall: expectedPositives === 0 ? null : expectedTruePositives / expectedPositives,
    rocAuc: expectedPositives === 0 || expectedNegatives === 0 ? null : wins / (expectedPositives * expectedNegatives),
  };
}
