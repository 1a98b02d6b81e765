/**
 * Streaming evaluation, pure: labels that arrive hours to weeks after their prediction are parsed, judged against
 * the prediction they name, counted once into the prediction's evaluation window, and each window's measures are
 * computed from its counts once its label window has passed (docs/evaluation.md).
 *
 * Verdicts are judged label by label in stream order, against the evaluation clock as it stood just before the
 * label (the highest label time seen), so a batch cut anywhere judges every label the same way.
 */
import { FEATURE_VALUE_BINS, SCORE_BINS, featureValueBin, populationStabilityIndexOfCounts } from './evaluation';
import { type Calibration, type Interval, LABELLED_BINS, LOG_LOSS_EPS, type LabelledBins, RELIABILITY_BINS, type ThresholdFreeMetrics, calibratedEstimate, emptyLabelledBins, labelledBin, thresholdFreeMetrics, wilsonInterval } from './score-metrics';
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_ID_BYTES, MAX_KEY_BYTES, parseEventTime } from './record';
import { type EvaluationSpec, type PipelineSpec, type UnlabeledPolicy, correctionHorizonMs, longestWindowMs } from './spec';
import { compareSeq } from './state';

/** A label more than this ahead of its arrival is `future` when the spec sets no watermark.maxFutureSkewMs. */
export const DEFAULT_LABEL_FUTURE_SKEW_MS = 5 * 60_000;
/** Longest event id, in UTF-8 bytes: the records' own limit (record.ts). */
export const MAX_EVENT_ID_BYTES = MAX_ID_BYTES;
/** Model versions as the scoring side writes them into prediction ids. */
const MODEL_VERSION = /^[A-Za-z0-9._-]+$/;

/** Start of the tumbling evaluation window holding an event time. */
export function evaluationWindowStart(eventTime: number, windowMs: number): number {
  return Math.floor(eventTime / windowMs) * windowMs;
}

/** Event time (the label clock's) at which a window becomes final: its end plus the label window. */
export function windowFinalAt(windowStart: number, ev: Pick<EvaluationSpec, 'windowMs' | 'labelWindowMs'>): number {
  return windowStart + ev.windowMs + ev.labelWindowMs;
}

/**
 * How far past an evaluation window's end every shard's watermark must be before no record of the window can be
 * applied (and scored) anymore: a record at t < end is applied while a window holding it is not final, and the
 * last such window ends before end + the longest window (a session: its gap); under latePolicy "update" it is
 * still corrected for the correction horizon beyond. A global window is never final, so it bounds nothing: a
 * record of a closed window that only a global feature takes is still scored (docs/evaluation.md, Limits).
 */
export function evaluationCloseLagMs(spec: Pick<PipelineSpec, 'features' | 'latePolicy' | 'correctionHorizonMs'>): number {
  return longestWindowMs(spec) + correctionHorizonMs(spec);
}

// ---- parsing --------------------------------------------------------------------------------------------------

export interface Label {
  /** The prediction's event id: the item it names. */
  readonly eventId: string;
  /** Model version from predictionId; undefined when the label named the event only. */
  readonly modelVersion: string | undefined;
  readonly key: string;
  readonly label: boolean;
  /** Epoch ms. */
  readonly labelTime: number;
}

export type LabelRejectReason = 'invalid' | 'future';

export type ParsedLabel =
  | { readonly ok: true; readonly label: Label }
  | {
      readonly ok: false;
      readonly reason: LabelRejectReason;
      /** The field at fault (`payload` when the record is not a JSON object). */
      readonly field: string;
      readonly message: string;
      readonly key?: string;
      readonly labelTime?: number;
    };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function own(o: Record<string, unknown>, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `the string "${v.slice(0, 40)}…"` : `the string "${v}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A string or finite number as text; the reason otherwise. */
function idText(v: unknown, field: string, maxBytes: number): string | { problem: string } {
  let s: string;
  if (typeof v === 'string' && v.length > 0) s = v;
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return { problem: `${field} must be a non-empty string or a finite number, got ${describe(v)}` };
  if (!s.isWellFormed()) return { problem: `${field} must be Unicode text, got a string holding a lone UTF-16 surrogate` };
  const bytes = s.length * 3 <= maxBytes ? 0 : Buffer.byteLength(s, 'utf8');
  if (bytes > maxBytes) return { problem: `${field} must be at most ${maxBytes} bytes of UTF-8, got ${bytes} bytes` };
  return s;
}

/**
 * One label record: `{"predictionId"?, "eventId"?, "key", "label": true|false|1|0, "labelTime": epoch ms or
 * ISO-8601}` with predictionId or eventId. A rejection names the field at fault: `invalid` for a bad or missing
 * field, `future` for a label time more than watermark.maxFutureSkewMs (default 5 minutes) ahead of its arrival.
 */
export function parseLabel(payload: string | Uint8Array, arrivalTime: number | undefined, spec: Pick<PipelineSpec, 'watermark'>): ParsedLabel {
  const bad = (field: string, message: string, extra: { key?: string; labelTime?: number } = {}): ParsedLabel => ({ ok: false, reason: 'invalid', field, message, ...extra });
  const size = typeof payload !== 'string' ? payload.byteLength : payload.length * 3 <= DEFAULT_MAX_PAYLOAD_BYTES ? 0 : Buffer.byteLength(payload, 'utf8');
  if (size > DEFAULT_MAX_PAYLOAD_BYTES) return bad('payload', `payload is ${size} bytes, over the ${DEFAULT_MAX_PAYLOAD_BYTES}-byte limit`);
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : utf8.decode(payload);
  } catch {
    return bad('payload', 'payload is not valid UTF-8');
  }
  if (!text.isWellFormed()) return bad('payload', 'payload is not valid UTF-8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return bad('payload', `payload is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return bad('payload', `payload must be a JSON object, got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}`);
  }
  const o = doc as Record<string, unknown>;

  const rawKey = own(o, 'key');
  const key = rawKey === undefined ? { problem: 'key is missing' } : idText(rawKey, 'key', MAX_KEY_BYTES);
  if (typeof key !== 'string') return bad('key', key.problem);

  const rawPrediction = own(o, 'predictionId');
  const rawEvent = own(o, 'eventId');
  if (rawPrediction === undefined && rawEvent === undefined) return bad('predictionId', 'predictionId or eventId is required', { key });
  let modelVersion: string | undefined;
  let eventId: string | undefined;
  if (rawPrediction !== undefined) {
    const p = idText(rawPrediction, 'predictionId', MAX_EVENT_ID_BYTES + 200);
    if (typeof p !== 'string') return bad('predictionId', p.problem, { key });
    const colon = p.indexOf(':');
    const version = colon < 0 ? '' : p.slice(0, colon);
    if (!MODEL_VERSION.test(version) || colon === p.length - 1) {
      return bad('predictionId', `predictionId must be "<model version>:<event id>" (model version of letters, digits, dot, underscore, hyphen), got ${describe(p)}`, { key });
    }
    modelVersion = version;
    eventId = p.slice(colon + 1);
  }
  if (rawEvent !== undefined) {
    const e = idText(rawEvent, 'eventId', MAX_EVENT_ID_BYTES);
    if (typeof e !== 'string') return bad('eventId', e.problem, { key });
    if (eventId !== undefined && eventId !== e) return bad('eventId', `eventId "${e}" differs from the event of predictionId "${eventId}"`, { key });
    eventId = e;
  }
  if (Buffer.byteLength(eventId!, 'utf8') > MAX_EVENT_ID_BYTES) return bad('predictionId', `the event id of predictionId must be at most ${MAX_EVENT_ID_BYTES} bytes of UTF-8`, { key });

  const rawLabel = own(o, 'label');
  let label: boolean;
  if (rawLabel === true || rawLabel === 1) label = true;
  else if (rawLabel === false || rawLabel === 0) label = false;
  else return bad('label', rawLabel === undefined ? 'label is missing' : `label must be true, false, 1 or 0, got ${describe(rawLabel)}`, { key });

  const rawTime = own(o, 'labelTime');
  const labelTime = parseEventTime(rawTime);
  if (labelTime === undefined) {
    return bad('labelTime', rawTime === undefined ? 'labelTime is missing' : `labelTime must be epoch milliseconds or an ISO-8601 date-time within ±8.64e15 ms, got ${describe(rawTime)}`, { key });
  }
  const skew = spec.watermark.maxFutureSkewMs ?? DEFAULT_LABEL_FUTURE_SKEW_MS;
  if (arrivalTime !== undefined && labelTime > arrivalTime + skew) {
    return { ok: false, reason: 'future', field: 'labelTime', message: `labelTime ${labelTime} is ${labelTime - arrivalTime} ms ahead of its arrival at ${arrivalTime}, more than the ${skew} ms allowed`, key, labelTime };
  }
  return { ok: true, label: { eventId: eventId!, modelVersion, key, label, labelTime } };
}

// ---- the join -------------------------------------------------------------------------------------------------

/**
 * A prediction's identity: its key and event id together. Producer ids need only be unique per key (the engine
 * de-duplicates per key), so two keys may score events of one id; a label names its key, so it finds its own.
 */
export const predictionRef = (key: string, eventId: string): string => `${key.length}:${key}/${eventId}`;

/** A prediction as stored, read by both sides: the labels join and the scoring of a re-delivered record. */
export interface StoredPrediction {
  readonly eventId: string;
  readonly key: string;
  readonly modelVersion: string;
  readonly eventTime: number;
  /** Start of its evaluation window. */
  readonly window: number;
  readonly score: number;
  readonly positive: boolean;
  /** The values of the features the model read (from the prediction's document), for their drift. */
  readonly features?: Readonly<Record<string, number | null>>;
  /** The joined label, when one is. */
  readonly label?: boolean;
  readonly labelTime?: number;
  /** `<labels shard>/<sequence>` of the label record that joined it. */
  readonly labeledBy?: string;
}

export type LabelVerdict = 'joined' | 'duplicate' | 'unmatched' | 'late' | 'conflicting';

export interface VerdictOf {
  readonly verdict: LabelVerdict;
  /** Why, naming the field (for the dead letter and logs). */
  readonly message: string;
  /** The label record had already joined this prediction (a re-delivery): joined again, counted at most once. */
  readonly rejoined: boolean;
}

/** Identity of a label record: where a prediction's `labeledBy` points. */
export const labelRef = (shard: string, seq: string): string => `${shard}/${seq}`;

/**
 * The verdict for one label against its loaded prediction, in this order:
 * unmatched (no prediction, or another key or model version) → joined again (this very record joined it before)
 * → late (labelTime beyond eventTime + labelWindowMs) → duplicate (same value as the label it has) or conflicting
 * (another value) → late (its window final: the clock before this label reached it) → joined. A re-delivered record
 * thus gets the verdict its first delivery got, even when that delivery raised the clock.
 */
export function labelVerdict(label: Label, ref: string, prediction: StoredPrediction | undefined, clockBefore: number | null, windowFinal: boolean, ev: Pick<EvaluationSpec, 'windowMs' | 'labelWindowMs'>): VerdictOf {
  const v = (verdict: LabelVerdict, message: string, rejoined = false): VerdictOf => ({ verdict, message, rejoined });
  if (prediction === undefined) return v('unmatched', `no prediction for eventId "${label.eventId}" of key "${label.key}"`);
  if (prediction.key !== label.key) return v('unmatched', `key "${label.key}" differs from the prediction's key "${prediction.key}"`);
  if (label.modelVersion !== undefined && label.modelVersion !== prediction.modelVersion) {
    return v('unmatched', `predictionId names model version "${label.modelVersion}", the prediction of "${label.eventId}" is by "${prediction.modelVersion}"`);
  }
  if (prediction.labeledBy === ref) return v('joined', 'joined by an earlier delivery of this record', true);
  if (label.labelTime > prediction.eventTime + ev.labelWindowMs) {
    return v('late', `labelTime ${label.labelTime} is ${label.labelTime - prediction.eventTime} ms after the prediction's eventTime ${prediction.eventTime}, beyond labelWindowMs ${ev.labelWindowMs}`);
  }
  if (prediction.label !== undefined) {
    return prediction.label === label.label
      ? v('duplicate', `label ${label.label} repeats the label ${prediction.labeledBy ?? ''} joined`)
      : v('conflicting', `label ${label.label} conflicts with the label ${prediction.label} joined by ${prediction.labeledBy ?? 'an earlier record'}`);
  }
  const finalAt = windowFinalAt(prediction.window, ev);
  if (windowFinal || (clockBefore !== null && clockBefore >= finalAt)) {
    return v('late', `the prediction's evaluation window ${prediction.window} is final (the label clock ${clockBefore ?? '(none)'} reached ${finalAt})`);
  }
  return v('joined', 'joined');
}

export interface LabelRecord {
  readonly shard: string;
  readonly seq: string;
  readonly label: Label;
}

export interface JudgedLabel extends VerdictOf {
  readonly record: LabelRecord;
  /** The prediction as loaded, before this batch (absent for unmatched). */
  readonly prediction: StoredPrediction | undefined;
  /** Evaluation clock just before the label (null before any). */
  readonly clockBefore: number | null;
}

/**
 * Judges a batch's labels in order. `predictions` are the loaded items by event id; `isFinal` says whether a
 * window's item is marked final. A label joined earlier in the batch is seen by the ones after it. Returns each
 * verdict and the clock after the batch (every valid label raises it, whatever its verdict).
 */
export function judgeLabels(
  records: readonly LabelRecord[],
  predictions: ReadonlyMap<string, StoredPrediction>,
  isFinal: (window: number) => boolean,
  clock: number | null,
  ev: Pick<EvaluationSpec, 'windowMs' | 'labelWindowMs'>,
): { judged: JudgedLabel[]; clock: number | null } {
  const seen = new Map<string, StoredPrediction>();
  const judged: JudgedLabel[] = [];
  let c = clock;
  for (const r of records) {
    const loaded = predictions.get(predictionRef(r.label.key, r.label.eventId));
    const p = seen.get(r.label.eventId) ?? loaded;
    const ref = labelRef(r.shard, r.seq);
    const v = labelVerdict(r.label, ref, p, c, p === undefined ? false : isFinal(p.window), ev);
    judged.push({ ...v, record: r, prediction: p, clockBefore: c });
    if (v.verdict === 'joined' && p !== undefined && !v.rejoined) seen.set(r.label.eventId, { ...p, label: r.label.label, labelTime: r.label.labelTime, labeledBy: ref });
    if (c === null || r.label.labelTime > c) c = r.label.labelTime;
  }
  return { judged, clock: c };
}

// ---- window counts --------------------------------------------------------------------------------------------

export interface WindowCounts {
  /** Predictions in the window, positive ones, and their scores per bin of SCORE_BINS. */
  predictions: number;
  positives: number;
  scoreBins: number[];
  /**
   * For the threshold-free measures (score-metrics.ts), of every prediction: counts per fine bin (LABELLED_BINS),
   * Σ score per reliability bin, and Σ −ln(1 − p) and Σ p², what each would add as a negative label (the
   * `unlabeled: "negative"` policy). Score sums are kept per reliability bin only: that is all the measures read.
   */
  fineBins: number[];
  fineScoreSums: number[];
  fineNegativeLogLoss: number;
  fineSquares: number;
  /** Σ score of the positive predictions: with Σ of all scores, the estimate before labels (estimatedPerformance). */
  positiveScoreSum: number;
  /** Per feature the model read, its values at scoring time per featureValueBin: each feature's drift. */
  featureBins: Record<string, number[]>;
  /**
   * Of the joined labels: positives and negatives per fine bin, Σ score per reliability bin, Σ log loss and Σ
   * squared error by the label, and Σ −ln(1 − p), Σ p² (to take the labelled ones out of the predictions' sums).
   */
  labelPositiveBins: number[];
  labelNegativeBins: number[];
  labelScoreSums: number[];
  labelLogLoss: number;
  labelSquaredError: number;
  labelNegativeLogLoss: number;
  labelSquares: number;
  /** Joined labels by (label, prediction): tp (+,+), fn (+,−), fpl (−,+), tnl (−,−). */
  truePositives: number;
  falseNegatives: number;
  labeledFalsePositives: number;
  labeledTrueNegatives: number;
  /** Label delay histogram (labelDelayBin), dense from bin 0. */
  delayBins: number[];
}

export function emptyCounts(): WindowCounts {
  return {
    predictions: 0,
    positives: 0,
    scoreBins: new Array<number>(SCORE_BINS.length + 1).fill(0),
    fineBins: new Array<number>(LABELLED_BINS).fill(0),
    fineScoreSums: new Array<number>(RELIABILITY_BINS).fill(0),
    fineNegativeLogLoss: 0,
    fineSquares: 0,
    positiveScoreSum: 0,
    featureBins: {},
    labelPositiveBins: new Array<number>(LABELLED_BINS).fill(0),
    labelNegativeBins: new Array<number>(LABELLED_BINS).fill(0),
    labelScoreSums: new Array<number>(RELIABILITY_BINS).fill(0),
    labelLogLoss: 0,
    labelSquaredError: 0,
    labelNegativeLogLoss: 0,
    labelSquares: 0,
    truePositives: 0,
    falseNegatives: 0,
    labeledFalsePositives: 0,
    labeledTrueNegatives: 0,
    delayBins: [],
  };
}

export interface CountedRecord {
  readonly seq: string;
  readonly window: number;
}

export interface WindowDelta {
  readonly window: number;
  readonly counts: WindowCounts;
  /** Records counted. */
  readonly records: number;
  /** The window's new checkpoint for the shard: the highest sequence counted. */
  readonly through: string;
}

/**
 * What a batch adds to each window: records above the window's checkpoint for their shard (`checkpointOf`, '' for
 * none) are counted; records at or below it were counted by an earlier delivery and are not counted again. Only
 * windows with a record to count are returned.
 */
export function windowDeltas<R extends CountedRecord>(records: readonly R[], checkpointOf: (window: number) => string, add: (c: WindowCounts, r: R) => void): WindowDelta[] {
  const out = new Map<number, { counts: WindowCounts; records: number; through: string }>();
  for (const r of records) {
    const cp = checkpointOf(r.window);
    if (cp !== '' && compareSeq(r.seq, cp) <= 0) continue;
    let d = out.get(r.window);
    if (!d) out.set(r.window, (d = { counts: emptyCounts(), records: 0, through: r.seq }));
    add(d.counts, r);
    d.records += 1;
    if (compareSeq(r.seq, d.through) > 0) d.through = r.seq;
  }
  return [...out].map(([window, d]) => ({ window, ...d }));
}

const clipped = (p: number): number => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));
const reliabilityBin = (fine: number): number => Math.floor(fine / (LABELLED_BINS / RELIABILITY_BINS));

/** Adds one prediction. */
export function addPrediction(c: WindowCounts, p: { readonly scoreBin: number; readonly positive: boolean; readonly score: number; readonly features?: Readonly<Record<string, number | null>> }): void {
  for (const [name, v] of Object.entries(p.features ?? {})) {
    const bins = (c.featureBins[name] ??= new Array<number>(FEATURE_VALUE_BINS).fill(0));
    bins[featureValueBin(v)]! += 1;
  }
  c.predictions += 1;
  if (p.positive) c.positives += 1;
  c.scoreBins[p.scoreBin] = (c.scoreBins[p.scoreBin] ?? 0) + 1;
  const fine = labelledBin(p.score);
  c.fineBins[fine]! += 1;
  c.fineScoreSums[reliabilityBin(fine)]! += p.score;
  c.fineNegativeLogLoss += -Math.log(1 - clipped(p.score));
  c.fineSquares += p.score * p.score;
  if (p.positive) c.positiveScoreSum += p.score;
}

/** Adds one joined label (with its prediction's score). */
export function addLabel(c: WindowCounts, j: { readonly label: boolean; readonly positive: boolean; readonly delayMs: number; readonly score: number }): void {
  if (j.label && j.positive) c.truePositives += 1;
  else if (j.label) c.falseNegatives += 1;
  else if (j.positive) c.labeledFalsePositives += 1;
  else c.labeledTrueNegatives += 1;
  const fine = labelledBin(j.score);
  if (j.label) c.labelPositiveBins[fine]! += 1;
  else c.labelNegativeBins[fine]! += 1;
  c.labelScoreSums[reliabilityBin(fine)]! += j.score;
  const p = clipped(j.score);
  c.labelLogLoss += j.label ? -Math.log(p) : -Math.log(1 - p);
  c.labelSquaredError += (j.score - (j.label ? 1 : 0)) ** 2;
  c.labelNegativeLogLoss += -Math.log(1 - p);
  c.labelSquares += j.score * j.score;
  const b = labelDelayBin(j.delayMs);
  while (c.delayBins.length <= b) c.delayBins.push(0);
  c.delayBins[b]! += 1;
}

// ---- label delay ----------------------------------------------------------------------------------------------

/** Highest delay bin: 2^(200/4) s is far beyond any label window. */
export const MAX_DELAY_BIN = 200;

/** Upper edge of delay bin i: 2^(i/4) seconds, in ms. */
export function delayBinUpperMs(i: number): number {
  return 1000 * 2 ** (i / 4);
}

/**
 * Bin of a label delay (label time − prediction event time): the smallest i with delay ≤ 2^(i/4) s; bin 0 holds
 * every delay up to one second (and labels stamped before their event). Reading a bin as its upper edge
 * overstates a delay by less than 2^(1/4) − 1, 19%.
 */
export function labelDelayBin(delayMs: number): number {
  if (!(delayMs > 1000)) return 0;
  let i = Math.min(MAX_DELAY_BIN, Math.max(0, Math.ceil(4 * Math.log2(delayMs / 1000))));
  while (i < MAX_DELAY_BIN && delayBinUpperMs(i) < delayMs) i++;
  while (i > 0 && delayBinUpperMs(i - 1) >= delayMs) i--;
  return i;
}

/** The q-quantile (nearest rank) of a delay histogram, as its bin's upper edge in ms; null when empty. */
export function delayQuantileMs(bins: readonly number[], q: number): number | null {
  const total = bins.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let cum = 0;
  for (let i = 0; i < bins.length; i++) {
    cum += bins[i]!;
    if (cum >= rank) return delayBinUpperMs(i);
  }
  return delayBinUpperMs(bins.length - 1);
}

// ---- measures -------------------------------------------------------------------------------------------------

export interface WindowMetrics {
  /** Predictions counted in the window. */
  readonly predictions: number;
  /**
   * Threshold-free measures over the window's labelled score bins (score-metrics.ts), under the unlabeled policy:
   * with "negative" every prediction counts, an unlabeled one as a negative label; with "unknown" the labelled ones.
   */
  readonly thresholdFree: ThresholdFreeMetrics;
  /** 95% Wilson intervals of precision (TP of TP + FP) and recall (TP of TP + FN); null where those are. */
  readonly precisionInterval: Interval | null;
  readonly recallInterval: Interval | null;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly trueNegatives: number;
  /** Labels joined. */
  readonly labeled: number;
  /** TP / (TP + FP); null without a positive prediction counted. */
  readonly precision: number | null;
  /** TP / (TP + FN); null without a positive label. */
  readonly recall: number | null;
  /** Positive predictions / predictions; null without predictions. */
  readonly positiveRate: number | null;
  /** Label delay median and 99th percentile (upper bin edges, ms); null without labels. */
  readonly labelDelayP50Ms: number | null;
  readonly labelDelayP99Ms: number | null;
}

/**
 * A final window's measures from its counts. "negative": an unlabeled prediction counts as a negative label
 * (FP = positives − tp, TN = predictions − positives − fn); "unknown": only labeled predictions count
 * (FP = fpl, TN = tnl).
 */
export function windowMetrics(c: WindowCounts, unlabeled: UnlabeledPolicy): WindowMetrics {
  const tp = c.truePositives;
  const fn = c.falseNegatives;
  const fp = unlabeled === 'negative' ? c.positives - tp : c.labeledFalsePositives;
  const tn = unlabeled === 'negative' ? c.predictions - c.positives - fn : c.labeledTrueNegatives;
  return {
    predictions: c.predictions,
    thresholdFree: thresholdFreeMetrics(windowLabelledBins(c, unlabeled)),
    precisionInterval: wilsonInterval(tp, tp + fp),
    recallInterval: wilsonInterval(tp, tp + fn),
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    trueNegatives: tn,
    labeled: tp + fn + c.labeledFalsePositives + c.labeledTrueNegatives,
    precision: tp + fp === 0 ? null : tp / (tp + fp),
    recall: tp + fn === 0 ? null : tp / (tp + fn),
    positiveRate: c.predictions === 0 ? null : c.positives / c.predictions,
    labelDelayP50Ms: delayQuantileMs(c.delayBins, 0.5),
    labelDelayP99Ms: delayQuantileMs(c.delayBins, 0.99),
  };
}

/**
 * The window's labelled score bins under the unlabeled policy. "unknown": the joined labels'. "negative": those plus
 * every prediction without a label as a negative, taken as all predictions less the labelled ones, bin by bin and
 * sum by sum. The score sums sit in the first fine bin of their reliability bin: thresholdFreeMetrics reads them
 * per reliability bin only.
 */
export function windowLabelledBins(c: WindowCounts, unlabeled: UnlabeledPolicy): LabelledBins {
  const b = emptyLabelledBins();
  const per = LABELLED_BINS / RELIABILITY_BINS;
  for (let i = 0; i < LABELLED_BINS; i++) {
    b.positives[i] = c.labelPositiveBins[i]!;
    b.negatives[i] = c.labelNegativeBins[i]!;
    if (unlabeled === 'negative') b.negatives[i]! += Math.max(0, c.fineBins[i]! - c.labelPositiveBins[i]! - c.labelNegativeBins[i]!);
  }
  for (let r = 0; r < RELIABILITY_BINS; r++) b.scoreSums[r * per] = unlabeled === 'negative' ? c.fineScoreSums[r]! : c.labelScoreSums[r]!;
  b.logLossSum = c.labelLogLoss + (unlabeled === 'negative' ? c.fineNegativeLogLoss - c.labelNegativeLogLoss : 0);
  b.brierSum = c.labelSquaredError + (unlabeled === 'negative' ? c.fineSquares - c.labelSquares : 0);
  return b;
}

/** A window's estimate before labels: precision, recall and (calibrated only) ROC AUC. */
export interface EstimatedPerformance {
  readonly precision: number | null;
  readonly recall: number | null;
  /** Null without a calibration: the bins' mean scores are not kept per fine bin. */
  readonly rocAuc: number | null;
  /** Labelled predictions of the calibration applied; 0 when none was (the scores taken as probabilities). */
  readonly calibratedOn: number;
}

/**
 * Precision and recall expected before any label, from the scores alone (the idea of NannyML's CBPE). With a
 * calibration fitted on windows whose labels are final (score-metrics.ts fitCalibration), a prediction's
 * probability of a positive label is its bin's on that map (calibratedEstimate, ROC AUC included). Without one,
 * the score itself is taken as that probability: the expected true positives are Σ score over the positive
 * predictions, so precision ≈ that / positive predictions and recall ≈ that / Σ score over all predictions. Either
 * way it is blind to concept drift: when the same scores come to mean another share of positives, only the labels
 * show it.
 */
export function estimatedPerformance(c: WindowCounts, calibration?: Calibration | null): EstimatedPerformance {
  if (calibration !== undefined && calibration !== null) return { ...calibratedEstimate(c.fineBins, c.positives, calibration), calibratedOn: calibration.labelled };
  const total = c.fineScoreSums.reduce((a, b) => a + b, 0);
  return { precision: c.positives === 0 ? null : c.positiveScoreSum / c.positives, recall: total === 0 ? null : c.positiveScoreSum / total, rocAuc: null, calibratedOn: 0 };
}

/** What a final window adds to the calibration: its labelled predictions per fine bin, under the unlabeled policy. */
export function calibrationCounts(c: WindowCounts, unlabeled: UnlabeledPolicy): { positives: number[]; negatives: number[] } {
  const b = windowLabelledBins(c, unlabeled);
  return { positives: b.positives, negatives: b.negatives };
}

/** PSI of each feature's values against the reference window's, by feature; null for one either window lacks. */
export function featurePsi(reference: WindowCounts | undefined, current: WindowCounts): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, bins] of Object.entries(current.featureBins)) {
    const ref = reference?.featureBins[name];
    out[name] = ref === undefined ? null : populationStabilityIndexOfCounts(ref, bins);
  }
  return out;
}

/**
 * Per feature the model read, the share of the window's predictions that read it with no value (featureValueBin 0:
 * unavailable, or empty where the aggregate has no value when empty, as max; an empty count reads 0 and is a value).
 */
export function featureEmptyShare(c: WindowCounts): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, bins] of Object.entries(c.featureBins)) {
    const n = bins.reduce((a, b) => a + b, 0);
    out[name] = n === 0 ? null : bins[0]! / n;
  }
  return out;
}

/** PSI of a window's scores against the reference window's, from their bin counts; null when either is empty. */
export function windowPsi(reference: WindowCounts | undefined, current: WindowCounts): number | null {
  return reference === undefined ? null : populationStabilityIndexOfCounts(reference.scoreBins, current.scoreBins);
}
