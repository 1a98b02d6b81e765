/**
 * Streaming model evaluation's measures over one evaluation window: the confusion counts of thresholded scores
 * against labels, and the population stability index of the score distribution against a reference window.
 */

export interface LabeledScore {
  readonly score: number;
  readonly label: boolean;
}

export interface Confusion {
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly trueNegatives: number;
  /** TP / (TP + FP); null without a positive prediction. */
  readonly precision: number | null;
  /** TP / (TP + FN); null without a positive label. */
  readonly recall: number | null;
  /** Share of predictions that are positive; null without predictions. */
  readonly positiveRate: number | null;
}

export function confusion(rows: readonly LabeledScore[], threshold: number): Confusion {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const r of rows) {
    const positive = r.score >= threshold;
    if (positive && r.label) tp++;
    else if (positive) fp++;
    else if (r.label) fn++;
    else tn++;
  }
  const n = tp + fp + fn + tn;
  return {
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    trueNegatives: tn,
    precision: tp + fp === 0 ? null : tp / (tp + fp),
    recall: tp + fn === 0 ? null : tp / (tp + fn),
    positiveRate: n === 0 ? null : (tp + fp) / n,
  };
}

/** Ten equal bins over [0, 1], the usual fixed bins for scores. */
export const SCORE_BINS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** Index of the bin a score falls in (`edges` are the inner bin edges, ascending; a score equal to an edge goes above it). */
export function scoreBin(score: number, edges: readonly number[] = SCORE_BINS): number {
  let b = 0;
  while (b < edges.length && score >= edges[b]!) b++;
  return b;
}

/** Count of scores per bin. */
export function binCounts(scores: readonly number[], edges: readonly number[] = SCORE_BINS): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const s of scores) counts[scoreBin(s, edges)]! += 1;
  return counts;
}

/** Share of scores per bin. */
export function binShares(scores: readonly number[], edges: readonly number[] = SCORE_BINS): number[] {
  return sharesOf(binCounts(scores, edges));
}

function sharesOf(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}

/**
 * Population stability index: Σ (cur − ref) · ln(cur / ref) over the bins. An empty bin on either side counts
 * as `floor` (0.0001) so the index stays finite. Rule of thumb: below 0.1 stable, above 0.2 shifted.
 */
export function populationStabilityIndex(reference: readonly number[], current: readonly number[], edges: readonly number[] = SCORE_BINS, floor = 1e-4): number {
  return psiOfShares(binShares(reference, edges), binShares(current, edges), floor);
}

/**
 * The same index from two windows' bin counts (what the evaluation windows store instead of their scores); null
 * when either window has no score, where the index means nothing.
 */
export function populationStabilityIndexOfCounts(reference: readonly number[], current: readonly number[], floor = 1e-4): number | null {
  if (reference.length !== current.length) throw new RangeError(`bin counts differ in length: ${reference.length} and ${current.length}`);
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  if (sum(reference) === 0 || sum(current) === 0) return null;
  return psiOfShares(sharesOf(reference), sharesOf(current), floor);
}

function psiOfShares(ref: readonly number[], cur: readonly number[], floor: number): number {
  let psi = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.max(ref[i]!, floor);
    const c = Math.max(cur[i]!, floor);
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

/**
 * Bins of a feature's served values for its drift (PSI per feature): no value, negative, zero, (0, 1), then powers
 * of two [1, 2), [2, 4), … [256, 512) and 512 or more. Fixed, so windows' counts add up and compare with no
 * reference fitted first; counts and sums (the usual features) spread over them on a log scale.
 */
export const FEATURE_VALUE_BINS = 14;

export function featureValueBin(v: number | null): number {
  if (v === null || Number.isNaN(v)) return 0;
  if (v < 0) return 1;
  if (v === 0) return 2;
  if (v < 1) return 3;
  return 4 + Math.min(9, Math.floor(Math.log2(v)));
}
