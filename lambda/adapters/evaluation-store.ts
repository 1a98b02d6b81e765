/**
 * The evaluation's state in the predictions table (layout: evaluation-items.ts): window counts added once per
 * source record under per-shard checkpoints, labels joined to their prediction once, the registry's open windows,
 * label clock and reference window. The scoring side (the feature consumer) adds predictions and closes windows
 * by its watermark; the labels consumer joins labels and finalizes windows by the label clock.
 *
 * Every count update is an UpdateItem conditional on the checkpoint read for its shard, which it moves to the last
 * record counted: a re-delivered or bisected batch finds its records at or below it and does not count them again.
 * A lost condition means another delivery of the same shard wrote meanwhile: re-read, recompute, write again.
 */
import { type AttributeValue, ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { FEATURE_VALUE_BINS, SCORE_BINS, scoreBin } from '../core/evaluation';
import {
  type JudgedLabel,
  type StoredPrediction,
  type WindowCounts,
  type WindowDelta,
  type WindowMetrics,
  addLabel,
  addPrediction,
  type EstimatedPerformance,
  calibrationCounts,
  emptyCounts,
  estimatedPerformance,
  evaluationWindowStart,
  featureEmptyShare,
  featurePsi,
  labelRef,
  windowDeltas,
  windowFinalAt,
  windowMetrics,
  windowPsi,
  predictionRef,
} from '../core/label-join';
import { type Calibration, LABELLED_BINS, fitCalibration } from '../core/score-metrics';
import type { EvaluationSpec } from '../core/spec';
import { pool } from './concurrency';
import { type Item, batchGetAll, numberOf } from './dynamo-io';
import {
  CALIBRATION_PK,
  CALIBRATION_SK,
  CalibrationAttr,
  PREDICTION_SK,
  PredictionAttr,
  REGISTRY_PK,
  REGISTRY_SK,
  RegistryAttr,
  WINDOW_SK,
  WindowAttr,
  padSequence,
  predictionPk,
  windowPk,
  readPredictions,
} from './evaluation-items';
import type { WriteGate } from './state-store';

/** A prediction's label was set by another record between our read and our write: the batch fails and is retried. */
export class EvaluationConflictError extends Error {
  public constructor(what: string) {
    super(`conditional write lost for ${what}: another label joined it meanwhile; the batch will be retried`);
    this.name = 'EvaluationConflictError';
  }
}

/** A prediction as the scoring side counts it into its window. */
export interface PredictionCount {
  /** Sequence number of the scored record in its source shard. */
  readonly seq: string;
  readonly eventTime: number;
  readonly score: number;
  readonly positive: boolean;
  /** The values of the features the model read, for their drift. */
  readonly features?: Readonly<Record<string, number | null>>;
}

/** An evaluation window as stored. */
export interface StoredWindow {
  readonly windowStart: number;
  readonly counts: WindowCounts;
  /** Checkpoints by attribute name (`pck:<shard>`, `lck:<shard>`), unpadded ('' for none). */
  readonly checkpoints: ReadonlyMap<string, string>;
  /** Final score figures published. */
  readonly closed: boolean;
  /** Provisional score figures published. */
  readonly provisional: boolean;
  readonly final: boolean;
  /** The estimate before labels published with its final score figures (absent before, or when none was defined). */
  readonly estimated?: EstimatedPerformance;
}

/** The calibration's counts: every final window's labelled predictions per fine bin. */
export interface StoredCalibration {
  readonly positives: number[];
  readonly negatives: number[];
  /** Start of the last final window added (null before any). */
  readonly through: number | null;
  readonly windows: number;
}

export interface Registry {
  /** Windows with predictions that are not final yet, ascending. */
  readonly open: readonly number[];
  /** Highest label time seen (null before any). */
  readonly clock: number | null;
  /** Reference window start, once the first window closed (the spec's takes precedence). */
  readonly reference: number | null;
  /** Every open window ending at or before it was closed by an earlier batch (null before any closing). */
  readonly closedThrough: number | null;
  /** The same for the provisional stage. */
  readonly provisionalThrough: number | null;
  /** Source shards that counted a prediction: a window closes only once each one's watermark passed it. */
  readonly shards: readonly string[];
}

/** The source shards' watermarks, by which windows close, and the close lag (evaluationCloseLagMs). */
export interface CloseBounds {
  /** Watermarks known to the caller (the batch's shards, after the batch). */
  readonly known: ReadonlyMap<string, number>;
  /** Reads the watermark of a registered shard the caller does not know (−∞ when it has none yet). */
  readonly read: (shard: string) => Promise<number>;
  /** How far past a window's end every watermark must be for its final figures. */
  readonly lagMs: number;
}

/** Provisional: every shard passed the window's end; final: every shard passed it by the close lag. */
export type CloseStage = 'provisional' | 'final';

/** A window closed by the scoring side's watermarks: its score figures. */
export interface ClosedWindow {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly stage: CloseStage;
  readonly predictions: number;
  readonly positiveRate: number | null;
  /** PSI against the reference window; null when either has no prediction. */
  readonly psi: number | null;
  readonly reference: number;
  /**
   * Precision, recall and ROC AUC estimated from the scores before labels (estimatedPerformance), with the
   * calibration fitted on the windows final when it closed (estimatedCalibratedOn labelled predictions; 0: none,
   * the scores taken as probabilities, and no ROC AUC).
   */
  readonly estimatedPrecision: number | null;
  readonly estimatedRecall: number | null;
  readonly estimatedRocAuc: number | null;
  readonly estimatedCalibratedOn: number;
  /** Final stage: PSI of each feature's values against the reference window's (null where either has none). */
  readonly featurePsi?: Readonly<Record<string, number | null>>;
  /** Final stage: each feature's share of predictions that read it with no value (featureEmptyShare). */
  readonly featureEmptyShare?: Readonly<Record<string, number | null>>;
}

/** A window made final by the label clock: its measures. */
export interface FinalEvaluationWindow {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly metrics: WindowMetrics;
  /** The estimate published before labels when the window closed, beside the realized figures (absent when it closed before estimates were kept). */
  readonly estimated?: EstimatedPerformance;
}

export interface EvaluationStoreOptions {
  readonly client: DynamoDBClient;
  /** The predictions table (contract PREDICTIONS_TABLE). */
  readonly tableName: string;
  readonly evaluation: EvaluationSpec;
  /** Called before every write request (fault injection). */
  readonly writeGate?: WriteGate;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const unpad = (s: string | undefined): string => (s === undefined ? '' : s.replace(/^0+(?=.)/, ''));
const CONFLICT_ATTEMPTS = 20;
/** UpdateItems in flight: labels onto predictions, and window counts. */
const LABEL_WRITE_CONCURRENCY = 16;
const WINDOW_WRITE_CONCURRENCY = 8;
const WINDOW_PK_PREFIX = windowPk(0).slice(0, -1);

export class EvaluationStore {
  public writes = 0;
  public reads = 0;
  public conflicts = 0;
  /** Write units DynamoDB reported for the updates (by item size: 1 per KB of the larger of old and new item). */
  public consumedWriteUnits = 0;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly ev: EvaluationSpec;
  private readonly gate: WriteGate | undefined;

  public constructor(o: EvaluationStoreOptions) {
    this.client = o.client;
    this.table = o.tableName;
    this.ev = o.evaluation;
    this.gate = o.writeGate;
  }

  public get tableName(): string {
    return this.table;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  public async getRegistry(): Promise<Registry> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) }, ConsistentRead: true }));
    this.reads += 1;
    const it = res.Item;
    return {
      open: (it?.[RegistryAttr.open]?.NS ?? []).map(Number).sort((a, b) => a - b),
      clock: numberOf(it?.[RegistryAttr.clock]),
      reference: numberOf(it?.[RegistryAttr.reference]),
      closedThrough: numberOf(it?.[RegistryAttr.closedThrough]),
      provisionalThrough: numberOf(it?.[RegistryAttr.provisionalThrough]),
      shards: [...(it?.[RegistryAttr.shards]?.SS ?? [])].sort(),
    };
  }

  /** The calibration's counts (every final window's labelled predictions per fine bin). */
  public async getCalibration(): Promise<StoredCalibration> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(CALIBRATION_PK), sk: S(CALIBRATION_SK) }, ConsistentRead: true }));
    this.reads += 1;
    const it = res.Item ?? {};
    const bins = (attr: (i: number) => string): number[] => Array.from({ length: LABELLED_BINS }, (_, i) => numberOf(it[attr(i)]) ?? 0);
    return { positives: bins(CalibrationAttr.positiveBin), negatives: bins(CalibrationAttr.negativeBin), through: numberOf(it[CalibrationAttr.through]), windows: numberOf(it[CalibrationAttr.windows]) ?? 0 };
  }

  /** The calibration map fitted on every final window so far; null before a labelled prediction. */
  public async calibration(): Promise<Calibration | null> {
    const c = await this.getCalibration();
    return fitCalibration(c.positives, c.negatives);
  }

  /** The stored windows among `starts` (absent ones have no item yet). */
  public async getWindows(starts: readonly number[]): Promise<Map<number, StoredWindow>> {
    const unique = [...new Set(starts)];
    const items = await batchGetAll(this.client, this.table, unique.map((w) => ({ pk: S(windowPk(w)), sk: S(WINDOW_SK) })));
    this.reads += Math.ceil(unique.length / 100);
    return new Map(items.map((it) => windowOf(it)).map((w) => [w.windowStart, w]));
  }

  /** The predictions of the given (key, event id) pairs that exist, by predictionRef. */
  public async getPredictions(refs: ReadonlyArray<{ readonly key: string; readonly eventId: string }>): Promise<Map<string, StoredPrediction>> {
    this.reads += Math.ceil(new Set(refs.map((r) => predictionRef(r.key, r.eventId))).size / 100);
    return readPredictions(this.client, this.table, refs);
  }

  // ---- scoring side -------------------------------------------------------------------------------------------

  /**
   * Counts predictions scored from records of `shard` into their windows, each once: records at or below a
   * window's `pck:<shard>` checkpoint were counted by an earlier delivery. The windows join the registry's open
   * set first, so a window with counts is never left out of finalization. Returns the predictions counted now.
   */
  public async addPredictions(shard: string, preds: readonly PredictionCount[]): Promise<number> {
    if (preds.length === 0) return 0;
    const records = preds.map((p) => ({ seq: p.seq, window: evaluationWindowStart(p.eventTime, this.ev.windowMs), scoreBin: scoreBin(p.score, SCORE_BINS), positive: p.positive, score: p.score, ...(p.features === undefined ? {} : { features: p.features }) }));
    const starts = [...new Set(records.map((r) => r.window))].sort((a, b) => a - b);
    await this.update(`registry open windows`, {
      Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) },
      UpdateExpression: 'ADD #open :w, #shards :s',
      ExpressionAttributeNames: { '#open': RegistryAttr.open, '#shards': RegistryAttr.shards },
      ExpressionAttributeValues: { ':w': { NS: starts.map(String) }, ':s': { SS: [shard] } },
    });
    return this.addCounts(WindowAttr.predictionCheckpoint(shard), records, addPrediction);
  }

  /**
   * Publishes the score figures (positive rate, PSI against the reference window, predictions) of open windows in
   * two stages, each once (docs/evaluation.md, "Closing"):
   * - provisional, once every registered shard's watermark passed the window's end: every shard's predictions of
   *   records on time are in, records late for some features but applied to others may still come;
   * - final, once every registered shard's watermark passed the end by the close lag (evaluationCloseLagMs): no
   *   record of the window can be applied anymore. With a lag of 0 there is no provisional stage.
   * `bounds` as a number is one watermark for every shard. The reference window is the spec's
   * referenceWindowStart, else the first window closed (either stage), recorded in the registry.
   *
   * `beforeMark` receives the figures before any window is marked (the consumer publishes them there), so a crash
   * in between repeats the figures on the retry rather than losing them.
   */
  public async closeWindows(bounds: number | CloseBounds, beforeMark?: (closed: readonly ClosedWindow[]) => void | Promise<void>): Promise<ClosedWindow[]> {
    const registry = await this.getRegistry();
    const lag = typeof bounds === 'number' ? 0 : bounds.lagMs;
    const end = (w: number): number => w + this.ev.windowMs;
    // Windows ending at or before a stage's "through" were handled by an earlier batch: not read again, so a batch
    // that closes nothing reads the registry alone, however many closed windows await their labels.
    const stages: Array<{ stage: CloseStage; through: number; lag: number }> = [
      ...(lag > 0 ? [{ stage: 'provisional' as const, through: registry.provisionalThrough ?? -Infinity, lag: 0 }] : []),
      { stage: 'final', through: registry.closedThrough ?? -Infinity, lag },
    ];
    const dueBy = (watermark: number): Array<{ stage: CloseStage; w: number }> => {
      const all = stages.flatMap((st) => registry.open.filter((w) => end(w) + st.lag <= watermark && end(w) > st.through).map((w) => ({ stage: st.stage, w })));
      // A window due final needs no provisional figures any more.
      const final = new Set(all.filter((d) => d.stage === 'final').map((d) => d.w));
      return all.filter((d) => d.stage === 'final' || !final.has(d.w));
    };
    let watermark = typeof bounds === 'number' ? bounds : bounds.known.size === 0 ? -Infinity : Math.min(...bounds.known.values());
    // Other shards' watermarks are read only when the known ones already let a window close.
    if (typeof bounds !== 'number' && dueBy(watermark).length > 0) {
      const others = registry.shards.filter((sh) => !bounds.known.has(sh));
      for (const b of await Promise.all(others.map((sh) => bounds.read(sh)))) watermark = Math.min(watermark, b);
    }
    const due = dueBy(watermark);
    if (due.length === 0) return [];
    const stored = await this.getWindows(due.map((d) => d.w));
    const raiseThrough = async (): Promise<void> => {
      for (const st of stages) {
        // A window closed final is past the provisional stage too.
        const mine = due.filter((d) => d.stage === st.stage || st.stage === 'provisional').map((d) => end(d.w));
        if (mine.length === 0) continue;
        const attr = st.stage === 'final' ? RegistryAttr.closedThrough : RegistryAttr.provisionalThrough;
        await this.update(`registry ${attr}`, {
          Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) },
          UpdateExpression: 'SET #through = :end',
          ConditionExpression: 'attribute_not_exists(#through) OR #through < :end',
          ExpressionAttributeNames: { '#through': attr },
          ExpressionAttributeValues: { ':end': N(Math.max(...mine)) },
        }).catch((e: unknown) => {
          // Another batch raised it further: nothing to do.
          if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
        });
      }
    };
    const toClose = due.filter(({ stage, w }) => {
      const s = stored.get(w);
      return s !== undefined && !s.closed && (stage === 'final' || !s.provisional);
    });
    if (toClose.length === 0) {
      await raiseThrough();
      return [];
    }
    let reference = this.ev.referenceWindowStart ?? registry.reference;
    if (reference === null) {
      const first = Math.min(...toClose.map((d) => d.w));
      const res = await this.update('registry reference window', {
        Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) },
        UpdateExpression: 'SET #ref = if_not_exists(#ref, :w)',
        ExpressionAttributeNames: { '#ref': RegistryAttr.reference },
        ExpressionAttributeValues: { ':w': N(first) },
        ReturnValues: 'UPDATED_NEW',
      });
      reference = numberOf(res?.[RegistryAttr.reference]) ?? (await this.getRegistry()).reference ?? first;
    }
    const refCounts = stored.get(reference)?.counts ?? (await this.getWindows([reference])).get(reference)?.counts;
    // Fitted on the windows final by now: applied to windows whose labels are still to come.
    const calibration = await this.calibration();
    const out: ClosedWindow[] = toClose.map(({ stage, w }) => {
      const c = stored.get(w)!.counts;
      return {
        windowStart: w,
        windowEnd: end(w),
        stage,
        predictions: c.predictions,
        positiveRate: c.predictions === 0 ? null : c.positives / c.predictions,
        psi: windowPsi(refCounts, c),
        reference,
        ...estimated(c, calibration),
        // Each feature's drift with the final figures, once every prediction of the window is in.
        ...(stage === 'final' ? { featurePsi: featurePsi(refCounts, c), featureEmptyShare: featureEmptyShare(c) } : {}),
      };
    });
    await beforeMark?.(out);
    for (const cw of out) {
      const { stage, windowStart: w } = cw;
      // The final stage keeps the estimate it published, to go out again beside the realized figures.
      const kept: Array<[string, number | null]> =
        stage === 'final'
          ? [
              [WindowAttr.estimatedPrecision, cw.estimatedPrecision],
              [WindowAttr.estimatedRecall, cw.estimatedRecall],
              [WindowAttr.estimatedRocAuc, cw.estimatedRocAuc],
              [WindowAttr.estimatedCalibratedOn, cw.estimatedCalibratedOn],
            ]
          : [];
      const defined = kept.filter((k): k is [string, number] => k[1] !== null);
      await this.update(`${stage === 'final' ? 'closed' : 'provisional'} flag of window ${w}`, {
        Key: { pk: S(windowPk(w)), sk: S(WINDOW_SK) },
        UpdateExpression: ['SET #flag = :t', ...defined.map((_, i) => `#e${i} = :e${i}`)].join(', '),
        ExpressionAttributeNames: { '#flag': stage === 'final' ? WindowAttr.closed : WindowAttr.provisional, ...Object.fromEntries(defined.map(([a], i) => [`#e${i}`, a])) },
        ExpressionAttributeValues: { ':t': { BOOL: true }, ...Object.fromEntries(defined.map(([, v], i) => [`:e${i}`, N(v)])) },
      });
    }
    await raiseThrough();
    return out;
  }

  // ---- labels side --------------------------------------------------------------------------------------------

  /**
   * Writes a judged batch of labels from `shard`: each newly joined label onto its prediction (conditional on the
   * prediction having no label, or this very record's), then the joined labels' counts into their windows
   * (above each window's `lck:<shard>` checkpoint, from `windows` as read), then the label clock raised to
   * `clock`. Returns the labels counted into windows now.
   */
  public async recordLabels(shard: string, judged: readonly JudgedLabel[], windows: ReadonlyMap<number, StoredWindow>, clock: number | null): Promise<number> {
    const joined = judged.filter((j) => j.verdict === 'joined' && j.prediction !== undefined);
    // All labels land on their predictions before any window count, so a count never precedes its label.
    await pool(joined.filter((j) => !j.rejoined), LABEL_WRITE_CONCURRENCY, async (j) => {
      const l = j.record.label;
      const ref = labelRef(j.record.shard, j.record.seq);
      try {
        await this.update(`label of prediction ${l.eventId}`, {
          Key: { pk: S(predictionPk(l.key, l.eventId)), sk: S(PREDICTION_SK) },
          UpdateExpression: 'SET #label = :label, #labelTime = :labelTime, #labeledBy = :ref',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#label) OR #labeledBy = :ref)',
          ExpressionAttributeNames: { '#label': PredictionAttr.label, '#labelTime': PredictionAttr.labelTime, '#labeledBy': PredictionAttr.labeledBy },
          ExpressionAttributeValues: { ':label': { BOOL: l.label }, ':labelTime': N(l.labelTime), ':ref': S(ref) },
        });
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException') {
          this.conflicts += 1;
          throw new EvaluationConflictError(`prediction ${l.eventId}`);
        }
        throw e;
      }
    });
    const records = joined.map((j) => ({
      seq: j.record.seq,
      window: j.prediction!.window,
      label: j.record.label.label,
      positive: j.prediction!.positive,
      delayMs: j.record.label.labelTime - j.prediction!.eventTime,
      score: j.prediction!.score,
    }));
    const counted = await this.addCounts(WindowAttr.labelCheckpoint(shard), records, addLabel, windows);
    if (clock !== null) await this.raiseClock(clock);
    return counted;
  }

  /** Raises the label clock to `clock` (never lowers it). */
  public async raiseClock(clock: number): Promise<void> {
    try {
      await this.update('label clock', {
        Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) },
        UpdateExpression: 'SET #clock = :c',
        ConditionExpression: 'attribute_not_exists(#clock) OR #clock < :c',
        ExpressionAttributeNames: { '#clock': RegistryAttr.clock },
        ExpressionAttributeValues: { ':c': N(clock) },
      });
    } catch (e) {
      // Lost only to a clock already at or above ours.
      if (!(e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException')) throw e;
    }
  }

  /**
   * Makes final every open window whose label window has passed by the label clock (start + windowMs +
   * labelWindowMs ≤ clock): computes its measures, marks it final (once) and removes it from the open set.
   * A window already marked final but still open (a crash in between) is returned again: its figures are the same.
   */
  /**
   * `beforeRemove` receives the final windows' measures before they leave the open set (the labels consumer
   * publishes them there): a crash in between repeats them on the retry rather than losing them.
   */
  public async finalizeWindows(beforeRemove?: (final: readonly FinalEvaluationWindow[]) => void | Promise<void>): Promise<FinalEvaluationWindow[]> {
    const registry = await this.getRegistry();
    const clock = registry.clock;
    if (clock === null) return [];
    const due = registry.open.filter((w) => windowFinalAt(w, this.ev) <= clock);
    if (due.length === 0) return [];
    const stored = await this.getWindows(due);
    const out: FinalEvaluationWindow[] = [];
    for (const w of due) {
      const s = stored.get(w);
      if (s !== undefined && !s.final) {
        try {
          await this.update(`final flag of window ${w}`, {
            Key: { pk: S(windowPk(w)), sk: S(WINDOW_SK) },
            UpdateExpression: 'SET #final = :t',
            ConditionExpression: 'attribute_not_exists(#final)',
            ExpressionAttributeNames: { '#final': WindowAttr.final },
            ExpressionAttributeValues: { ':t': { BOOL: true } },
          });
        } catch (e) {
          if (!(e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException')) throw e;
        }
      }
      out.push({ windowStart: w, windowEnd: w + this.ev.windowMs, metrics: windowMetrics(s?.counts ?? emptyCounts(), this.ev.unlabeled), ...(s?.estimated === undefined ? {} : { estimated: s.estimated }) });
    }
    await beforeRemove?.(out);
    // Each final window's labelled predictions into the calibration, once (the windows due are the oldest open ones).
    for (const w of due) {
      const s = stored.get(w);
      if (s !== undefined) await this.addToCalibration(w, s.counts);
    }
    await this.update('registry open windows', {
      Key: { pk: S(REGISTRY_PK), sk: S(REGISTRY_SK) },
      UpdateExpression: 'DELETE #open :w',
      ExpressionAttributeNames: { '#open': RegistryAttr.open },
      ExpressionAttributeValues: { ':w': { NS: due.map(String) } },
    });
    return out;
  }

  /**
   * Adds a final window's labelled predictions (under the unlabeled policy) to the calibration, once: conditional
   * on the calibration's `through` being below the window. Windows become final in the order of their start, so a
   * lost condition means this window (or a later one) is in already. A window made final after a later one (its
   * first prediction came after the later one was final) is left out.
   */
  private async addToCalibration(w: number, c: WindowCounts): Promise<void> {
    const { positives, negatives } = calibrationCounts(c, this.ev.unlabeled);
    const names: Record<string, string> = { '#through': CalibrationAttr.through, '#windows': CalibrationAttr.windows };
    const values: Record<string, AttributeValue> = { ':w': N(w), ':one': N(1) };
    const adds = ['#windows :one'];
    const add = (attr: string, n: number): void => {
      if (n === 0) return;
      const i = adds.length;
      names[`#a${i}`] = attr;
      values[`:a${i}`] = N(n);
      adds.push(`#a${i} :a${i}`);
    };
    positives.forEach((n, i) => add(CalibrationAttr.positiveBin(i), n));
    negatives.forEach((n, i) => add(CalibrationAttr.negativeBin(i), n));
    try {
      await this.update(`calibration with window ${w}`, {
        Key: { pk: S(CALIBRATION_PK), sk: S(CALIBRATION_SK) },
        UpdateExpression: `SET #through = :w ADD ${adds.join(', ')}`,
        ConditionExpression: 'attribute_not_exists(#through) OR #through < :w',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException')) throw e;
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  /**
   * Adds records' counts to their windows above the checkpoint attribute `cpName` (one UpdateItem per window,
   * conditional on the checkpoint as read); a lost condition re-reads that window and recomputes.
   */
  private async addCounts<R extends { seq: string; window: number }>(cpName: string, records: readonly R[], add: (c: WindowCounts, r: R) => void, read?: ReadonlyMap<number, StoredWindow>): Promise<number> {
    if (records.length === 0) return 0;
    const byWindow = new Map<number, R[]>();
    for (const r of records) {
      const list = byWindow.get(r.window) ?? [];
      list.push(r);
      byWindow.set(r.window, list);
    }
    const missing = [...byWindow.keys()].filter((w) => read?.get(w) === undefined);
    const windows = new Map(read ?? []);
    if (read === undefined || missing.length > 0) for (const [w, s] of await this.getWindows(read === undefined ? [...byWindow.keys()] : missing)) windows.set(w, s);
    const counted = await pool([...byWindow], WINDOW_WRITE_CONCURRENCY, async ([w, list]) => {
      let checkpoint = windows.get(w)?.checkpoints.get(cpName) ?? '';
      for (let attempt = 0; ; attempt++) {
        const [delta] = windowDeltas(list, () => checkpoint, add);
        if (delta === undefined) return 0;
        try {
          await this.update(`counts of window ${w}`, countUpdate(w, cpName, checkpoint, delta));
          return delta.records;
        } catch (e) {
          if (!(e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException')) throw e;
          this.conflicts += 1;
          if (attempt + 1 >= CONFLICT_ATTEMPTS) throw new EvaluationConflictError(`counts of window ${w} (${CONFLICT_ATTEMPTS} attempts)`);
          checkpoint = (await this.getWindows([w])).get(w)?.checkpoints.get(cpName) ?? '';
        }
      }
    });
    return counted.reduce((a, b) => a + b, 0);
  }

  private async update(what: string, input: Omit<UpdateItemCommandInput, 'TableName'>): Promise<Item | undefined> {
    await this.gate?.(`UpdateItem ${what}`);
    this.writes += 1;
    try {
      const res = await this.client.send(new UpdateItemCommand({ TableName: this.table, ReturnConsumedCapacity: 'TOTAL', ...input }));
      this.consumedWriteUnits += res.ConsumedCapacity?.CapacityUnits ?? 0;
      return res.Attributes;
    } catch (e) {
      // A lost condition is charged too (at least one unit).
      if ((e as Error).name === 'ConditionalCheckFailedException') this.consumedWriteUnits += 1;
      throw e;
    }
  }
}

/** The UpdateItem adding a delta to a window and moving the shard's checkpoint, conditional on the one read. */
function countUpdate(window: number, cpName: string, checkpointRead: string, d: WindowDelta): Omit<UpdateItemCommandInput, 'TableName'> {
  const names: Record<string, string> = { '#cp': cpName };
  const values: Record<string, AttributeValue> = { ':through': S(padSequence(d.through)) };
  const adds: string[] = [];
  const add = (attr: string, n: number): void => {
    // DynamoDB numbers stop at 1e-130: a smaller term (the square of a score near 0) adds nothing measurable.
    if (Math.abs(n) < 1e-120) return;
    const i = adds.length;
    names[`#a${i}`] = attr;
    values[`:a${i}`] = N(n);
    adds.push(`#a${i} :a${i}`);
  };
  const c = d.counts;
  add(WindowAttr.predictions, c.predictions);
  add(WindowAttr.positives, c.positives);
  c.scoreBins.forEach((n, i) => add(WindowAttr.scoreBin(i), n));
  add(WindowAttr.truePositives, c.truePositives);
  add(WindowAttr.falseNegatives, c.falseNegatives);
  add(WindowAttr.labeledFalsePositives, c.labeledFalsePositives);
  add(WindowAttr.labeledTrueNegatives, c.labeledTrueNegatives);
  c.delayBins.forEach((n, i) => add(WindowAttr.delayBin(i), n));
  // The threshold-free measures' bins: only non-zero ones get an attribute, so the item stays small.
  c.fineBins.forEach((n, i) => add(WindowAttr.fineBin(i), n));
  c.fineScoreSums.forEach((n, r) => add(WindowAttr.fineScoreSum(r), n));
  add(WindowAttr.fineNegativeLogLoss, c.fineNegativeLogLoss);
  add(WindowAttr.fineSquares, c.fineSquares);
  add(WindowAttr.positiveScoreSum, c.positiveScoreSum);
  for (const [name, bins] of Object.entries(c.featureBins)) bins.forEach((n, b) => add(WindowAttr.featureBin(name, b), n));
  c.labelPositiveBins.forEach((n, i) => add(WindowAttr.labelPositiveBin(i), n));
  c.labelNegativeBins.forEach((n, i) => add(WindowAttr.labelNegativeBin(i), n));
  c.labelScoreSums.forEach((n, r) => add(WindowAttr.labelScoreSum(r), n));
  add(WindowAttr.labelLogLoss, c.labelLogLoss);
  add(WindowAttr.labelSquaredError, c.labelSquaredError);
  add(WindowAttr.labelNegativeLogLoss, c.labelNegativeLogLoss);
  add(WindowAttr.labelSquares, c.labelSquares);
  if (checkpointRead !== '') values[':read'] = S(padSequence(checkpointRead));
  return {
    Key: { pk: S(windowPk(window)), sk: S(WINDOW_SK) },
    UpdateExpression: `SET #cp = :through${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
    ConditionExpression: checkpointRead === '' ? 'attribute_not_exists(#cp)' : '#cp = :read',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function estimated(c: WindowCounts, calibration: Calibration | null): Pick<ClosedWindow, 'estimatedPrecision' | 'estimatedRecall' | 'estimatedRocAuc' | 'estimatedCalibratedOn'> {
  const e = estimatedPerformance(c, calibration);
  return { estimatedPrecision: e.precision, estimatedRecall: e.recall, estimatedRocAuc: e.rocAuc, estimatedCalibratedOn: e.calibratedOn };
}

function windowOf(it: Item): StoredWindow {
  const n = (name: string): number => numberOf(it[name]) ?? 0;
  const counts = emptyCounts();
  counts.predictions = n(WindowAttr.predictions);
  counts.positives = n(WindowAttr.positives);
  counts.scoreBins = counts.scoreBins.map((_, i) => n(WindowAttr.scoreBin(i)));
  counts.truePositives = n(WindowAttr.truePositives);
  counts.falseNegatives = n(WindowAttr.falseNegatives);
  counts.labeledFalsePositives = n(WindowAttr.labeledFalsePositives);
  counts.labeledTrueNegatives = n(WindowAttr.labeledTrueNegatives);
  counts.fineBins = counts.fineBins.map((_, i) => n(WindowAttr.fineBin(i)));
  counts.fineScoreSums = counts.fineScoreSums.map((_, r) => n(WindowAttr.fineScoreSum(r)));
  counts.fineNegativeLogLoss = n(WindowAttr.fineNegativeLogLoss);
  counts.fineSquares = n(WindowAttr.fineSquares);
  counts.positiveScoreSum = n(WindowAttr.positiveScoreSum);
  counts.labelPositiveBins = counts.labelPositiveBins.map((_, i) => n(WindowAttr.labelPositiveBin(i)));
  counts.labelNegativeBins = counts.labelNegativeBins.map((_, i) => n(WindowAttr.labelNegativeBin(i)));
  counts.labelScoreSums = counts.labelScoreSums.map((_, r) => n(WindowAttr.labelScoreSum(r)));
  counts.labelLogLoss = n(WindowAttr.labelLogLoss);
  counts.labelSquaredError = n(WindowAttr.labelSquaredError);
  counts.labelNegativeLogLoss = n(WindowAttr.labelNegativeLogLoss);
  counts.labelSquares = n(WindowAttr.labelSquares);
  const checkpoints = new Map<string, string>();
  for (const [name, v] of Object.entries(it)) {
    const d = /^d(\d+)$/.exec(name);
    const f = /^v:(.*):(\d+)$/.exec(name);
    if (f) {
      const bins = (counts.featureBins[f[1]!] ??= new Array<number>(FEATURE_VALUE_BINS).fill(0));
      bins[Number(f[2])] = numberOf(v) ?? 0;
    } else if (d) {
      const i = Number(d[1]);
      while (counts.delayBins.length <= i) counts.delayBins.push(0);
      counts.delayBins[i] = numberOf(v) ?? 0;
    } else if (name.startsWith('pck:') || name.startsWith('lck:')) {
      checkpoints.set(name, unpad(v.S));
    }
  }
  return {
    windowStart: Number(it.pk!.S!.slice(WINDOW_PK_PREFIX.length)),
    counts,
    checkpoints,
    closed: it[WindowAttr.closed]?.BOOL === true,
    provisional: it[WindowAttr.provisional]?.BOOL === true,
    final: it[WindowAttr.final]?.BOOL === true,
    ...(it[WindowAttr.estimatedCalibratedOn] === undefined
      ? {}
      : {
          estimated: {
            precision: numberOf(it[WindowAttr.estimatedPrecision]),
            recall: numberOf(it[WindowAttr.estimatedRecall]),
            rocAuc: numberOf(it[WindowAttr.estimatedRocAuc]),
            calibratedOn: numberOf(it[WindowAttr.estimatedCalibratedOn]) ?? 0,
          },
        }),
  };
}
