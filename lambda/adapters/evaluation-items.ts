/**
 * Layout of the predictions table (contract PREDICTIONS_TABLE), shared by the scoring side (the feature consumer)
 * and the evaluation side (the labels consumer). Three kinds of item:
 *
 * - a prediction: pk `prediction#<key length>:<key>/<eventId>`, sk `p` (see predictionRef). Written once (conditional on not existing) after the key's
 *   state; a label joins it by setting `label`, `labelTime` and `labeledBy` (the label record's
 *   `<shard>/<sequence>`), conditional on no label or the same `labeledBy` (a retry of the same label).
 * - an evaluation window: pk `evaluation#<windowStart>`, sk `w`. Counts, each added once per source record:
 *   every update carries a checkpoint per source shard (`pck:<shard>` for predictions, `lck:<shard>` for labels)
 *   and is conditional on the checkpoint read before it, so a re-delivered record is never counted twice.
 * - the registry: pk `evaluation#registry`, sk `r`: the open windows (a number set), the labels clock and the
 *   reference window.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type StoredPrediction, predictionRef } from '../core/label-join';
import { type Item, batchGetAll, numberOf } from './dynamo-io';

export const PREDICTION_SK = 'p';
export const WINDOW_SK = 'w';
export const REGISTRY_PK = 'evaluation#registry';
export const REGISTRY_SK = 'r';

export const predictionPk = (key: string, eventId: string): string => `prediction#${predictionRef(key, eventId)}`;
export const windowPk = (windowStart: number): string => `evaluation#${windowStart}`;

/** Prediction item attributes. */
export const PredictionAttr = {
  /** The prediction as written to the predictions stream (JSON text). */
  doc: 'doc',
  score: 'score',
  /** score ≥ the model's threshold. */
  positive: 'positive',
  eventTime: 'eventTime',
  /** Start of its evaluation window. */
  window: 'window',
  modelVersion: 'modelVersion',
  label: 'label',
  labelTime: 'labelTime',
  labeledBy: 'labeledBy',
} as const;

/** Evaluation window attributes (numbers unless said). */
export const WindowAttr = {
  /** Predictions in the window. */
  predictions: 'n',
  /** Positive predictions. */
  positives: 'pos',
  /** Score bin counts: `s0` … `s9` (bins of SCORE_BINS). */
  scoreBin: (i: number): string => `s${i}`,
  /** Labels joined: positive label and positive prediction (tp), positive label and negative prediction (fn). */
  truePositives: 'tp',
  falseNegatives: 'fn',
  /** Negative labels on positive (fpl) and negative (tnl) predictions. */
  labeledFalsePositives: 'fpl',
  labeledTrueNegatives: 'tnl',
  /** Label delay histogram bin counts: `d<i>` (see labelDelayBin). */
  delayBin: (i: number): string => `d${i}`,
  /** Threshold-free measures' bins (label-join.ts WindowCounts), each attribute only once non-zero: predictions per fine bin `f<i>`, Σ score per reliability bin `fs<r>`, Σ −ln(1 − p) `fnl`, Σ p² `fsq`. */
  fineBin: (i: number): string => `f${i}`,
  fineScoreSum: (r: number): string => `fs${r}`,
  fineNegativeLogLoss: 'fnl',
  fineSquares: 'fsq',
  /** Σ score of the positive predictions `pss` (the estimate before labels). */
  positiveScoreSum: 'pss',
  /** A feature's values per featureValueBin: `v:<feature>:<bin>`. */
  featureBin: (feature: string, bin: number): string => `v:${feature}:${bin}`,
  /** Joined labels: positives `lp<i>` and negatives `ln<i>` per fine bin, Σ score `ls<r>`, Σ log loss `lll`, Σ squared error `lse`, Σ −ln(1 − p) `lnl`, Σ p² `lsq`. */
  labelPositiveBin: (i: number): string => `lp${i}`,
  labelNegativeBin: (i: number): string => `ln${i}`,
  labelScoreSum: (r: number): string => `ls${r}`,
  labelLogLoss: 'lll',
  labelSquaredError: 'lse',
  labelNegativeLogLoss: 'lnl',
  labelSquares: 'lsq',
  /** Checkpoint of a predictions source shard: the highest sequence number counted (padded, string). */
  predictionCheckpoint: (shard: string): string => `pck:${shard}`,
  /** Checkpoint of a labels source shard. */
  labelCheckpoint: (shard: string): string => `lck:${shard}`,
  /** Set (true) once the window's final score metrics (PSI, positive rate) were emitted. */
  closed: 'closed',
  /** The estimate before labels published with the final score figures (the realized figures are published beside it): precision `ep`, recall `er`, ROC AUC `ea`, and the labelled predictions of the calibration it used `ec`. */
  estimatedPrecision: 'ep',
  estimatedRecall: 'er',
  estimatedRocAuc: 'ea',
  estimatedCalibratedOn: 'ec',
  /** Set (true) once its provisional score metrics were emitted. */
  provisional: 'prov',
  /** Set (true) once the label window passed and its precision and recall were emitted; later labels are late. */
  final: 'final',
} as const;

/**
 * The calibration of the estimate before labels: the labelled predictions of every final window, per fine bin,
 * added once per window as it becomes final (windows become final in the order of their start, so `through`, the
 * last window added, says which are in).
 */
export const CALIBRATION_PK = 'evaluation#calibration';
export const CALIBRATION_SK = 'c';
export const CalibrationAttr = {
  /** Labelled positives `cp<i>` and negatives `cn<i>` per fine bin (only non-zero ones). */
  positiveBin: (i: number): string => `cp${i}`,
  negativeBin: (i: number): string => `cn${i}`,
  /** Start of the last final window added. */
  through: 'through',
  /** Final windows added. */
  windows: 'windows',
} as const;

/** Registry attributes. */
export const RegistryAttr = {
  /** Number set of the windows with predictions that are not final yet. */
  open: 'open',
  /** Highest label time seen: the evaluation clock (a window is final once it reaches end + labelWindowMs). */
  clock: 'clock',
  /** Start of the reference window. */
  reference: 'reference',
  /** Every open window ending at or before it has been closed (or came too late to be): not read again to close. */
  closedThrough: 'closedThrough',
  /** The same for the provisional stage. */
  provisionalThrough: 'provisionalThrough',
  /** String set of the source shards that counted a prediction (their watermarks gate closing). */
  shards: 'shards',
} as const;

/** Sequence numbers padded to one width, so DynamoDB's string order is their numeric order. */
export const padSequence = (seq: string): string => seq.padStart(64, '0');

/** The stored predictions of those (key, event id) pairs that have one, by predictionRef (consistent reads). */
export async function readPredictions(client: DynamoDBClient, table: string, refs: ReadonlyArray<{ readonly key: string; readonly eventId: string }>): Promise<Map<string, StoredPrediction>> {
  const out = new Map<string, StoredPrediction>();
  const unique = new Map(refs.map((r) => [predictionRef(r.key, r.eventId), r]));
  if (unique.size === 0) return out;
  const items = await batchGetAll(client, table, [...unique.values()].map((r) => ({ pk: { S: predictionPk(r.key, r.eventId) }, sk: { S: PREDICTION_SK } })));
  for (const it of items) {
    const p = predictionOf(it);
    out.set(predictionRef(p.key, p.eventId), p);
  }
  return out;
}

function predictionOf(it: Item): StoredPrediction {
  const num = (name: string): number => numberOf(it[name]) ?? 0;
  const label = it[PredictionAttr.label]?.BOOL;
  const labelTime = numberOf(it[PredictionAttr.labelTime]);
  const labeledBy = it[PredictionAttr.labeledBy]?.S;
  return {
    ...docFields(it[PredictionAttr.doc]?.S),
    modelVersion: it[PredictionAttr.modelVersion]?.S ?? '',
    eventTime: num(PredictionAttr.eventTime),
    window: num(PredictionAttr.window),
    score: num(PredictionAttr.score),
    positive: it[PredictionAttr.positive]?.BOOL === true,
    ...(label === undefined ? {} : { label }),
    ...(labelTime === null ? {} : { labelTime }),
    ...(labeledBy === undefined ? {} : { labeledBy }),
  };
}

/**
 * The prediction's key, event id and feature values, from its document (the item keeps no attributes of their own
 * for them): a retry counts a stored prediction's features as its first delivery did.
 */
function docFields(doc: string | undefined): { key: string; eventId: string; features?: Record<string, number | null> } {
  try {
    const d = JSON.parse(doc ?? '{}') as { key?: unknown; eventId?: unknown; features?: Record<string, { value?: unknown }> };
    const features: Record<string, number | null> = {};
    for (const [name, f] of Object.entries(d.features ?? {})) features[name] = typeof f?.value === 'number' ? f.value : null;
    return { key: typeof d.key === 'string' ? d.key : '', eventId: typeof d.eventId === 'string' ? d.eventId : '', features };
  } catch {
    return { key: '', eventId: '' };
  }
}
