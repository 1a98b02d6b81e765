/**
 * Pipeline spec (docs/semantics.md §1): types and validation. A bad spec is refused before anything runs, with one message
 * per problem naming the path of the bad field.
 */
import { aggregatorFor } from './aggregates';
import type { AggregateKind } from './aggregates/kinds';

export type { AggregateKind } from './aggregates/kinds';
export type LatePolicy = 'dlq' | 'drop' | 'update';

export interface TumblingWindowSpec {
  readonly type: 'tumbling';
  readonly sizeMs: number;
}
export interface SlidingWindowSpec {
  readonly type: 'sliding';
  readonly sizeMs: number;
  readonly slideMs: number;
}
export interface SessionWindowSpec {
  readonly type: 'session';
  readonly gapMs: number;
}
/** When a global window fires: every `count` applied records of a key, and/or whenever the watermark passes a multiple of `everyMs`. */
export interface TriggerSpec {
  readonly count?: number;
  readonly everyMs?: number;
  /** Reset the window after each firing, so each firing holds the records since the previous one. @default false */
  readonly purge: boolean;
}
export interface GlobalWindowSpec {
  readonly type: 'global';
  readonly trigger: TriggerSpec;
}
export type WindowSpec = TumblingWindowSpec | SlidingWindowSpec | SessionWindowSpec | GlobalWindowSpec;

export interface FeatureSpec {
  readonly name: string;
  readonly window: WindowSpec;
  readonly aggregate: AggregateKind;
  /** Record field aggregated; required by every aggregate but `count`. */
  readonly field?: string;
  /** `percentile` only: the rank read, in (0, 1). */
  readonly percentile?: number;
  /** `percentile` only: relative error of the sketch, in (0, 1). @default 0.01 */
  readonly relativeAccuracy?: number;
  /** Serving: a value read more than this after its key's state was written has status "stale". @default never stale */
  readonly maxStalenessMs?: number;
}

/** How a number in the time field is read: epoch milliseconds, epoch seconds, or not at all (ISO-8601 only). */
export type TimeUnit = 'ms' | 's' | 'iso';
export const TIME_UNITS: readonly TimeUnit[] = ['ms', 's', 'iso'];

export interface SourceSpec {
  readonly keyField: string;
  readonly timeField: string;
  /** What a number in `timeField` means; ISO-8601 strings are read in every unit. @default 'ms' */
  readonly timeUnit?: TimeUnit;
  /** Producer-assigned event id used to skip producer retries; no de-duplication without it. */
  readonly idField?: string;
}

export interface WatermarkSpec {
  readonly allowedLatenessMs: number;
  /** Records more than this ahead of their arrival time are rejected as `future`; no guard without it. */
  readonly maxFutureSkewMs?: number;
}

export interface PipelineSpec {
  readonly source: SourceSpec;
  readonly watermark: WatermarkSpec;
  readonly latePolicy: LatePolicy;
  /**
   * latePolicy "update": how far behind the watermark (event time) a final window can still be corrected. A key
   * keeps its final windows this long; a record late for every window within it goes to the dead-letter queue.
   * Set only with "update" (default there: one hour, or 500 slides of the finest tumbling or sliding feature if
   * that is shorter, so a key keeps at most 500 final windows per feature).
   */
  readonly correctionHorizonMs?: number;
  readonly features: readonly FeatureSpec[];
  /** Score each applied record with a model (the scoring pattern). */
  readonly scoring?: ScoringSpec;
  /** Join predictions with labels that arrive later and measure the model (the evaluation pattern); needs `scoring`. */
  readonly evaluation?: EvaluationSpec;
}

export interface ScoringSpec {
  /**
   * The model document (JSON), relative to the spec file: checked with the spec before anything deploys or runs
   * (see model.ts). Tools that read the spec resolve it; the consumer receives the document itself.
   */
  readonly model: string;
}

/** What an unlabeled prediction counts as once its label window has passed. */
export type UnlabeledPolicy = 'negative' | 'unknown';

export interface EvaluationSpec {
  /** Tumbling evaluation windows over the predictions' event time. @default 3600000 (one hour) */
  readonly windowMs: number;
  /** A label later than this after its prediction's event time is late (dead letter); a window is final this long after its end. */
  readonly labelWindowMs: number;
  /** "negative": no label by the end of the label window means negative (a chargeback that never came); "unknown": left out. @default "negative" */
  readonly unlabeled: UnlabeledPolicy;
  /** Alarm when a final window's precision is below it. @default 0.5 */
  readonly minPrecision: number;
  /** Alarm when a final window's recall is below it. @default 0.5 */
  readonly minRecall: number;
  /** Alarm when a window's score distribution drifts further than this from the reference (PSI). @default 0.2 */
  readonly maxPsi: number;
  /** Alarm when a feature's values in a window drift further than this from the reference window's (PSI of any one feature). @default 0.25 */
  readonly maxFeaturePsi: number;
  /** Alarm when more than this share of a window's predictions read a feature with no value (any one feature). @default 0.5 */
  readonly maxFeatureEmptyShare: number;
  /** Alarm when a window's precision estimated before labels is below it; no alarm when unset. */
  readonly minEstimatedPrecision?: number;
  /** Alarm when a window's ROC AUC estimated before labels (calibrated only) is below it; no alarm when unset. */
  readonly minEstimatedRocAuc?: number;
  /** Start of the reference window (epoch ms, a multiple of windowMs); by default the first window that closes. */
  readonly referenceWindowStart?: number;
}

export const EVALUATION_DEFAULTS = { windowMs: 3_600_000, unlabeled: 'negative', minPrecision: 0.5, minRecall: 0.5, maxPsi: 0.2, maxFeaturePsi: 0.25, maxFeatureEmptyShare: 0.5 } as const;
export const UNLABELED_POLICIES: readonly UnlabeledPolicy[] = ['negative', 'unknown'];

/**
 * The correction horizon in force: the spec's; under "update" by default one hour, or 500 slides of the finest
 * tumbling or sliding feature if that is shorter (at most 500 final windows kept per feature); 0 otherwise.
 */
export function correctionHorizonMs(spec: Pick<PipelineSpec, 'latePolicy' | 'correctionHorizonMs' | 'features'>): number {
  if (spec.latePolicy !== 'update') return 0;
  return spec.correctionHorizonMs ?? defaultCorrectionHorizonMs(spec.features);
}

export const DEFAULT_CORRECTION_HORIZON_MS = 3_600_000;
const DEFAULT_FINALS_KEPT = 500;

function defaultCorrectionHorizonMs(features: readonly FeatureSpec[]): number {
  let h = DEFAULT_CORRECTION_HORIZON_MS;
  for (const f of features) {
    if (f.window.type === 'tumbling') h = Math.min(h, DEFAULT_FINALS_KEPT * f.window.sizeMs);
    else if (f.window.type === 'sliding') h = Math.min(h, DEFAULT_FINALS_KEPT * f.window.slideMs);
  }
  return h;
}

/** A spec that breaks one or more rules; `problems` has one message per bad field, each naming its path. */
export class SpecError extends Error {
  public readonly problems: readonly string[];

  public constructor(problems: readonly string[]) {
    super(`invalid pipeline spec:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SpecError';
    this.problems = problems;
  }
}

export const AGGREGATES: readonly AggregateKind[] = ['count', 'sum', 'min', 'max', 'avg', 'distinct', 'percentile', 'first', 'last'];
export const LATE_POLICIES: readonly LatePolicy[] = ['dlq', 'drop', 'update'];
export const WINDOW_TYPES = ['tumbling', 'sliding', 'session', 'global'] as const;
/** Largest window or lateness accepted: ten years. Larger values are almost certainly a unit mistake. */
export const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

/** The fields each object of a spec may have: the validator and the JSON Schema (spec-schema.ts) both read them. */
export const SPEC_FIELDS = {
  // `$schema` lets an editor find the schema; it is not read.
  spec: ['$schema', 'source', 'watermark', 'latePolicy', 'correctionHorizonMs', 'features', 'scoring', 'evaluation'],
  scoring: ['model'],
  evaluation: ['windowMs', 'labelWindowMs', 'unlabeled', 'minPrecision', 'minRecall', 'maxPsi', 'maxFeaturePsi', 'maxFeatureEmptyShare', 'minEstimatedPrecision', 'minEstimatedRocAuc', 'referenceWindowStart'],
  source: ['keyField', 'timeField', 'timeUnit', 'idField'],
  watermark: ['allowedLatenessMs', 'maxFutureSkewMs'],
  feature: ['name', 'window', 'aggregate', 'field', 'percentile', 'relativeAccuracy', 'maxStalenessMs'],
  tumbling: ['type', 'sizeMs'],
  sliding: ['type', 'sizeMs', 'slideMs'],
  session: ['type', 'gapMs'],
  global: ['type', 'trigger'],
  trigger: ['count', 'everyMs', 'purge'],
} as const;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The bad value, echoed in the message (clipped: a spec value can be anything). */
function got(v: unknown): string {
  if (v === undefined) return '; it is missing';
  const s = JSON.stringify(v) ?? String(v);
  return `, got ${s.length > 60 ? `${s.slice(0, 60)}…` : s}`;
}

class Checker {
  public readonly problems: string[] = [];

  public object(v: unknown, path: string): Obj | undefined {
    if (isObject(v)) return v;
    this.problems.push(`${path} must be an object${got(v)}`);
    return undefined;
  }

  public name(v: unknown, path: string, optional = false): string | undefined {
    if (v === undefined && optional) return undefined;
    if (typeof v === 'string' && v.trim().length > 0) return v;
    this.problems.push(`${path} must be a non-empty string${got(v)}`);
    return undefined;
  }

  public duration(v: unknown, path: string, opts: { optional?: boolean; allowZero?: boolean } = {}): number | undefined {
    if (v === undefined && opts.optional) return undefined;
    const ok = typeof v === 'number' && Number.isSafeInteger(v) && (opts.allowZero ? v >= 0 : v > 0);
    if (!ok) {
      this.problems.push(`${path} must be a ${opts.allowZero ? 'non-negative' : 'positive'} integer (milliseconds)${got(v)}`);
      return undefined;
    }
    if (v > MAX_DURATION_MS) {
      this.problems.push(`${path} must be at most ${MAX_DURATION_MS} (ten years in milliseconds)${got(v)}`);
      return undefined;
    }
    return v;
  }

  public oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string): T | undefined {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.problems.push(`${path} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}${got(v)}`);
    return undefined;
  }

  public unknownKeys(o: Obj, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.problems.push(`${path}.${k} is not a known field (allowed: ${allowed.join(', ')})`);
    }
  }
}

function checkWindow(c: Checker, v: unknown, path: string): WindowSpec | undefined {
  const w = c.object(v, path);
  if (!w) return undefined;
  const type = c.oneOf(w.type, WINDOW_TYPES, `${path}.type`);
  switch (type) {
    case 'tumbling': {
      c.unknownKeys(w, SPEC_FIELDS.tumbling, path);
      const sizeMs = c.duration(w.sizeMs, `${path}.sizeMs`);
      return sizeMs === undefined ? undefined : { type, sizeMs };
    }
    case 'sliding': {
      c.unknownKeys(w, SPEC_FIELDS.sliding, path);
      const sizeMs = c.duration(w.sizeMs, `${path}.sizeMs`);
      const slideMs = c.duration(w.slideMs, `${path}.slideMs`);
      if (sizeMs === undefined || slideMs === undefined) return undefined;
      if (slideMs > sizeMs) {
        c.problems.push(`${path}.slideMs must not exceed ${path}.sizeMs (${slideMs} > ${sizeMs}): events would fall in no window`);
        return undefined;
      }
      return { type, sizeMs, slideMs };
    }
    case 'session': {
      c.unknownKeys(w, SPEC_FIELDS.session, path);
      const gapMs = c.duration(w.gapMs, `${path}.gapMs`);
      return gapMs === undefined ? undefined : { type, gapMs };
    }
    case 'global': {
      c.unknownKeys(w, SPEC_FIELDS.global, path);
      const trigger = checkTrigger(c, w.trigger, `${path}.trigger`);
      return trigger === undefined ? undefined : { type, trigger };
    }
    default:
      return undefined;
  }
}

function checkTrigger(c: Checker, v: unknown, path: string): TriggerSpec | undefined {
  const t = c.object(v, path);
  if (!t) return undefined;
  c.unknownKeys(t, SPEC_FIELDS.trigger, path);
  if (t.count === undefined && t.everyMs === undefined) {
    c.problems.push(`${path} needs "count" (fire every N records of a key) or "everyMs" (fire as the watermark passes each multiple), or both`);
    return undefined;
  }
  let count: number | undefined;
  if (t.count !== undefined) {
    if (typeof t.count === 'number' && Number.isSafeInteger(t.count) && t.count > 0) count = t.count;
    else c.problems.push(`${path}.count must be a positive integer (records)${got(t.count)}`);
  }
  const everyMs = c.duration(t.everyMs, `${path}.everyMs`, { optional: true });
  if (t.purge !== undefined && typeof t.purge !== 'boolean') c.problems.push(`${path}.purge must be true or false${got(t.purge)}`);
  if ((t.count !== undefined && count === undefined) || (t.everyMs !== undefined && everyMs === undefined)) return undefined;
  return { ...(count === undefined ? {} : { count }), ...(everyMs === undefined ? {} : { everyMs }), purge: t.purge === true };
}

/** A number strictly between 0 and 1. */
function checkFraction(c: Checker, v: unknown, path: string): number | undefined {
  if (typeof v === 'number' && v > 0 && v < 1) return v;
  c.problems.push(`${path} must be a number between 0 and 1 (exclusive)${got(v)}`);
  return undefined;
}

function checkFeature(c: Checker, v: unknown, path: string): FeatureSpec | undefined {
  const f = c.object(v, path);
  if (!f) return undefined;
  c.unknownKeys(f, SPEC_FIELDS.feature, path);
  const name = c.name(f.name, `${path}.name`);
  const window = checkWindow(c, f.window, `${path}.window`);
  const aggregate = c.oneOf(f.aggregate, AGGREGATES, `${path}.aggregate`);
  const maxStalenessMs = c.duration(f.maxStalenessMs, `${path}.maxStalenessMs`, { optional: true });
  let field: string | undefined;
  if (aggregate === 'count') {
    field = c.name(f.field, `${path}.field`, true);
  } else if (aggregate !== undefined) {
    if (f.field === undefined) c.problems.push(`${path}.field is required for aggregate "${aggregate}"`);
    else field = c.name(f.field, `${path}.field`);
  }
  let percentile: number | undefined;
  let relativeAccuracy: number | undefined;
  if (aggregate === 'percentile') {
    if (f.percentile === undefined) c.problems.push(`${path}.percentile is required for aggregate "percentile" (for example 0.95)`);
    else percentile = checkFraction(c, f.percentile, `${path}.percentile`);
    if (f.relativeAccuracy !== undefined) relativeAccuracy = checkFraction(c, f.relativeAccuracy, `${path}.relativeAccuracy`);
    if (percentile === undefined || (f.relativeAccuracy !== undefined && relativeAccuracy === undefined)) return undefined;
  } else if (aggregate !== undefined) {
    for (const k of ['percentile', 'relativeAccuracy'] as const) {
      if (f[k] !== undefined) c.problems.push(`${path}.${k} only applies to aggregate "percentile", not "${aggregate}"`);
    }
  }
  if (name === undefined || window === undefined || aggregate === undefined) return undefined;
  if (aggregate !== 'count' && field === undefined) return undefined;
  if (f.maxStalenessMs !== undefined && maxStalenessMs === undefined) return undefined;
  return {
    name,
    window,
    aggregate,
    ...(field === undefined ? {} : { field }),
    ...(percentile === undefined ? {} : { percentile }),
    ...(relativeAccuracy === undefined ? {} : { relativeAccuracy }),
    ...(maxStalenessMs === undefined ? {} : { maxStalenessMs }),
  };
}

function checkScoring(c: Checker, v: unknown): ScoringSpec | undefined {
  if (v === undefined) return undefined;
  const o = c.object(v, 'scoring');
  if (!o) return undefined;
  c.unknownKeys(o, SPEC_FIELDS.scoring, 'scoring');
  const model = c.name(o.model, 'scoring.model');
  return model === undefined ? undefined : { model };
}

function checkThreshold(c: Checker, v: unknown, path: string, fallback: number, max = 1): number | undefined {
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max) return v;
  c.problems.push(`${path} must be a number from 0 to ${max}${got(v)}`);
  return undefined;
}

function checkEvaluation(c: Checker, v: unknown): EvaluationSpec | undefined {
  if (v === undefined) return undefined;
  const o = c.object(v, 'evaluation');
  if (!o) return undefined;
  c.unknownKeys(o, SPEC_FIELDS.evaluation, 'evaluation');
  const windowMs = o.windowMs === undefined ? EVALUATION_DEFAULTS.windowMs : c.duration(o.windowMs, 'evaluation.windowMs');
  const labelWindowMs = c.duration(o.labelWindowMs, 'evaluation.labelWindowMs');
  const unlabeled = o.unlabeled === undefined ? EVALUATION_DEFAULTS.unlabeled : c.oneOf(o.unlabeled, UNLABELED_POLICIES, 'evaluation.unlabeled');
  const minPrecision = checkThreshold(c, o.minPrecision, 'evaluation.minPrecision', EVALUATION_DEFAULTS.minPrecision);
  const minRecall = checkThreshold(c, o.minRecall, 'evaluation.minRecall', EVALUATION_DEFAULTS.minRecall);
  const maxPsi = checkThreshold(c, o.maxPsi, 'evaluation.maxPsi', EVALUATION_DEFAULTS.maxPsi, 100);
  const maxFeaturePsi = checkThreshold(c, o.maxFeaturePsi, 'evaluation.maxFeaturePsi', EVALUATION_DEFAULTS.maxFeaturePsi, 100);
  const maxFeatureEmptyShare = checkThreshold(c, o.maxFeatureEmptyShare, 'evaluation.maxFeatureEmptyShare', EVALUATION_DEFAULTS.maxFeatureEmptyShare);
  // Optional: an alarm on the estimate only when asked for (uncalibrated, it is only as good as the scores).
  const minEstimatedPrecision = o.minEstimatedPrecision === undefined ? undefined : checkThreshold(c, o.minEstimatedPrecision, 'evaluation.minEstimatedPrecision', 0);
  const minEstimatedRocAuc = o.minEstimatedRocAuc === undefined ? undefined : checkThreshold(c, o.minEstimatedRocAuc, 'evaluation.minEstimatedRocAuc', 0);
  let referenceWindowStart: number | undefined;
  if (o.referenceWindowStart !== undefined) {
    const r = o.referenceWindowStart;
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) c.problems.push(`evaluation.referenceWindowStart must be a non-negative integer (epoch milliseconds)${got(r)}`);
    else if (windowMs !== undefined && r % windowMs !== 0) c.problems.push(`evaluation.referenceWindowStart must be the start of an evaluation window (a multiple of windowMs ${windowMs})${got(r)}`);
    else referenceWindowStart = r;
  }
  if (windowMs === undefined || labelWindowMs === undefined || unlabeled === undefined || minPrecision === undefined || minRecall === undefined || maxPsi === undefined || maxFeaturePsi === undefined || maxFeatureEmptyShare === undefined) return undefined;
  if ((o.minEstimatedPrecision !== undefined && minEstimatedPrecision === undefined) || (o.minEstimatedRocAuc !== undefined && minEstimatedRocAuc === undefined)) return undefined;
  if (o.referenceWindowStart !== undefined && referenceWindowStart === undefined) return undefined;
  return {
    windowMs,
    labelWindowMs,
    unlabeled,
    minPrecision,
    minRecall,
    maxPsi,
    maxFeaturePsi,
    maxFeatureEmptyShare,
    ...(minEstimatedPrecision === undefined ? {} : { minEstimatedPrecision }),
    ...(minEstimatedRocAuc === undefined ? {} : { minEstimatedRocAuc }),
    ...(referenceWindowStart === undefined ? {} : { referenceWindowStart }),
  };
}

/**
 * Validates an untrusted spec document and returns it typed, with defaults applied (`latePolicy: "dlq"`).
 * @throws SpecError listing every problem found, each naming the path of the bad field.
 */
export function parseSpec(input: unknown): PipelineSpec {
  const c = new Checker();
  const root = c.object(input, 'spec');
  if (!root) throw new SpecError(c.problems);
  c.unknownKeys(root, SPEC_FIELDS.spec, 'spec');
  if (root.$schema !== undefined && typeof root.$schema !== 'string') c.problems.push('spec.$schema must be a string (the path or URL of the JSON Schema)');

  const src = c.object(root.source, 'source');
  let source: SourceSpec | undefined;
  if (src) {
    c.unknownKeys(src, SPEC_FIELDS.source, 'source');
    const keyField = c.name(src.keyField, 'source.keyField');
    const timeField = c.name(src.timeField, 'source.timeField');
    const idField = c.name(src.idField, 'source.idField', true);
    const timeUnit = src.timeUnit === undefined ? undefined : c.oneOf(src.timeUnit, TIME_UNITS, 'source.timeUnit');
    if (keyField !== undefined && timeField !== undefined) {
      source = { keyField, timeField, ...(timeUnit === undefined ? {} : { timeUnit }), ...(idField === undefined ? {} : { idField }) };
    }
  }

  const wm = c.object(root.watermark, 'watermark');
  let watermark: WatermarkSpec | undefined;
  if (wm) {
    c.unknownKeys(wm, SPEC_FIELDS.watermark, 'watermark');
    const allowedLatenessMs = c.duration(wm.allowedLatenessMs, 'watermark.allowedLatenessMs', { allowZero: true });
    const maxFutureSkewMs = c.duration(wm.maxFutureSkewMs, 'watermark.maxFutureSkewMs', { optional: true, allowZero: true });
    if (allowedLatenessMs !== undefined) {
      watermark = maxFutureSkewMs === undefined ? { allowedLatenessMs } : { allowedLatenessMs, maxFutureSkewMs };
    }
  }

  const latePolicy = root.latePolicy === undefined ? 'dlq' : c.oneOf(root.latePolicy, LATE_POLICIES, 'latePolicy');
  const horizon = c.duration(root.correctionHorizonMs, 'correctionHorizonMs', { optional: true, allowZero: true });
  if (horizon !== undefined && latePolicy !== undefined && latePolicy !== 'update') {
    c.problems.push(`correctionHorizonMs applies to latePolicy "update" only (latePolicy is "${latePolicy}")`);
  }

  const features: FeatureSpec[] = [];
  if (!Array.isArray(root.features) || root.features.length === 0) {
    c.problems.push('features must be a non-empty array');
  } else {
    const seen = new Map<string, number>();
    root.features.forEach((fv, i) => {
      const f = checkFeature(c, fv, `features[${i}]`);
      if (!f) return;
      const first = seen.get(f.name);
      if (first !== undefined) {
        c.problems.push(`features[${i}].name "${f.name}" is already used by features[${first}] (names must be unique)`);
        return;
      }
      seen.set(f.name, i);
      features.push(f);
    });
  }

  // A bad horizon is reported above; the state check then counts no final windows rather than the default's.
  const finalsKeptMs = latePolicy === 'update' && (horizon !== undefined || root.correctionHorizonMs === undefined) ? (horizon ?? defaultCorrectionHorizonMs(features)) : 0;
  if (watermark) checkStateSize(c, features, watermark.allowedLatenessMs, finalsKeptMs, servingRetentionMs(watermark));
  const scoring = checkScoring(c, root.scoring);
  const evaluation = checkEvaluation(c, root.evaluation);
  if (evaluation !== undefined && root.scoring === undefined) c.problems.push('evaluation needs a scoring section: it measures the predictions scoring makes');
  if (c.problems.length > 0 || !source || !watermark || !latePolicy) throw new SpecError(c.problems);
  return {
    source,
    watermark,
    latePolicy,
    ...(horizon === undefined ? {} : { correctionHorizonMs: horizon }),
    features,
    ...(scoring === undefined ? {} : { scoring }),
    ...(evaluation === undefined ? {} : { evaluation }),
  };
}

/**
 * Most open slices or sessions one feature, and all features together, may keep per key: they share one
 * 400 KB item. Besides the count, the bytes they can take are bounded with each aggregate's largest serialized
 * accumulator (a HyperLogLog or a quantile sketch takes kilobytes, a sum a few bytes).
 */
export const MAX_OPEN_PANES_PER_FEATURE = 2000;
export const MAX_OPEN_PANES_PER_KEY = 2500;
export const MAX_STATE_BYTES_PER_KEY = 300_000;
/** Bytes a pane takes besides its accumulator: its index or its bounds. */
const PANE_OVERHEAD_BYTES = 20;

/**
 * Longest time, in watermark time, final windows and sessions are kept after they fire, so that serving (docs/semantics.md §7)
 * can read the window holding a request time T that a record ahead of its arrival already made final: such a
 * record (at most maxFutureSkewMs ahead) moves the watermark up to maxFutureSkewMs − allowedLatenessMs past the
 * time it arrived, and T is never before an arrival the state holds (the engine keeps only windows ending after
 * the newest arrival, so records behind their arrival keep none). Nothing needs keeping when the skew is within
 * the lateness; without a future guard nothing bounds it, and none is kept (serving reads such windows as
 * "unavailable").
 */
export function servingRetentionMs(watermark: WatermarkSpec): number {
  const skew = watermark.maxFutureSkewMs;
  return skew === undefined ? 0 : Math.max(0, skew - watermark.allowedLatenessMs);
}

/**
 * Window state of a key is one DynamoDB item, so what a key can hold open must fit in it: a window of size S
 * built from slices of width g, with allowed lateness L, keeps up to (S + L) / g slices; a session feature with
 * gap G keeps up to L / G sessions; a global window keeps one. Under "update" a sliced feature also keeps its final
 * windows of the correction horizon H: H / slide more. Final windows kept for serving (retention R) add up to
 * R / slide + 1 windows (the larger of the two spans counts, as the kept windows overlap), or R / G + 1 sessions.
 */
function checkStateSize(c: Checker, features: readonly FeatureSpec[], latenessMs: number, finalsKeptMs: number, retentionMs: number): void {
  let total = 0;
  let bytes = 0;
  let tooBig = false;
  const kinds = [...(finalsKeptMs > 0 ? ['final windows of the correction horizon'] : []), ...(retentionMs > 0 ? ['final ones kept for serving'] : [])];
  const why = ['window plus allowed lateness', ...kinds].join(', and ');
  const advice = `use a coarser slide or gap, or less allowed lateness${finalsKeptMs > 0 ? ', or a shorter correctionHorizonMs' : ''}${retentionMs > 0 ? ', or maxFutureSkewMs closer to it' : ''}`;
  features.forEach((f, i) => {
    const w = f.window;
    let panes: number;
    let unit: string;
    if (w.type === 'global') {
      panes = 1;
      unit = 'window';
    } else if (w.type === 'session') {
      // One more than whole-millisecond times allow: fractional event times can fit one more session.
      panes = Math.ceil(latenessMs / w.gapMs) + 2 + (retentionMs > 0 ? Math.ceil(retentionMs / w.gapMs) + 1 : 0);
      unit = 'sessions';
    } else {
      const slide = w.type === 'tumbling' ? w.sizeMs : w.slideMs;
      let a = w.sizeMs;
      let b = slide;
      while (b !== 0) [a, b] = [b, a % b];
      // Under "update" the final windows of the correction horizon stay too, one per slide; and those kept for serving.
      const kept = Math.max(finalsKeptMs, retentionMs);
      panes = Math.ceil((w.sizeMs + latenessMs) / a) + 1 + Math.ceil(kept / slide) + (retentionMs > 0 ? 1 : 0);
      unit = kept > 0 ? `slices of ${a} ms and final windows` : `slices of ${a} ms`;
    }
    total += panes;
    const accBytes = aggregatorFor(f).maxBytes;
    const featureBytes = panes * (PANE_OVERHEAD_BYTES + accBytes);
    bytes += featureBytes;
    if (panes > MAX_OPEN_PANES_PER_FEATURE) {
      c.problems.push(
        `features[${i}].window keeps up to ${panes} open ${unit} per key (${why}); at most ${MAX_OPEN_PANES_PER_FEATURE} fit in a key's state item: ${advice}`,
      );
    } else if (featureBytes > MAX_STATE_BYTES_PER_KEY) {
      tooBig = true;
      c.problems.push(
        `features[${i}] could keep up to ${featureBytes} bytes of state per key (${panes} open ${unit} of up to ${accBytes} bytes for "${f.aggregate}"); at most ${MAX_STATE_BYTES_PER_KEY} fit in a key's state item: ${advice}`,
      );
    }
  });
  if (total > MAX_OPEN_PANES_PER_KEY) {
    c.problems.push(`features together keep up to ${total} open slices and sessions per key; at most ${MAX_OPEN_PANES_PER_KEY} fit in a key's state item`);
  } else if (bytes > MAX_STATE_BYTES_PER_KEY && !tooBig) {
    c.problems.push(`features together could keep up to ${bytes} bytes of state per key; at most ${MAX_STATE_BYTES_PER_KEY} fit in a key's state item`);
  }
}

/** Parses spec text (JSON) and validates it; a JSON syntax error is reported as a spec problem too. */
export function parseSpecJson(text: string): PipelineSpec {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SpecError([`spec is not valid JSON: ${(e as Error).message}`]);
  }
  return parseSpec(doc);
}

/** Longest event-time span any tumbling, sliding or session window can cover (session: its gap), used to size retention. */
export function longestWindowMs(spec: Pick<PipelineSpec, 'features'>): number {
  let longest = 0;
  for (const f of spec.features) {
    // A global window is never final, so it bounds no retention: callers treat it on its own (see idRetentionMs).
    if (f.window.type === 'global') continue;
    const span = f.window.type === 'session' ? f.window.gapMs : f.window.sizeMs;
    if (span > longest) longest = span;
  }
  return longest;
}
