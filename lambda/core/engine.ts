/**
 * The window engine: processes a batch of records and returns data, not I/O — final windows, corrections,
 * rejected records with reasons, the slices and sessions it changed, watermarks and counters. Replay, the local
 * sandbox and the Lambda consumer all run this code; only where the state lives differs.
 *
 * Assigner, watermark and trigger are kept apart: `assign.ts` maps event times to slices and windows,
 * `watermark.ts` tracks per-shard progress, and windows fire here when their shard's watermark passes their end
 * (event-time timers in `timers.ts`).
 */
import { type Acc, accOf, addInto, copyAcc, mergeInto, resultValue } from './aggregate';
import {
  type SliceGeometry,
  firstWindowStart,
  lastWindowEnd,
  lastWindowStart,
  nextWindowEndAfter,
  sliceGeometry,
  sliceStart,
  windowStartsOf,
} from './assign';
import { type DecodeResult, type DecodedRecord, DEFAULT_MAX_PAYLOAD_BYTES, RecordDecoder } from './record';
import { type FeatureSpec, type PipelineSpec, longestWindowMs } from './spec';
import {
  type Entity,
  type SeenId,
  type SerializedEntity,
  type SessionEntity,
  type SliceEntity,
  compareSeq,
  deserializeEntity,
  serializeEntity,
} from './state';
import { SliceList } from './slices';
import { TimerHeap } from './timers';

export interface EntityRef {
  readonly feature: string;
  readonly key: string;
}
import { type ShardWatermark, observe, watermarkOf } from './watermark';

/** One stream record as delivered: the raw payload plus where and when it arrived. */
export interface InputRecord {
  readonly data: string | Uint8Array;
  readonly shard: string;
  /** Sequence number within the shard (Kinesis sequence number; the line number in replay). */
  readonly seq: string;
  /** Arrival time, epoch ms (Kinesis approximateArrivalTimestamp); no future check without it. */
  readonly arrivalTime?: number;
  /**
   * The payload already decoded by a `RecordDecoder` of the same spec and payload limit (replay decodes on a
   * reader thread); the engine decodes `data` itself when absent.
   */
  readonly decoded?: DecodeResult;
}

export interface WindowResult {
  readonly feature: string;
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly value: number;
  readonly count: number;
}

/** An open window's value as an online store serves it, with the newest event time it includes. */
export interface CurrentWindow extends WindowResult {
  readonly maxEventTime: number;
}

export interface FinalWindow extends WindowResult {
  /** Partial aggregate [count, sum, min, max], so a store can apply later corrections. */
  readonly acc: Acc;
}

/** latePolicy "update": a final window changed by a late record (retract `old`, use `new`). */
export interface Correction {
  readonly feature: string;
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly old: { readonly value: number; readonly count: number } | null;
  readonly new: { readonly value: number; readonly count: number };
  readonly acc: Acc;
  /** Per shard, the last sequence number folded into this window by a correction (so a retry never folds twice). */
  readonly corrected: Record<string, string>;
}

export type RejectReason = 'invalid' | 'future' | 'late';

export interface Rejection {
  readonly reason: RejectReason;
  readonly message: string;
  /** Feature the record was late for (reason "late" only). */
  readonly feature?: string;
  readonly shard: string;
  readonly seq: string;
  /** Shard watermark just before the record (null = −∞). */
  readonly watermark: number | null;
  readonly arrivalTime?: number;
  readonly eventTime?: number;
  readonly key?: string;
  /** The full original payload. */
  readonly data: string | Uint8Array;
}

export interface BatchCounters {
  records: number;
  /** Valid, non-duplicate records applied to at least one window (now or by an earlier delivery). */
  applied: number;
  /** (record, feature) pairs that were late. */
  late: number;
  /** Records late for every feature, hence applied nowhere. */
  lateRecords: number;
  invalid: number;
  future: number;
  duplicates: number;
  /** Records a previous delivery had already applied everywhere (Lambda re-delivery); included in `applied`. */
  redelivered: number;
  finalWindows: number;
  corrections: number;
}

export interface BatchResult {
  readonly finals: FinalWindow[];
  readonly corrections: Correction[];
  readonly rejected: Rejection[];
  /** Entities changed by the batch (applied records or fired windows), to persist once each (with trackChanges). */
  readonly changed: EntityRef[];
  /** Producer ids first seen in this batch, to remember per entity key (with trackChanges). */
  readonly newIds: Array<{ readonly key: string; readonly id: string } & SeenId>;
  /** Watermark of every shard the batch touched, after the batch (null = −∞). */
  readonly watermarks: Record<string, number | null>;
  /** Newest event time applied in the batch, per shard (for freshness). */
  readonly newestApplied: Record<string, number>;
  readonly counters: BatchCounters;
}

export interface BatchPlan {
  readonly keys: string[];
  /** Highest watermark each shard can reach in the batch. */
  readonly watermarkBound: Record<string, number>;
  /** Valid, non-future records of the batch (key, event time, shard): what may correct final windows. */
  readonly candidates: ReadonlyArray<{ readonly key: string; readonly time: number; readonly shard: string }>;
}

export interface EngineOptions {
  /** @default 262144 (256 KiB) */
  readonly maxPayloadBytes?: number;
  /**
   * How long (event time, behind the watermark) a producer id is remembered.
   * @default idRetentionMs(spec): longest window + allowed lateness; forever under "update"
   */
  readonly dedupRetentionMs?: number;
  /**
   * List the entities each batch changed and the producer ids it saw first (the Lambda path persists them; replay
   * does not need them). @default true
   */
  readonly trackChanges?: boolean;
  /**
   * Judge the lateness of a record an earlier delivery already applied, counting it late (without a second dead
   * letter) where the first delivery did. Right only when the watermark is the one from before the batch, as in
   * the consumer, which writes it last; otherwise such a record simply counts as re-delivered.
   * @default false
   */
  readonly judgeRedelivered?: boolean;
  /**
   * Receives each final window as it fires, instead of collecting it in the batch result's `finals` (replay writes
   * them out directly and so never builds the objects). Not allowed with latePolicy "update", whose final windows
   * keep their aggregates for corrections.
   */
  readonly onFinal?: FinalSink;
  /**
   * Fire windows at the end of every batch, found through event-time timers (what the consumer needs: each batch's
   * final windows are written with it). Replay turns this off and calls `fireAllDue()` every few batches instead,
   * which fires what the timers of those batch ends would have fired, as if at each of them: the same windows,
   * values, rejections and counts, in a different order, without a timer per window. @default true
   */
  readonly fireAtBatchEnd?: boolean;
}

/** A final window handed out as it fires: the fields of a `WindowResult`. */
export type FinalSink = (feature: string, key: string, windowStart: number, windowEnd: number, value: number, count: number) => void;

/**
 * How long a producer id is remembered, in event time behind the watermark: the longest window plus allowed
 * lateness. A retry arriving later is late for every window it could belong to (they all end by its event time
 * plus the longest window), so it is rejected as late and cannot be applied twice. Under "update" late records
 * are applied, so ids are kept for good.
 */
export function idRetentionMs(spec: PipelineSpec): number {
  return spec.latePolicy === 'update' ? Infinity : longestWindowMs(spec) + spec.watermark.allowedLatenessMs;
}

const LATE = 1;
const APPLIED = 2;
const REDELIVERED = 4;

/** Everything the engine holds for one entity key. */
interface KeyState {
  /** Per feature (spec order): its entity, once the key has one. */
  readonly ents: (Entity | undefined)[];
  ids: Map<string, SeenId> | undefined;
}

interface FeatureRuntime {
  readonly fi: number;
  readonly spec: FeatureSpec;
  readonly geometry: SliceGeometry | undefined;
  readonly gapMs: number;
}

function emptyCounters(): BatchCounters {
  return {
    records: 0,
    applied: 0,
    late: 0,
    lateRecords: 0,
    invalid: 0,
    future: 0,
    duplicates: 0,
    redelivered: 0,
    finalWindows: 0,
    corrections: 0,
  };
}

class BatchCollector {
  public readonly finals: FinalWindow[] = [];
  public readonly corrections: Correction[] = [];
  public readonly rejected: Rejection[] = [];
  public readonly changed: Entity[] = [];
  public lastShard: string | undefined = undefined;
  public readonly newIds: Array<{ key: string; id: string } & SeenId> = [];
  public readonly shards = new Set<string>();
  public readonly newestApplied: Record<string, number> = {};
  public readonly counters = emptyCounters();
}

export class WindowEngine {
  public readonly spec: PipelineSpec;
  private readonly decoder: RecordDecoder;
  private readonly runtime: FeatureRuntime[];
  private readonly lateness: number;
  private readonly keepFinals: boolean;
  private readonly dedupRetentionMs: number;
  /** Entity key → its state in every feature and its producer-id memory: one lookup per record. */
  private readonly keys = new Map<string, KeyState>();
  private readonly shards = new Map<string, ShardWatermark>();
  private readonly timers = new Map<string, TimerHeap<Entity>>();
  /** Without batch-end firing: per shard, its watermark at each batch end since the last sweep (rising). */
  private readonly batchEnds = new Map<string, number[]>();
  private readonly shardNames = new Map<string, string>();
  private lastShardName: string | undefined;
  private out = new BatchCollector();
  /** Batch number; entities changed in this batch carry it in `mark`. */
  private epoch = 1;
  private batches = 0;
  private readonly trackChanges: boolean;
  private readonly judgeRedelivered: boolean;
  private readonly onFinal: FinalSink | undefined;
  private readonly fireAtBatchEnd: boolean;
  /** Reused for merged windows when a sink takes them (nothing keeps the aggregate). */
  private readonly scratch: Acc = [0, 0, 0, 0];

  public constructor(spec: PipelineSpec, options: EngineOptions = {}) {
    this.spec = spec;
    this.decoder = new RecordDecoder(spec, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
    this.runtime = spec.features.map((f, fi) => ({
      fi,
      spec: f,
      geometry: f.window.type === 'session' ? undefined : sliceGeometry(f.window),
      gapMs: f.window.type === 'session' ? f.window.gapMs : 0,
    }));
    this.lateness = spec.watermark.allowedLatenessMs;
    this.keepFinals = spec.latePolicy === 'update';
    this.dedupRetentionMs = options.dedupRetentionMs ?? idRetentionMs(spec);
    this.trackChanges = options.trackChanges ?? true;
    this.judgeRedelivered = options.judgeRedelivered ?? false;
    this.onFinal = options.onFinal;
    this.fireAtBatchEnd = options.fireAtBatchEnd ?? true;
    if (this.onFinal && this.keepFinals) throw new RangeError('onFinal cannot be used with latePolicy "update": its final windows are kept for corrections');
  }

  // ---- batch processing -------------------------------------------------------------------------------------

  /** Processes records in arrival order, then fires every window its shard's watermark has passed. */
  public processBatch(records: readonly InputRecord[]): BatchResult {
    for (const r of records) this.processRecord(r);
    if (this.fireAtBatchEnd) {
      for (const shard of this.out.shards) this.fireDue(shard, this.watermark(shard));
    } else {
      // Remember where each shard's watermark stood at this batch end, for the sweep to replay its timers.
      for (const shard of this.out.shards) {
        const w = this.watermark(shard);
        let ends = this.batchEnds.get(shard);
        if (!ends) this.batchEnds.set(shard, (ends = []));
        if (Number.isFinite(w) && (ends.length === 0 || ends[ends.length - 1]! < w)) ends.push(w);
      }
    }
    return this.takeResult();
  }

  /**
   * Fires, by a sweep over all keys, what batch-end timers would have fired since the last sweep (see
   * `fireAtBatchEnd`). Call it between batches.
   */
  public fireAllDue(): BatchResult {
    for (const ks of this.keys.values()) for (const e of ks.ents) if (e !== undefined) this.catchUp(e);
    this.batchEnds.clear();
    return this.takeResult();
  }

  /**
   * Without batch-end timers: advances an entity as its timer would have at each batch end since the last sweep
   * (fired at the first batch-end watermark reaching its due time, then again at the first reaching the next).
   * A key's own shard never needs it before a record (that record's watermark is past every batch end), but a
   * record of the key from another shard does: the windows final for the key decide its lateness.
   */
  private catchUp(e: Entity): void {
    if (e.timerShard === undefined) return;
    const ends = this.batchEnds.get(e.timerShard);
    if (ends === undefined || ends.length === 0 || e.due > ends[ends.length - 1]!) return;
    for (let i = firstAtLeast(ends, e.due, 0); i < ends.length; i = firstAtLeast(ends, e.due, i + 1)) this.advance(e, ends[i]!);
  }

  /** End of a bounded input: the watermark becomes +∞ and every open window is final. */
  public flush(): BatchResult {
    for (const ks of this.keys.values()) for (const e of ks.ents) if (e) this.advance(e, Infinity);
    for (const shard of this.shards.keys()) this.out.shards.add(shard);
    return this.takeResult();
  }

  private takeResult(): BatchResult {
    const o = this.out;
    this.out = new BatchCollector();
    this.epoch += 1;
    // Expired ids are already ignored at lookup; pruning only returns their memory, so it need not run often.
    if (++this.batches % 64 === 0) this.pruneSeen();
    const watermarks: Record<string, number | null> = {};
    for (const shard of o.shards) {
      const w = this.watermark(shard);
      watermarks[shard] = Number.isFinite(w) ? w : null;
    }
    return {
      finals: o.finals,
      corrections: o.corrections,
      rejected: o.rejected,
      changed: this.trackChanges ? o.changed.map((e) => ({ feature: this.runtime[e.fi]!.spec.name, key: e.key })) : [],
      newIds: o.newIds,
      watermarks,
      newestApplied: o.newestApplied,
      counters: o.counters,
    };
  }

  private processRecord(r: InputRecord): void {
    const c = this.out.counters;
    c.records += 1;
    const shard = this.shardName(r.shard);
    if (shard !== this.out.lastShard) {
      this.out.shards.add(shard);
      this.out.lastShard = shard;
    }
    const shardState = this.shardState(shard);
    const w = watermarkOf(shardState, this.lateness);
    const wOut = Number.isFinite(w) ? w : null;

    const decoded = r.decoded ?? this.decoder.decode(r.data);
    if (!decoded.ok) {
      c.invalid += 1;
      this.reject(r, 'invalid', decoded.message, wOut);
      return;
    }
    const rec = decoded.record;
    const skew = this.spec.watermark.maxFutureSkewMs;
    if (skew !== undefined && r.arrivalTime !== undefined && rec.time - r.arrivalTime > skew) {
      c.future += 1;
      this.reject(r, 'future', `${this.spec.source.timeField} is ${rec.time - r.arrivalTime} ms ahead of arrival, over maxFutureSkewMs ${skew}`, wOut, rec);
      return;
    }
    observe(shardState, rec.time);
    const ks = this.keyState(rec.key);
    if (rec.id !== undefined && this.isDuplicate(ks, rec.key, rec.id, shard, r.seq, rec.time)) {
      c.duplicates += 1;
      return;
    }

    let applied = false;
    let lateEverywhere = true;
    let alreadyApplied = true;
    for (const f of this.runtime) {
      const outcome = this.applyToFeature(f, rec, shard, r.seq, w, ks);
      if (outcome & LATE) {
        c.late += 1;
        if (outcome & REDELIVERED) {
          // Its dead letter went out with the delivery that applied the record's other features.
        } else if (this.spec.latePolicy === 'dlq' || (this.spec.latePolicy === 'update' && f.geometry === undefined)) {
          // A key also seen on another shard can have windows final beyond this shard's own watermark.
          const through = ks.ents[f.fi]?.finalThrough ?? -Infinity;
          const why = through > w ? `the key's windows are final through ${through} by another shard's watermark; this shard has ${wOut ?? 'none yet'}` : `watermark ${w}`;
          this.reject(r, 'late', `${f.spec.name}: every window of event time ${rec.time} is final (${why})`, wOut, rec, f.spec.name);
        }
      } else {
        lateEverywhere = false;
      }
      if (outcome & APPLIED) {
        applied = true;
        if (!(outcome & REDELIVERED)) alreadyApplied = false;
      }
    }
    if (!applied) {
      if (lateEverywhere) c.lateRecords += 1;
      return;
    }
    c.applied += 1;
    if (alreadyApplied) c.redelivered += 1;
    const prev = this.out.newestApplied[shard];
    if (prev === undefined || rec.time > prev) this.out.newestApplied[shard] = rec.time;
  }

  private isDuplicate(ks: KeyState, key: string, id: string, shard: string, seq: string, time: number): boolean {
    const ids = (ks.ids ??= new Map());
    const first = ids.get(id);
    // An id past its retention counts as unseen at lookup, so the outcome never depends on batch boundaries. It is
    // judged on the retry's own shard: there the retry is then late for every window, so never applied twice.
    if (first === undefined || first.time + this.dedupRetentionMs <= this.watermark(shard)) {
      ids.set(id, { shard, seq, time });
      if (this.trackChanges) this.out.newIds.push({ key, id, shard, seq, time });
      return false;
    }
    // The same Kinesis record delivered again is not a producer duplicate.
    return !(first.shard === shard && first.seq === seq);
  }

  /**
   * Applies a record to one feature. Lateness is judged against the shard watermark before the record (and the
   * entity's own final horizon, which only differs when one key arrives on several shards). A record an earlier
   * delivery already applied (sequence number at or below the entity's last applied one) is judged but not
   * applied again. Returns LATE / APPLIED / REDELIVERED flags.
   */
  private applyToFeature(f: FeatureRuntime, rec: DecodedRecord, shard: string, seq: string, w: number, ks: KeyState): number {
    const existing = ks.ents[f.fi];
    if (!this.fireAtBatchEnd && existing !== undefined && existing.timerShard !== shard) this.catchUp(existing);
    const last = existing?.lastApplied[shard];
    const redelivered = last !== undefined && compareSeq(seq, last) <= 0;
    const horizon = Math.max(w, existing?.finalThrough ?? -Infinity);
    const t = rec.time;

    // A record an earlier delivery already handled is never applied again, nor dead-lettered twice.
    if (redelivered) {
      const late = this.judgeRedelivered && (f.geometry === undefined ? t + f.gapMs <= w : lastWindowEnd(f.geometry, t) <= w);
      // Under "update" a late record of a tumbling or sliding feature was applied to its final windows.
      if (late) return this.keepFinals && f.geometry !== undefined ? LATE | APPLIED | REDELIVERED : LATE | REDELIVERED;
      return APPLIED | REDELIVERED;
    }
    if (f.geometry === undefined) {
      if (t + f.gapMs <= horizon) return LATE;
      const e = (existing ?? this.newEntity(f, rec.key, 'sessions', ks)) as SessionEntity;
      this.advance(e, horizon);
      addSession(e, t, f.gapMs, rec.values[f.fi]!);
      this.touched(e, shard, seq, t, dueOf(f, e));
      return APPLIED;
    }

    const g = f.geometry;
    const lateFlag = lastWindowEnd(g, t) <= horizon ? LATE : 0;
    if (lateFlag && !this.keepFinals) return LATE;
    const e = (existing ?? this.newEntity(f, rec.key, 'slices', ks)) as SliceEntity;
    this.advance(e, horizon);
    const v = rec.values[f.fi]!;
    if (this.keepFinals && firstWindowStart(g, t) + g.sizeMs <= horizon) this.correctFinals(f, e, shard, seq, t, v, horizon);
    let due = e.due;
    if (!lateFlag) {
      const s = sliceStart(g, t);
      if (e.slices.add(s / g.sliceMs, v)) {
        // A new slice can only bring the earliest pending window end forward: O(1), no scan of the slices.
        const firstEnd = firstWindowStart(g, s) + g.sizeMs;
        const candidate = Number.isFinite(e.finalThrough) ? Math.max(firstEnd, nextWindowEndAfter(g, e.finalThrough)) : firstEnd;
        if (candidate < due) due = candidate;
      }
    }
    this.touched(e, shard, seq, t, due);
    return lateFlag | APPLIED;
  }

  /** latePolicy "update": fold a late record into each of its final windows and emit the correction. */
  private correctFinals(f: FeatureRuntime, e: SliceEntity, shard: string, seq: string, t: number, v: number, horizon: number): void {
    const g = f.geometry!;
    const finals = e.finals!;
    for (const s of windowStartsOf(g, t)) {
      if (s + g.sizeMs > horizon) break;
      const state = finals.get(s);
      // Shard ids are input data in replay: an own property only ("__proto__" is a shard name like any other).
      const last = state !== undefined && Object.hasOwn(state.corrected, shard) ? state.corrected[shard] : undefined;
      // Corrections are stored before the key's state: after a crash between the two, a retry finds this record
      // already folded into the window and must not fold it twice.
      if (last !== undefined && compareSeq(seq, last) <= 0) continue;
      const before = state?.acc;
      const after = before ? copyAcc(before) : accOf(v);
      if (before) addInto(after, v);
      const corrected = { ...state?.corrected, [shard]: seq };
      finals.set(s, { acc: after, corrected });
      const kind = f.spec.aggregate;
      this.out.corrections.push({
        feature: f.spec.name,
        key: e.key,
        windowStart: s,
        windowEnd: s + g.sizeMs,
        old: before ? { value: resultValue(kind, before), count: before[0] } : null,
        new: { value: resultValue(kind, after), count: after[0] },
        acc: after,
        corrected,
      });
      this.out.counters.corrections += 1;
    }
  }

  private touched(e: Entity, shard: string, seq: string, t: number, due: number): void {
    e.lastApplied[shard] = seq;
    if (t > e.maxEventTime) e.maxEventTime = t;
    if (e.timerShard !== shard) {
      e.timerShard = shard;
      e.due = due;
      this.schedule(e);
    } else {
      this.setDue(e, due);
    }
    this.markChanged(e);
  }

  private markChanged(e: Entity): void {
    if (e.mark === this.epoch || !this.trackChanges) return;
    e.mark = this.epoch;
    this.out.changed.push(e);
  }

  private reject(r: InputRecord, reason: 'invalid' | 'future' | 'late', message: string, watermark: number | null, rec?: DecodedRecord, feature?: string): void {
    this.out.rejected.push({
      reason,
      message,
      ...(feature === undefined ? {} : { feature }),
      shard: r.shard,
      seq: r.seq,
      watermark,
      ...(r.arrivalTime === undefined ? {} : { arrivalTime: r.arrivalTime }),
      ...(rec ? { eventTime: rec.time, key: rec.key } : {}),
      data: r.data,
    });
  }

  // ---- firing windows ---------------------------------------------------------------------------------------

  /** Fires every window of the entity that ends at or before `w` and drops state no open window needs. */
  private advance(e: Entity, w: number): void {
    if (w <= e.finalThrough) return;
    if (w < e.due) {
      // Nothing fires yet: only the horizon moves (the common case, kept O(1) per record).
      e.finalThrough = w;
      return;
    }
    const f = this.runtime[e.fi]!;
    if (e.kind === 'sessions') {
      while (e.sessions.length > 0 && e.sessions[0]!.end <= w) {
        const s = e.sessions.shift()!;
        this.emitFinal(f, e.key, s.start, s.end, s.acc);
      }
    } else {
      this.fireSlices(f, e, w);
    }
    e.finalThrough = w;
    this.setDue(e, dueOf(f, e));
    this.markChanged(e);
  }

  private fireSlices(f: FeatureRuntime, e: SliceEntity, w: number): void {
    const g = f.geometry!;
    const sl = e.slices;
    const n = sl.size;
    if (n === 0) return;
    // Windows in start order, from the first one still open that holds data to the last one that ends by w.
    let s = firstWindowStart(g, sl.first * g.sliceMs);
    if (Number.isFinite(e.finalThrough)) s = Math.max(s, nextWindowEndAfter(g, e.finalThrough) - g.sizeMs);
    const lastStart = Math.min(lastWindowStart(g, sl.last * g.sliceMs), w - g.sizeMs);
    const perWindow = g.sizeMs / g.sliceMs;
    let k = 0;
    while (s <= lastStart) {
      const from = s / g.sliceMs;
      while (k < n && sl.indexAt(k) < from) k++;
      if (k === n) break;
      const next = sl.indexAt(k);
      const to = from + perWindow;
      if (next >= to) {
        // No data in this window: go straight to the first window holding the next slice.
        s = firstWindowStart(g, next * g.sliceMs);
        continue;
      }
      const acc = sl.mergeFrom(k, from, to, this.onFinal ? this.scratch : undefined)!;
      e.finals?.set(s, { acc, corrected: {} });
      this.emitFinal(f, e.key, s, s + g.sizeMs, acc);
      s += g.slideMs;
    }
    // A slice is dropped once the last window holding it is final.
    if (w === Infinity) sl.clear();
    else sl.dropBefore((lastWindowStart(g, w - g.sizeMs) + g.slideMs) / g.sliceMs);
  }

  private emitFinal(f: FeatureRuntime, key: string, start: number, end: number, acc: Acc): void {
    this.out.counters.finalWindows += 1;
    if (this.onFinal) {
      this.onFinal(f.spec.name, key, start, end, resultValue(f.spec.aggregate, acc), acc[0]);
      return;
    }
    this.out.finals.push({
      feature: f.spec.name,
      key,
      windowStart: start,
      windowEnd: end,
      value: resultValue(f.spec.aggregate, acc),
      count: acc[0],
      acc,
    });
  }

  private fireDue(shard: string, w: number): void {
    const heap = this.timers.get(shard);
    if (!heap) return;
    for (const e of heap.popDue(w)) {
      if (e.timerShard !== shard || e.due > w) continue; // stale entry (or evicted: timerShard cleared)
      this.advance(e, w);
    }
  }

  /** Every change of an entity's due time registers a timer; superseded entries are skipped when popped. */
  private setDue(e: Entity, due: number): void {
    if (due === e.due) return;
    e.due = due;
    this.schedule(e);
  }

  private schedule(e: Entity): void {
    if (e.timerShard === undefined || !Number.isFinite(e.due) || !this.fireAtBatchEnd) return;
    let heap = this.timers.get(e.timerShard);
    if (!heap) {
      heap = new TimerHeap<Entity>();
      this.timers.set(e.timerShard, heap);
    }
    heap.push(e.due, e);
  }

  // ---- state --------------------------------------------------------------------------------------------------

  public watermark(shard: string): number {
    return watermarkOf(this.shardState(shard), this.lateness);
  }

  /**
   * The one string object used for a shard id. Ids arrive as fresh strings on every record; an interned one makes
   * every later map and property lookup by shard skip hashing and comparing its characters.
   */
  private shardName(s: string): string {
    if (s === this.lastShardName) return this.lastShardName;
    let name = this.shardNames.get(s);
    if (name === undefined) {
      // A string used as a property name is interned by the JavaScript engine.
      name = Object.keys({ [s]: 0 })[0]!;
      this.shardNames.set(name, name);
    }
    this.lastShardName = name;
    return name;
  }

  private shardState(shard: string): ShardWatermark {
    let s = this.shards.get(shard);
    if (!s) {
      s = { maxEventTime: null };
      this.shards.set(shard, s);
    }
    return s;
  }

  private keyState(key: string): KeyState {
    let ks = this.keys.get(key);
    if (ks === undefined) {
      ks = { ents: new Array<Entity | undefined>(this.runtime.length).fill(undefined), ids: undefined };
      this.keys.set(key, ks);
    }
    return ks;
  }

  private entity(fi: number, key: string): Entity | undefined {
    return this.keys.get(key)?.ents[fi];
  }

  private newEntity(f: FeatureRuntime, key: string, kind: 'slices' | 'sessions', ks: KeyState = this.keyState(key)): Entity {
    // Literal objects of one fixed shape each keep property access monomorphic on the hot path.
    const e: Entity =
      kind === 'slices'
        ? { kind, fi: f.fi, key, finalThrough: -Infinity, lastApplied: Object.create(null) as Record<string, string>, maxEventTime: -Infinity, due: Infinity, timerShard: undefined, mark: 0, slices: new SliceList(), finals: this.keepFinals ? new Map() : undefined }
        : { kind, fi: f.fi, key, finalThrough: -Infinity, lastApplied: Object.create(null) as Record<string, string>, maxEventTime: -Infinity, due: Infinity, timerShard: undefined, mark: 0, sessions: [] };
    ks.ents[f.fi] = e;
    return e;
  }

  /** Forgets producer ids whose event time is so far behind their shard's watermark that no window takes them. */
  private pruneSeen(): void {
    if (!Number.isFinite(this.dedupRetentionMs)) return;
    for (const ks of this.keys.values()) {
      const ids = ks.ids;
      if (!ids) continue;
      // Ids are inserted roughly in event-time order: prune from the oldest, stop at the first one still needed.
      for (const [id, s] of ids) {
        if (s.time + this.dedupRetentionMs > this.watermark(s.shard)) break;
        ids.delete(id);
      }
      if (ids.size === 0) ks.ids = undefined;
    }
  }

  public get features(): readonly FeatureSpec[] {
    return this.spec.features;
  }

  /** Feature index by name. */
  public featureIndex(name: string): number {
    const fi = this.runtime.findIndex((f) => f.spec.name === name);
    if (fi < 0) throw new RangeError(`unknown feature "${name}"`);
    return fi;
  }

  public getShardWatermark(shard: string): ShardWatermark {
    return { ...this.shardState(shard) };
  }

  public setShardWatermark(shard: string, s: ShardWatermark): void {
    this.shards.set(shard, { ...s });
  }

  /** Loads a persisted entity (Lambda path) and registers its timer. */
  public loadEntity(feature: string, key: string, s: SerializedEntity): void {
    const fi = this.featureIndex(feature);
    const e = deserializeEntity(fi, key, s, this.keepFinals, this.runtime[fi]!.geometry?.sliceMs ?? 1);
    e.due = dueOf(this.runtime[fi]!, e);
    this.keyState(key).ents[fi] = e;
    this.schedule(e);
  }

  /** Loads a persisted final window result (update policy) so a late record can correct it. */
  public loadFinal(feature: string, key: string, windowStart: number, acc: Acc, corrected: Record<string, string> = {}): void {
    const fi = this.featureIndex(feature);
    const e = this.entity(fi, key) ?? this.newEntity(this.runtime[fi]!, key, 'slices');
    if (e.kind === 'slices' && e.finals) e.finals.set(windowStart, { acc: copyAcc(acc), corrected: { ...corrected } });
  }

  public loadSeen(key: string, id: string, s: SeenId): void {
    (this.keyState(key).ids ??= new Map()).set(id, s);
  }

  /**
   * What a batch will need, computed with the same decoding rules before any state is loaded: the entity keys it
   * touches, and per shard an upper bound of the watermark it can reach (so due timers can be fetched).
   */
  public plan(records: readonly InputRecord[]): BatchPlan {
    const keys = new Set<string>();
    const maxTime = new Map<string, number>();
    const lateCandidates: Array<{ key: string; time: number; shard: string }> = [];
    const skew = this.spec.watermark.maxFutureSkewMs;
    for (const r of records) {
      const d = r.decoded ?? this.decoder.decode(r.data);
      if (!d.ok) continue;
      const t = d.record.time;
      if (skew !== undefined && r.arrivalTime !== undefined && t - r.arrivalTime > skew) continue;
      keys.add(d.record.key);
      lateCandidates.push({ key: d.record.key, time: t, shard: r.shard });
      const m = maxTime.get(r.shard);
      if (m === undefined || t > m) maxTime.set(r.shard, t);
    }
    const watermarkBound: Record<string, number> = {};
    for (const [shard, m] of maxTime) watermarkBound[shard] = Math.max(this.watermark(shard), m - this.lateness);
    return { keys: [...keys], watermarkBound, candidates: lateCandidates };
  }

  /**
   * latePolicy "update": the final windows the batch's records may correct, to load before processing. Call once
   * the keys' state is loaded: a window is final for a key up to the larger of its shard's watermark bound and
   * the key's own final horizon.
   */
  public finalsToLoad(plan: BatchPlan): Array<{ feature: string; key: string; windowStart: number }> {
    const out: Array<{ feature: string; key: string; windowStart: number }> = [];
    if (!this.keepFinals) return out;
    for (const c of plan.candidates) {
      const shardBound = plan.watermarkBound[c.shard] ?? -Infinity;
      for (const f of this.runtime) {
        if (!f.geometry) continue;
        const bound = Math.max(shardBound, this.entity(f.fi, c.key)?.finalThrough ?? -Infinity);
        for (const s of windowStartsOf(f.geometry, c.time)) if (s + f.geometry.sizeMs <= bound) out.push({ feature: f.spec.name, key: c.key, windowStart: s });
      }
    }
    return out;
  }

  public exportEntity(ref: EntityRef): { due: number; state: SerializedEntity } | undefined {
    const e = this.entity(this.featureIndex(ref.feature), ref.key);
    if (!e) return undefined;
    return { due: e.due, state: serializeEntity(e, this.runtime[e.fi]!.geometry?.sliceMs ?? 1) };
  }

  /**
   * The value an online store serves now: for tumbling and sliding windows, the earliest window still open that
   * contains the entity's newest event — for a sliding window that is the trailing one ("spend in the last hour"),
   * not the one that just started; for sessions, the newest session.
   */
  public currentValue(ref: EntityRef): CurrentWindow | undefined {
    const e = this.entity(this.featureIndex(ref.feature), ref.key);
    if (!e) return undefined;
    const f = this.runtime[e.fi]!;
    if (!Number.isFinite(e.maxEventTime)) return undefined;
    if (e.kind === 'sessions') {
      const s = e.sessions[e.sessions.length - 1];
      if (!s) return undefined;
      return { feature: f.spec.name, key: e.key, windowStart: s.start, windowEnd: s.end, value: resultValue(f.spec.aggregate, s.acc), count: s.acc[0], maxEventTime: e.maxEventTime };
    }
    const g = f.geometry!;
    let start = firstWindowStart(g, e.maxEventTime);
    if (Number.isFinite(e.finalThrough)) start = Math.max(start, nextWindowEndAfter(g, e.finalThrough) - g.sizeMs);
    if (start > lastWindowStart(g, e.maxEventTime)) return undefined;
    const from = start / g.sliceMs;
    const acc = e.slices.mergeFrom(e.slices.position(from), from, from + g.sizeMs / g.sliceMs);
    if (!acc) return undefined;
    return { feature: f.spec.name, key: e.key, windowStart: start, windowEnd: start + g.sizeMs, value: resultValue(f.spec.aggregate, acc), count: acc[0], maxEventTime: e.maxEventTime };
  }

  /** A key's earliest pending window end over all its features, and the shard whose watermark fires it. */
  public keyTimer(key: string): { due: number; shard: string | undefined } {
    let due = Infinity;
    let shard: string | undefined;
    for (const e of this.keys.get(key)?.ents ?? []) {
      if (e && e.due < due) {
        due = e.due;
        shard = e.timerShard;
      }
    }
    return { due, shard };
  }

  /** Open-state size, for progress reports and memory checks. */
  public stats(): { entities: number; openSlices: number; openSessions: number; rememberedIds: number } {
    let openSlices = 0;
    let openSessions = 0;
    let entities = 0;
    let rememberedIds = 0;
    for (const ks of this.keys.values()) {
      rememberedIds += ks.ids?.size ?? 0;
      for (const e of ks.ents) {
        if (!e) continue;
        entities += 1;
        if (e.kind === 'slices') openSlices += e.slices.size;
        else openSessions += e.sessions.length;
      }
    }
    return { entities, openSlices, openSessions, rememberedIds };
  }

  /** Drops entities with nothing open (replay keeps memory to the open windows). */
  public evictIdle(): void {
    if (this.keepFinals) return;
    for (const [key, ks] of this.keys) {
      let left = 0;
      ks.ents.forEach((e, fi) => {
        if (!e) return;
        const open = e.kind === 'slices' ? e.slices.size : e.sessions.length;
        // Keys seen on several shards keep their final horizon (see applyToFeature).
        if (open === 0 && Object.keys(e.lastApplied).length <= 1) {
          e.timerShard = undefined; // its pending timer entries become stale
          ks.ents[fi] = undefined;
        } else {
          left += 1;
        }
      });
      if (left === 0 && ks.ids === undefined) this.keys.delete(key);
    }
  }
}

/**
 * Merges a new session [t, t+gap) with every open session it overlaps (half-open), in place: the sessions are
 * sorted and disjoint, so the overlapping ones are one run, folded into its first.
 */
function addSession(e: SessionEntity, t: number, gapMs: number, v: number): void {
  const ss = e.sessions;
  const end = t + gapMs;
  let i = 0;
  while (i < ss.length && ss[i]!.end <= t) i++;
  let j = i;
  while (j < ss.length && ss[j]!.start < end) j++;
  if (i === j) {
    ss.splice(i, 0, { start: t, end, acc: accOf(v) });
    return;
  }
  const m = ss[i]!;
  if (t < m.start) m.start = t;
  addInto(m.acc, v);
  let mergedEnd = m.end > end ? m.end : end;
  for (let k = i + 1; k < j; k++) {
    mergeInto(m.acc, ss[k]!.acc);
    if (ss[k]!.end > mergedEnd) mergedEnd = ss[k]!.end;
  }
  m.end = mergedEnd;
  if (j > i + 1) ss.splice(i + 1, j - i - 1);
}

/** Index of the first element ≥ x in the rising array, from index `from` (its length when none). */
function firstAtLeast(a: readonly number[], x: number, from: number): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Earliest end among the entity's open windows (Infinity when none). */
function dueOf(f: FeatureRuntime, e: Entity): number {
  if (e.kind === 'sessions') {
    let due = Infinity;
    for (const s of e.sessions) if (s.end < due) due = s.end;
    return due;
  }
  if (e.slices.size === 0) return Infinity;
  const g = f.geometry!;
  const firstEnd = firstWindowStart(g, e.slices.first * g.sliceMs) + g.sizeMs;
  return Number.isFinite(e.finalThrough) ? Math.max(firstEnd, nextWindowEndAfter(g, e.finalThrough)) : firstEnd;
}
