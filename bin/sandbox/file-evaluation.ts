/**
 * Scoring and evaluation in a file run (`npm start -- --config SPEC --input FILE --out DIR [--labels LABELS]`), when
 * the spec has a scoring section: the predictions the consumer stored, one line each in DIR/predictions.jsonl,
 * and per evaluation window its score figures and, with labels, its measures in DIR/evaluation.jsonl. Labels are
 * label records as the labels stream carries them (docs/evaluation.md), one per line, put on the labels stream in
 * file order once the records are done; the labels consumer's dead letters go to DIR/rejected-labels.jsonl.
 */
import type { StoredWindow } from '../../lambda/adapters/evaluation-store';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import { type EstimatedPerformance, calibrationCounts, estimatedPerformance, featureEmptyShare, featurePsi, windowMetrics } from '../../lambda/core/label-join';
import { LABELLED_BINS, fitCalibration } from '../../lambda/core/score-metrics';
import { parseEventTime } from '../../lambda/core/record';
import type { Prediction } from '../../lambda/core/scoring';
import type { EvaluationSpec } from '../../lambda/core/spec';
import { readLines } from '../cli/lines';

export const PREDICTIONS_FILE = 'predictions.jsonl';
export const EVALUATION_FILE = 'evaluation.jsonl';
export const REJECTED_LABELS_FILE = 'rejected-labels.jsonl';

/** A prediction as the table holds it, without `scoredAt` (the wall clock: it differs from run to run). */
export type PredictionLine = Omit<Prediction, 'scoredAt'>;

export function predictionLines(predictions: readonly Prediction[]): PredictionLine[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return predictions
    .map(({ predictionId, key, eventId, eventTime, arrivalTime, featuresAt, score, positive, modelVersion, features }) => ({ predictionId, key, eventId, eventTime, arrivalTime, featuresAt, score, positive, modelVersion, features }))
    .sort((a, b) => (a.arrivalTime ?? 0) - (b.arrivalTime ?? 0) || cmp(a.key, b.key) || cmp(a.eventId, b.eventId));
}

/** One evaluation window of a file run: its score figures, and its measures once final (with labels). */
export interface EvaluationLine {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly predictions: number;
  readonly positives: number;
  readonly positiveRate: number | null;
  /** PSI against the reference window (null when either has no prediction). */
  readonly psi: number | null;
  readonly reference: number | null;
  /** PSI of each feature's values against the reference window's. */
  readonly featurePsi: Readonly<Record<string, number | null>>;
  /** Each feature's share of the window's predictions that read it with no value. */
  readonly featureEmptyShare: Readonly<Record<string, number | null>>;
  /**
   * Precision, recall and ROC AUC estimated before labels, as the window published them when it closed (with the
   * calibration of the windows final by then; estimateCalibratedOn 0: none, the scores taken as probabilities).
   */
  readonly estimatedPrecision: number | null;
  readonly estimatedRecall: number | null;
  readonly estimatedRocAuc: number | null;
  readonly estimateCalibratedOn: number;
  /**
   * The estimate with the calibration fitted on the run's final windows before this one (by start): what it would
   * have published had their labels been final when it closed (in a file run labels come after every record, so
   * the published estimate has no calibration). Null without an earlier final window.
   */
  readonly estimatedOnEarlierWindows: EstimatedPerformance | null;
  /** Final measures (docs/evaluation.md, Metrics); absent without labels. */
  readonly final?: ReturnType<typeof windowMetrics>;
}

/** The windows' lines from what the evaluation stored (counts, flags), the file run's read-back. */
export function evaluationLines(windows: readonly StoredWindow[], reference: number | null, ev: EvaluationSpec, psiOf: (ref: StoredWindow | undefined, w: StoredWindow) => number | null): EvaluationLine[] {
  const ref = windows.find((w) => w.windowStart === reference);
  const positives = new Array<number>(LABELLED_BINS).fill(0);
  const negatives = new Array<number>(LABELLED_BINS).fill(0);
  const earlier = new Map<number, EstimatedPerformance | null>();
  for (const w of [...windows].sort((a, b) => a.windowStart - b.windowStart)) {
    const calibration = fitCalibration(positives, negatives);
    earlier.set(w.windowStart, calibration === null ? null : estimatedPerformance(w.counts, calibration));
    if (!w.final) continue;
    const add = calibrationCounts(w.counts, ev.unlabeled);
    add.positives.forEach((n, i) => (positives[i]! += n));
    add.negatives.forEach((n, i) => (negatives[i]! += n));
  }
  return windows.map((w) => ({
    windowStart: w.windowStart,
    windowEnd: w.windowStart + ev.windowMs,
    predictions: w.counts.predictions,
    positives: w.counts.positives,
    positiveRate: w.counts.predictions === 0 ? null : w.counts.positives / w.counts.predictions,
    psi: psiOf(ref, w),
    reference,
    featurePsi: featurePsi(ref?.counts, w.counts),
    featureEmptyShare: featureEmptyShare(w.counts),
    ...published(w.estimated ?? estimatedPerformance(w.counts)),
    estimatedOnEarlierWindows: earlier.get(w.windowStart) ?? null,
    ...(w.final ? { final: windowMetrics(w.counts, ev.unlabeled) } : {}),
  }));
}

function published(e: EstimatedPerformance): Pick<EvaluationLine, 'estimatedPrecision' | 'estimatedRecall' | 'estimatedRocAuc' | 'estimateCalibratedOn'> {
  return { estimatedPrecision: e.precision, estimatedRecall: e.recall, estimatedRocAuc: e.rocAuc, estimateCalibratedOn: e.calibratedOn };
}

/** A labels file line that cannot be put: not JSON, or not an object. */
export class LabelsLineError extends Error {
  public constructor(
    public readonly line: number,
    detail: string,
  ) {
    super(`--labels line ${line}: ${detail}`);
    this.name = 'LabelsLineError';
  }
}

export interface LabelLine {
  readonly line: number;
  /** The label record as put on the labels stream. */
  readonly data: string;
  /** Its partition key: the label's key (the labels consumer judges a missing one). */
  readonly partitionKey: string;
  /** Arrival on the labels stream: the label time when it has one, so no label is judged `future`. */
  readonly arrivalTime: number | undefined;
}

/**
 * The labels file's lines, checked before anything is put: each non-blank line a JSON object (its fields are the
 * labels consumer's to judge: a bad one is dead-lettered as the stream's would be).
 */
export async function readLabelsFile(path: string): Promise<LabelLine[]> {
  const out: LabelLine[] = [];
  let line = 0;
  for await (const text of readLines(path)) {
    line += 1;
    if (text.trim() === '') continue;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new LabelsLineError(line, `not JSON: ${(e as Error).message}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new LabelsLineError(line, `a label must be a JSON object, got ${Array.isArray(doc) ? 'an array' : String(doc === null ? 'null' : typeof doc)}`);
    const o = doc as Record<string, unknown>;
    const key = typeof o.key === 'string' && o.key !== '' ? o.key : typeof o.key === 'number' ? String(o.key) : '__no_key__';
    out.push({ line, data: text, partitionKey: key.slice(0, 256), arrivalTime: parseEventTime(o.labelTime) });
  }
  return out;
}

/** A labels consumer dead letter, with the labels file line of its record. */
export interface RejectedLabelLine {
  readonly line: number;
  readonly reason: string;
  readonly message: string;
  readonly data: string;
}

export function rejectedLabelLine(m: DeadLetterMessage, line: number): RejectedLabelLine {
  const data = m.payloadEncoding === 'base64' ? Buffer.from(m.payload, 'base64').toString('utf8') : m.payload;
  return { line, reason: m.reason, message: m.message, data };
}
