/**
 * The window engine's front end: processes a batch of records and returns data, not I/O — final windows,
 * global-window firings, corrections, rejected records with reasons, the entities it changed, watermarks and
 * counters. Replay, the local sandbox and the Lambda consumer all run this code; only where the state lives
 * differs.
 *
 * The parts, each in its own module: record checks in the order invalid → future → duplicate → late (here);
 * decoding (record.ts); producer ids (dedup.ts); per-shard watermarks (watermark.ts); window kinds behind one
 * interface (windows/: sliced tumbling and sliding, session, global); accumulators (aggregates/); triggers
 * (triggers.ts); corrections under "update" (corrections.ts); keyed state and its stored form (keyed-state.ts);
 * result types (results.ts).
 */
import type { AnyAcc } from './aggregates';
import { ByteWriter } from './aggregates/bytes';
import { firstWindowStart, lastWindowEnd } from './assign';
import { correctFinals } from './corrections';
import { type IdMemory, type IdTags, ProducerIds, idHash, idRetentionMs, seqTag } from './dedup';
import { type DecodedKeyItem, type ShardProgress } from './key-item';
import { KeyedState, type KeyState } from './keyed-state';
import { DEFAULT_MAX_PAYLOAD_BYTES, type DecodedRecord, RecordDecoder } from './record';
import {
  type AppliedRecord,
  type BatchPlan,
  type BatchResult,
  type Correction,
  type CurrentWindow,
  type EngineOptions,
  type EntityRef,
  type FinalSink,
  type FinalWindow,
  type Firing,
  type InputRecord,
  type Rejection,
  emptyCounters,
} from './results';
import { type FeatureSpec, type PipelineSpec, correctionHorizonMs } from './spec';
import { type Entity, type SliceEntity, compareSeq } from './state';
import { type Advance, EventTimeTimers, SweepTrigger, type Trigger } from './triggers';
import { type ShardWatermark, aheadOfArrival, observe, watermarkOf } from './watermark';
import { type FeatureRuntime, type FireSink, featureRuntimes } from './windows';
import { SlicedWindows } from './windows/sliced';

export * from './results';
export { idRetentionMs } from './dedup';

const LATE = 1;
const APPLIED = 2;
const REDELIVERED = 4;
/** Late beyond the correction horizon under "update": dead-lettered like under "dlq". */
const BEYOND = 8;

class BatchCollector implements FireSink {
  public readonly finals: FinalWindow[] = [];
  public readonly firings: Firing[] = [];
  public readonly corrections: Correction[] = [];
  public readonly rejected: Rejection[] = [];
  public readonly changed: Entity[] = [];
  public lastShard: string | undefined = undefined;
  public readonly idKeys = new Set<string>();
  /** Keys a record of the batch was applied to for the first time (not a re-delivery). */
  public readonly touchedKeys = new Set<string>();
  public readonly shards = new Set<string>();
  public readonly newestApplied: Record<string, number> = {};
  public readonly counters = emptyCounters();
  public readonly applied: AppliedRecord[] = [];
  public readonly retains: boolean;

  public constructor(private readonly onFinal: FinalSink | undefined) {
    this.retains = onFinal === undefined;
  }

  public window(f: FeatureRuntime, key: string, start: number, end: number, acc: AnyAcc): void {
    this.counters.finalWindows += 1;
    const value = f.agg.result(acc);
    const count = f.agg.count(acc);
    if (this.onFinal) this.onFinal(f.spec.name, key, start, end, value, count);
    else this.finals.push({ feature: f.spec.name, key, windowStart: start, windowEnd: end, value, count, acc });
  }

  public firing(f: FeatureRuntime, key: string, n: number, trigger: 'count' | 'time', firedAt: number, acc: AnyAcc): void {
    this.counters.firings += 1;
    this.firings.push({ feature: f.spec.name, key, firing: n, trigger, firedAt, value: f.agg.result(acc), count: f.agg.count(acc) });
  }
}

export class WindowEngine {
  public readonly spec: PipelineSpec;
  private readonly decoder: RecordDecoder;
  private readonly runtime: FeatureRuntime[];
  private readonly featureIndexes: Map<string, number>;
  private readonly lateness: number;
  private readonly keepFinals: boolean;
  /** latePolicy "update": final windows ending this far behind the horizon can no longer be corrected. */
  private readonly correctionHorizon: number;
  private readonly state: KeyedState;
  private readonly ids: ProducerIds;
  private readonly shards = new Map<string, ShardWatermark>();
  private readonly trigger: Trigger;
  private readonly shardNames = new Map<string, string>();
  private lastShardName: string | undefined;
  private readonly onFinal: FinalSink | undefined;
  private out: BatchCollector;
  /** Batch number; entities changed in this batch carry it in `mark`. */
  private epoch = 1;
  private batches = 0;
  private readonly trackChanges: boolean;
  private readonly judgeRedelivered: boolean;
  private readonly collectApplied: boolean;
  private readonly onApplied: ((r: AppliedRecord) => void) | undefined;
  private readonly fireAtBatchEnd: boolean;
  private readonly advanceFn: Advance = (e, w) => this.advance(e, w);
  /** Latest arrival time of any record seen: the earliest time serving reads the state as of. */
  private newestArrival = -Infinity;

  public constructor(spec: PipelineSpec, options: EngineOptions = {}) {
    this.spec = spec;
    this.decoder = new RecordDecoder(spec, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
    this.keepFinals = spec.latePolicy === 'update';
    this.correctionHorizon = correctionHorizonMs(spec);
    this.runtime = featureRuntimes(spec);
    this.featureIndexes = new Map(this.runtime.map((f) => [f.spec.name, f.fi]));
    this.lateness = spec.watermark.allowedLatenessMs;
    this.state = new KeyedState(this.runtime.length);
    this.ids = new ProducerIds(options.dedupRetentionMs ?? idRetentionMs(spec), (s) => this.watermark(s));
    this.trackChanges = options.trackChanges ?? true;
    this.judgeRedelivered = options.judgeRedelivered ?? false;
    this.collectApplied = options.collectApplied ?? false;
    this.onApplied = options.onApplied;
    this.onFinal = options.onFinal;
    this.fireAtBatchEnd = options.fireAtBatchEnd ?? true;
    this.trigger = this.fireAtBatchEnd ? new EventTimeTimers() : new SweepTrigger();
    if (this.onFinal && this.keepFinals) throw new RangeError('onFinal cannot be used with latePolicy "update": its final windows are kept for corrections');
    this.out = new BatchCollector(this.onFinal);
  }

  // ---- batch processing -------------------------------------------------------------------------------------

  /** Processes records in arrival order, then fires (or, without batch-end firing, notes) what each shard's watermark has passed. */
  public processBatch(records: readonly InputRecord[]): BatchResult {
    for (const r of records) this.processRecord(r);
    for (const shard of this.out.shards) this.trigger.batchEnd(shard, this.watermark(shard), this.advanceFn);
    return this.takeResult();
  }

  /** Fires, by a sweep over all keys, what batch-end timers would have fired since the last sweep (see `fireAtBatchEnd`). */
  public fireAllDue(): BatchResult {
    this.trigger.sweep(this.state.entities(), this.advanceFn);
    return this.takeResult();
  }

  /** End of a bounded input: the watermark becomes +∞ and every open window is final. */
  public flush(): BatchResult {
    for (const e of this.state.entities()) this.advance(e, Infinity);
    for (const shard of this.shards.keys()) this.out.shards.add(shard);
    return this.takeResult();
  }

  private takeResult(): BatchResult {
    const o = this.out;
    this.out = new BatchCollector(this.onFinal);
    this.epoch += 1;
    // Expired ids are already ignored at lookup; pruning only returns their memory, so it need not run often.
    if (++this.batches % 64 === 0) {
      const lowest = this.lowestWatermark();
      for (const ks of this.state.keys.values()) {
        if (!ks.ids) continue;
        this.ids.prune(ks.ids, lowest);
        if (ks.ids.size === 0) ks.ids = undefined;
      }
    }
    const watermarks: Record<string, number | null> = {};
    for (const shard of o.shards) {
      const w = this.watermark(shard);
      watermarks[shard] = Number.isFinite(w) ? w : null;
    }
    return {
      finals: o.finals,
      firings: o.firings,
      corrections: o.corrections,
      rejected: o.rejected,
      changed: this.trackChanges ? o.changed.map((e) => ({ feature: this.runtime[e.fi]!.spec.name, key: e.key })) : [],
      idKeys: [...o.idKeys],
      touchedKeys: [...o.touchedKeys],
      watermarks,
      newestApplied: o.newestApplied,
      counters: o.counters,
      applied: o.applied,
    };
  }

  private processRecord(r: InputRecord): void {
    const c = this.out.counters;
    c.records += 1;
    if (r.arrivalTime !== undefined && r.arrivalTime > this.newestArrival) this.newestArrival = r.arrivalTime;
    const shard = this.shardName(r.shard);
    if (shard !== this.out.lastShard) {
      this.out.shards.add(shard);
      this.out.lastShard = shard;
    }
    const shardState = this.shardState(shard);
    if (r.preset !== undefined) this.applyPreset(shardState, r.preset);
    const w = watermarkOf(shardState, this.lateness);
    const wOut = Number.isFinite(w) ? w : null;

    const decoded = r.decoded ?? this.decoder.decode(r.data);
    if (!decoded.ok) {
      c.invalid += 1;
      this.reject(r, 'invalid', decoded.message, wOut, undefined, undefined, decoded.key);
      return;
    }
    const rec = decoded.record;
    const skew = this.spec.watermark.maxFutureSkewMs;
    if (aheadOfArrival(skew, rec.time, r.arrivalTime)) {
      c.future += 1;
      this.reject(r, 'future', `${this.spec.source.timeField} is ${rec.time - r.arrivalTime!} ms ahead of arrival, over maxFutureSkewMs ${skew}`, wOut, rec);
      return;
    }
    observe(shardState, rec.time);
    const wAfter = watermarkOf(shardState, this.lateness);
    const ks = this.state.get(rec.key);
    // A Lambda re-delivery of a record the key already handled is judged below, not taken for a producer retry.
    if (rec.id !== undefined) {
      if (!handledBefore(ks, shard, r.seq)) {
        const tags = this.judgeRedelivered ? (ks.tags ??= new Map()) : undefined;
        if (this.ids.isDuplicate((ks.ids ??= new Map()), ks.paged, rec.id, shard, rec.time, tags, r.seq)) {
          c.duplicates += 1;
          return;
        }
        if (this.trackChanges) this.out.idKeys.add(rec.key);
      } else if (this.judgeRedelivered && isRetryOfAnother(ks, rec.id, r.seq)) {
        // Handled before, as a producer retry of another record: a duplicate again.
        c.duplicates += 1;
        return;
      }
    }

    let applied = false;
    let lateEverywhere = true;
    let alreadyApplied = true;
    for (const f of this.runtime) {
      const outcome = this.applyToFeature(f, rec, shard, r.seq, w, wAfter, ks);
      if (outcome & LATE) {
        c.late += 1;
        if (outcome & REDELIVERED) {
          // Its dead letter went out with the delivery that applied the record's other features.
        } else if (this.spec.latePolicy === 'dlq' || (this.spec.latePolicy === 'update' && (f.window.kind === 'sessions' || outcome & BEYOND))) {
          // A key also seen on another shard can have windows final beyond this shard's own watermark.
          const through = ks.ents[f.fi]?.finalThrough ?? -Infinity;
          let why = through > w ? `the key's windows are final through ${through} by another shard's watermark; this shard has ${wOut ?? 'none yet'}` : `watermark ${w}`;
          if (outcome & BEYOND) why += `, beyond the correction horizon of ${this.correctionHorizon} ms`;
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
    else if (this.trackChanges) this.out.touchedKeys.add(rec.key);
    const prev = this.out.newestApplied[shard];
    if (prev === undefined || rec.time > prev) this.out.newestApplied[shard] = rec.time;
    if (this.collectApplied) {
      const a: AppliedRecord = { key: rec.key, eventId: rec.id ?? `${shard}/${r.seq}`, eventTime: rec.time, arrivalTime: r.arrivalTime, shard, seq: r.seq, redelivered: alreadyApplied };
      this.out.applied.push(a);
      this.onApplied?.(a);
    }
  }

  /**
   * Applies a record to one feature. Lateness is judged against the shard watermark before the record (and the
   * entity's own final horizon, which only differs when one key arrives on several shards). A record an earlier
   * delivery already applied (sequence number at or below the entity's last applied one) is judged but not
   * applied again. `wAfter` is the shard watermark once the record is observed. Returns LATE / APPLIED /
   * REDELIVERED flags.
   */
  private applyToFeature(f: FeatureRuntime, rec: DecodedRecord, shard: string, seq: string, w: number, wAfter: number, ks: KeyState): number {
    const existing = ks.ents[f.fi];
    if (existing !== undefined && existing.timerShard !== shard) this.trigger.catchUp(existing, this.advanceFn);
    const last = existing?.lastApplied[shard];
    const redelivered = last !== undefined && compareSeq(seq, last) <= 0;
    const t = rec.time;
    const kind = f.window;
    const sliced = kind.kind === 'slices';

    // A record an earlier delivery already handled is never applied again, nor dead-lettered twice.
    if (redelivered) {
      const late = this.judgeRedelivered && kind.isLate(t, w);
      // Under "update" a late record of a tumbling or sliding feature was applied to its final windows.
      if (late) {
        const beyond = sliced && lastWindowEnd((kind as SlicedWindows).geometry, t) <= w - this.correctionHorizon;
        return this.keepFinals && sliced && !beyond ? LATE | APPLIED | REDELIVERED : LATE | REDELIVERED;
      }
      return APPLIED | REDELIVERED;
    }
    const horizon = Math.max(w, existing?.finalThrough ?? -Infinity);
    const lateFlag = kind.isLate(t, horizon) ? LATE : 0;
    if (lateFlag && !(this.keepFinals && sliced)) return LATE;
    // Under "update" a record whose every window ended beyond the correction horizon corrects nothing.
    if (lateFlag && lastWindowEnd((kind as SlicedWindows).geometry, t) <= horizon - this.correctionHorizon) return LATE | BEYOND;
    const e = existing ?? this.newEntity(f, rec.key, ks);
    // A global window is never late: it fires what its shard's watermark after this record reached before taking
    // it (its own shard's: another shard's horizon says nothing of this shard's multiples of everyMs).
    this.advance(e, kind.kind === 'global' ? wAfter : horizon);
    const v = rec.values[f.fi]!;
    if (sliced && this.keepFinals) {
      const g = (kind as SlicedWindows).geometry;
      if (firstWindowStart(g, t) + g.sizeMs <= horizon) {
        const before = this.out.corrections.length;
        correctFinals(f, e as SliceEntity, shard, seq, t, v, horizon, horizon - this.correctionHorizon, this.out.corrections);
        this.out.counters.corrections += this.out.corrections.length - before;
      }
    }
    const due = lateFlag ? e.due : kind.add(e, v, t, wAfter, this.out);
    this.touched(e, shard, seq, t, due);
    return lateFlag | APPLIED;
  }

  private touched(e: Entity, shard: string, seq: string, t: number, due: number): void {
    e.lastApplied[shard] = seq;
    if (t > e.maxEventTime) e.maxEventTime = t;
    if (e.timerShard !== shard) {
      e.timerShard = shard;
      e.due = due;
      this.trigger.schedule(e);
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

  private reject(r: InputRecord, reason: 'invalid' | 'future' | 'late', message: string, watermark: number | null, rec?: DecodedRecord, feature?: string, key?: string): void {
    this.out.rejected.push({
      reason,
      message,
      ...(feature === undefined ? {} : { feature }),
      shard: r.shard,
      seq: r.seq,
      watermark,
      ...(r.arrivalTime === undefined ? {} : { arrivalTime: r.arrivalTime }),
      ...(rec ? { eventTime: rec.time, key: rec.key } : key !== undefined ? { key } : {}),
      data: r.data,
    });
  }

  /** Fires every window of the entity that a watermark of `w` makes due and drops state no open window needs. */
  private advance(e: Entity, w: number): void {
    if (e.kind === 'global') {
      // Never final, so no horizon gates it: a time trigger fires whenever a watermark reaches its due time, even
      // after a higher watermark of another shard passed by (a key on several shards).
      if (w > e.finalThrough) e.finalThrough = w;
      if (w < e.due) return;
    } else if (w <= e.finalThrough) return;
    if (w < e.due) {
      // Nothing fires yet: only the horizon moves (the common case, kept O(1) per record).
      e.finalThrough = w;
      return;
    }
    const kind = this.runtime[e.fi]!.window;
    kind.fire(e, w, this.out, this.newestArrival);
    if (w > e.finalThrough) e.finalThrough = w;
    // Under "update", beyond the correction horizon, unless serving may still read them (sliced.ts prunes otherwise).
    if (this.keepFinals && e.kind === 'slices') {
      const k = kind as SlicedWindows;
      pruneFinals(e, k.geometry.sizeMs, Math.min(e.finalThrough - this.correctionHorizon, Math.max(this.newestArrival, e.finalThrough - k.retainMs)));
    }
    this.setDue(e, kind.dueOf(e));
    this.markChanged(e);
  }

  /** Every change of an entity's due time registers a timer; superseded entries are skipped when popped. */
  private setDue(e: Entity, due: number): void {
    if (due === e.due) return;
    e.due = due;
    this.trigger.schedule(e);
  }

  // ---- state --------------------------------------------------------------------------------------------------

  private applyPreset(s: ShardWatermark, p: NonNullable<InputRecord['preset']>): void {
    if (p.shardMax !== null && (s.maxEventTime === null || p.shardMax > s.maxEventTime)) s.maxEventTime = p.shardMax;
    if (p.newestArrival !== null && p.newestArrival > this.newestArrival) this.newestArrival = p.newestArrival;
  }

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

  private newEntity(f: FeatureRuntime, key: string, ks: KeyState = this.state.get(key)): Entity {
    const e = f.window.create(f.fi, key);
    ks.ents[f.fi] = e;
    return e;
  }

  public get features(): readonly FeatureSpec[] {
    return this.spec.features;
  }

  /** Feature index by name (found per final window when the consumer encodes its accumulator: a map, not a scan). */
  public featureIndex(name: string): number {
    const fi = this.featureIndexes.get(name);
    if (fi === undefined) throw new RangeError(`unknown feature "${name}"`);
    return fi;
  }

  public getShardWatermark(shard: string): ShardWatermark {
    return { ...this.shardState(shard) };
  }

  public setShardWatermark(shard: string, s: ShardWatermark): void {
    this.shards.set(shard, { ...s });
  }

  /**
   * A quiet shard's event-time maximum moved by the clock (docs/semantics.md §12): raised to `maxEventTime` (never lowered),
   * and the shard's due windows fire at the next processBatch, as after a record.
   */
  public advanceQuietShard(shard: string, maxEventTime: number): void {
    const name = this.shardName(shard);
    observe(this.shardState(name), maxEventTime);
    this.out.shards.add(name);
  }

  /** Loads a key's stored item (Lambda path): its entities, with their timers, and its inline producer ids. */
  public loadKey(key: string, item: DecodedKeyItem): void {
    const ks = this.state.get(key);
    item.ents.forEach((e, fi) => {
      if (e === undefined) return;
      ks.ents[fi] = e;
      this.trigger.schedule(e);
    });
    if (item.ids.size > 0) ks.ids = new Map(item.ids);
    if (item.tags.size > 0) ks.tags = new Map(item.tags);
  }

  /**
   * Advances a loaded key's entities, without emitting anything, through the watermark up to which their timer
   * shard's timers already fired (`firedThrough`): those windows were emitted by an earlier batch that did not
   * rewrite the key's item.
   */
  public skipFired(key: string, firedThrough: (shard: string) => number): void {
    const ks = this.state.keys.get(key);
    if (ks === undefined) return;
    const out = this.out;
    this.out = new BatchCollector(undefined);
    try {
      for (const e of ks.ents) {
        if (e === undefined || e.timerShard === undefined) continue;
        const w = firedThrough(e.timerShard);
        if (Number.isFinite(w)) this.advance(e, w);
        // Listed as changed only by what the batch does next.
        e.mark = 0;
      }
    } finally {
      this.out = out;
    }
  }

  /** Adds older producer ids of a key (the consumer's id pages), consulted but never written back with the key. */
  public loadOlderIds(key: string, ids: IdMemory, tags?: IdTags): void {
    const ks = this.state.get(key);
    if (ks.paged === undefined) ks.paged = new Map(ids);
    else for (const [h, t] of ids) ks.paged.set(h, t);
    if (tags !== undefined && tags.size > 0) {
      ks.tags ??= new Map();
      for (const [h, g] of tags) if (!ks.tags.has(h)) ks.tags.set(h, g);
    }
  }

  /** A key's state as the engine holds it (the consumer encodes it; serving reads it). */
  public keyState(key: string): KeyState | undefined {
    return this.state.keys.get(key);
  }

  /** The features as the engine runs them (for the key item codec). */
  public get runtimes(): readonly FeatureRuntime[] {
    return this.runtime;
  }

  /**
   * A key's progress per shard, to store with it: the last sequence number applied (over its features) and the
   * shard's newest event time now. `before` is the stored progress, kept for shards this batch did not touch.
   */
  public keyProgress(key: string, before?: ReadonlyMap<string, ShardProgress>): Map<string, ShardProgress> {
    const out = new Map<string, ShardProgress>(before ?? []);
    for (const e of this.state.keys.get(key)?.ents ?? []) {
      if (e === undefined) continue;
      for (const shard of Object.keys(e.lastApplied)) {
        const seq = e.lastApplied[shard]!;
        const prev = out.get(shard);
        if (prev !== undefined && compareSeq(seq, prev.lastApplied) < 0) continue;
        const known = this.shards.get(shard)?.maxEventTime ?? null;
        out.set(shard, { lastApplied: seq, maxEventTime: known ?? prev?.maxEventTime ?? null });
      }
    }
    return out;
  }

  /** The key's inline producer ids still within retention (the consumer writes them back). */
  public liveIds(key: string): IdMemory {
    const ids = this.state.keys.get(key)?.ids;
    if (ids === undefined) return new Map();
    const out: IdMemory = new Map();
    const lowest = this.lowestWatermark();
    for (const [h, t] of ids) if (this.ids.live(t, lowest)) out.set(h, t);
    return out;
  }

  /** True while ids first seen at event time `time` must still be remembered. */
  public idLive(time: number): boolean {
    return this.ids.live(time, this.lowestWatermark());
  }

  private lowestWatermark(): number {
    let lowest = Infinity;
    for (const shard of this.shards.keys()) lowest = Math.min(lowest, this.watermark(shard));
    return Number.isFinite(lowest) ? lowest : -Infinity;
  }

  /** The byte form of a feature's accumulator. */
  public accBytes(feature: string, acc: AnyAcc): Uint8Array {
    const w = new ByteWriter();
    this.runtime[this.featureIndex(feature)]!.agg.write(w, acc);
    return w.finish();
  }

  /**
   * What a batch will need, computed with the same decoding rules before any state is loaded: the entity keys it
   * touches, and per shard an upper bound of the watermark it can reach (so due timers can be fetched).
   */
  public plan(records: readonly InputRecord[]): BatchPlan {
    const keys = new Set<string>();
    const maxTime = new Map<string, number>();
    const idMinTime = new Map<string, number>();
    const skew = this.spec.watermark.maxFutureSkewMs;
    for (const r of records) {
      const raised = r.preset?.shardMax;
      if (raised !== undefined && raised !== null && !(maxTime.get(r.shard)! >= raised)) maxTime.set(r.shard, raised);
      const d = r.decoded ?? this.decoder.decode(r.data);
      if (!d.ok) continue;
      const t = d.record.time;
      if (skew !== undefined && r.arrivalTime !== undefined && t - r.arrivalTime > skew) continue;
      keys.add(d.record.key);
      if (d.record.id !== undefined) {
        const first = idMinTime.get(d.record.key);
        if (first === undefined || t < first) idMinTime.set(d.record.key, t);
      }
      const m = maxTime.get(r.shard);
      if (m === undefined || t > m) maxTime.set(r.shard, t);
    }
    const watermarkBound: Record<string, number> = {};
    for (const [shard, m] of maxTime) watermarkBound[shard] = Math.max(this.watermark(shard), m - this.lateness);
    return { keys: [...keys], watermarkBound, idKeys: [...idMinTime.keys()], idMinTime };
  }

  /**
   * The value a reader sees now: for tumbling and sliding windows, the earliest window still open that contains
   * the entity's newest event; for sessions, the newest session; for a global window, its contents.
   */
  public currentValue(ref: EntityRef): CurrentWindow | undefined {
    const f = this.runtime[this.featureIndex(ref.feature)]!;
    const e = this.state.entity(f.fi, ref.key);
    if (!e) return undefined;
    const open = f.window.current(e);
    if (!open) return undefined;
    return {
      feature: f.spec.name,
      key: e.key,
      windowStart: open.start,
      windowEnd: open.end,
      value: f.agg.result(open.acc),
      count: f.agg.count(open.acc),
      maxEventTime: e.maxEventTime,
    };
  }

  /**
   * A key's earliest pending due time per timer shard: an entity is fired by its own shard's watermark, so each
   * shard's timers must list the key for the entities it fires (several shards only around resharding).
   */
  public keyTimersByShard(key: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.state.keys.get(key)?.ents ?? []) {
      if (e === undefined || e.timerShard === undefined || !Number.isFinite(e.due)) continue;
      const d = out.get(e.timerShard);
      if (d === undefined || e.due < d) out.set(e.timerShard, e.due);
    }
    return out;
  }

  /** Every key the engine holds state for. */
  public keys(): IterableIterator<string> {
    return this.state.keys.keys();
  }

  /** Open-state size, for progress reports and memory checks. */
  public stats(): { entities: number; openSlices: number; openSessions: number; rememberedIds: number } {
    return this.state.stats(this.runtime);
  }

  /** Drops entities with nothing open (replay keeps memory to the open windows). */
  public evictIdle(): void {
    if (this.keepFinals) return;
    let lowest = Infinity;
    for (const shard of this.shards.keys()) lowest = Math.min(lowest, this.watermark(shard));
    this.state.evictIdle(this.runtime, lowest);
  }
}

/** True when the key remembers `id` as first seen in a record other than this one (by sequence-number tag). */
function isRetryOfAnother(ks: KeyState, id: string, seq: string): boolean {
  const tag = ks.tags?.get(idHash(id));
  return tag !== undefined && tag !== seqTag(seq);
}

/** True when the key already applied a record at or after `seq` from `shard` (so this one is a re-delivery). */
function handledBefore(ks: KeyState, shard: string, seq: string): boolean {
  for (const e of ks.ents) {
    const last = e?.lastApplied[shard];
    if (last !== undefined && compareSeq(seq, last) <= 0) return true;
  }
  return false;
}

/** Forgets final windows ending at or before `through`: no late record can correct them any more. */
function pruneFinals(e: SliceEntity, sizeMs: number, through: number): void {
  for (const s of e.finals!.keys()) if (s + sizeMs <= through) e.finals!.delete(s);
}
