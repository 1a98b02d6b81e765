/**
 * Point-in-time rows (docs/semantics.md §7, §8): events in arrival order go through the window engine exactly as the replay
 * runs it (sweeps instead of batch-end timers, idle keys evicted), and each label is served, with the one serving
 * function, just before the first event that arrived after its time: a row holds the records that arrived at or
 * before the label's time and no other.
 *
 * Labels are served in time order (sorted once, stably); the engine's batches are cut at label times. Memory holds
 * the engine's open state and the labels' values, never the events.
 *
 * `final` mode (analysis only): the same run goes on to the end of input, and each label reads the final value of
 * the window (or session) holding its time, as every record eventually made it, so the difference from the served
 * rows is what lateness did to the features.
 */
import { type BatchResult, type InputRecord, WindowEngine } from '../../lambda/core/engine';
import { emptyValue, keyShard, serveFeatures } from '../../lambda/core/serving';
import type { PipelineSpec } from '../../lambda/core/spec';
import { SlicedWindows } from '../../lambda/core/windows/sliced';

export type RowMode = 'served' | 'final';

/** An events line that cannot give training rows; the message names the line. */
export class EventsInputError extends Error {
  public constructor(
    public readonly line: number,
    detail: string,
  ) {
    super(`--events line ${line}: ${detail}`);
    this.name = 'EventsInputError';
  }
}

export interface LabelPoint {
  readonly key: string;
  readonly time: number;
}

export interface RowOptions {
  readonly mode?: RowMode;
  /** Records between sweeps that fire due windows and drop idle keys. @default 32000 (the replay's 16 batches of 2000) */
  readonly sweepEveryRecords?: number;
}

/** Replay's sweep cadence: 16 batches of 2000 records. */
const SWEEP_EVERY_RECORDS = 32_000;

export class PointInTimeRows {
  public readonly engine: WindowEngine;
  public readonly mode: RowMode;
  /** Label i, feature f: values[i · features + f]; NaN for null. */
  public readonly values: Float64Array;
  /** 1 when label i has records in at least one feature. */
  public readonly present: Uint8Array;
  /** Label values that are null because the state could not know them (status unavailable). */
  public unavailable = 0;
  /** Event lines read. */
  public events = 0;
  private readonly order: Int32Array;
  private next = 0;
  /** Labels served so far (in final mode: passed in arrival order). */
  public get served(): number {
    return this.next;
  }
  private lastArrival = -Infinity;
  private sinceSweep = 0;
  private readonly sweepEvery: number;
  private readonly shards = new Set<string>();
  private readonly guarded: boolean;
  private readonly labelKeys: Set<string>;
  private readonly keysSeen = new Set<string>();
  private readonly nf: number;
  /** final mode: per feature, window id (key, start) → labels reading it (tumbling, sliding). */
  private readonly wanted: Map<string, number[]>[] = [];
  /** final mode: per session feature, key → labels of that key; and the start of the session each label reads. */
  private readonly sessionWanted: Map<string, number[]>[] = [];
  private readonly sessionStart: Float64Array;
  private done = false;

  public constructor(
    public readonly spec: PipelineSpec,
    private readonly labels: readonly LabelPoint[],
    opts: RowOptions = {},
  ) {
    this.mode = opts.mode ?? 'served';
    this.sweepEvery = opts.sweepEveryRecords ?? SWEEP_EVERY_RECORDS;
    const update = spec.latePolicy === 'update';
    this.engine = new WindowEngine(spec, {
      trackChanges: false,
      fireAtBatchEnd: false,
      // Final windows are only wanted in final mode; under "update" they come back in each batch's result.
      ...(update ? {} : { onFinal: this.mode === 'final' ? (feature, key, start, end, value, count) => this.capture(feature, key, start, end, value, count) : () => undefined }),
    });
    this.nf = spec.features.length;
    this.values = new Float64Array(labels.length * this.nf).fill(NaN);
    this.present = new Uint8Array(labels.length);
    this.sessionStart = new Float64Array(this.mode === 'final' ? labels.length * this.nf : 0).fill(-Infinity);
    this.guarded = spec.watermark.maxFutureSkewMs !== undefined;
    this.labelKeys = new Set(labels.map((l) => l.key));
    const idx = Int32Array.from(labels.keys());
    // Stable: labels at one time are served in file order (same result either way, but deterministic).
    this.order = idx.sort((a, b) => labels[a]!.time - labels[b]!.time || a - b);
    if (this.mode === 'final') this.planFinal();
  }

  /** Events in arrival order (consecutive calls continue one stream). @throws EventsInputError */
  public feed(records: readonly InputRecord[]): void {
    let from = 0;
    const labels = this.labels;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const a = r.arrivalTime;
      if (a === undefined) throw new EventsInputError(Number(r.seq), '"arrivalTime" is missing; training rows need each event\'s arrival time (epoch milliseconds) to know what had arrived by a label\'s time');
      if (a < this.lastArrival) throw new EventsInputError(Number(r.seq), `arrivalTime ${a} is before the previous event's ${this.lastArrival}; give the events in arrival order`);
      this.lastArrival = a;
      // Labels whose time is before this event's arrival see the state without it.
      if (this.next < this.order.length && labels[this.order[this.next]!]!.time < a) {
        if (i > from) this.process(records.slice(from, i));
        from = i;
        while (this.next < this.order.length && labels[this.order[this.next]!]!.time < a) this.serve(this.order[this.next++]!);
      }
      const d = r.decoded;
      if (d !== undefined && d.ok && this.labelKeys.has(d.record.key)) this.keysSeen.add(d.record.key);
    }
    if (from < records.length) this.process(from === 0 ? records : records.slice(from));
    this.events += records.length;
  }

  /** End of the events: labels after the last arrival are served; in final mode the input ends (W = +∞). */
  public finish(): void {
    if (this.done) return;
    this.done = true;
    while (this.next < this.order.length) this.serve(this.order[this.next++]!);
    if (this.mode === 'final') this.take(this.engine.flush());
  }

  /** Distinct label keys no valid event carried. */
  public keysNeverSeen(): number {
    let n = 0;
    for (const k of this.labelKeys) if (!this.keysSeen.has(k)) n += 1;
    return n;
  }

  /** Label i's value of feature f (null when none). */
  public value(i: number, f: number): number | null {
    const v = this.values[i * this.nf + f]!;
    return Number.isNaN(v) ? null : v;
  }

  private process(batch: readonly InputRecord[]): void {
    for (const r of batch) this.shards.add(r.shard);
    this.take(this.engine.processBatch(batch));
    this.sinceSweep += batch.length;
    if (this.sinceSweep >= this.sweepEvery) {
      this.sinceSweep = 0;
      this.take(this.engine.fireAllDue());
      // The batch's own newest arrival: labels before the next record's arrival are still to be served.
      if (this.evictionSafe(batch[batch.length - 1]?.arrivalTime ?? -Infinity)) this.engine.evictIdle();
    }
  }

  /**
   * Dropping an idle key changes nothing serving reads while its windows were final no later than the newest
   * arrival processed (every label still to serve is at or after it, and its window ends after it). With a future guard that always holds (serving.ts keeps
   * what it needs); without one, a record far ahead of its arrival can make windows final past it, and an evicted
   * key would then read empty where its kept state reads "unavailable": eviction waits until arrivals catch up.
   */
  private evictionSafe(newestProcessed: number): boolean {
    if (this.guarded) return true;
    for (const s of this.shards) if (this.engine.watermark(s) > newestProcessed) return false;
    return true;
  }

  private take(result: BatchResult): void {
    if (this.mode !== 'final') return;
    // Under "update": windows as they fire, then corrected (a correction comes after its window's firing).
    for (const w of result.finals) this.capture(w.feature, w.key, w.windowStart, w.windowEnd, w.value, w.count);
    for (const c of result.corrections) this.capture(c.feature, c.key, c.windowStart, c.windowEnd, c.new.value, c.new.count);
  }

  private serve(i: number): void {
    if (this.mode === 'final') return;
    const l = this.labels[i]!;
    const ents = this.engine.keyState(l.key)?.ents ?? [];
    const shard = keyShard(ents);
    const watermark = shard === undefined ? null : this.engine.watermark(shard);
    const served = serveFeatures(this.engine.runtimes, ents, l.time, { watermark, writtenAt: l.time });
    const base = i * this.nf;
    for (let f = 0; f < served.length; f++) {
      const s = served[f]!;
      if (s.value !== null) this.values[base + f] = s.value;
      if (s.count > 0) this.present[i] = 1;
      if (s.status === 'unavailable') this.unavailable += 1;
    }
  }

  // ---- final mode -----------------------------------------------------------------------------------------------

  /** The windows each label reads: for tumbling and sliding features known now; sessions as they fire. */
  private planFinal(): void {
    this.engine.runtimes.forEach((f, fi) => {
      const byWindow = new Map<string, number[]>();
      const byKey = new Map<string, number[]>();
      this.wanted[fi] = byWindow;
      this.sessionWanted[fi] = byKey;
      this.labels.forEach((l, i) => {
        const base = i * this.nf + fi;
        const empty = emptyValue(f.spec);
        this.values[base] = empty ?? NaN;
        if (f.window instanceof SlicedWindows) {
          // The window serving reads: the one holding T that ends soonest.
          const g = f.window.geometry;
          const start = (Math.floor((l.time - g.sizeMs) / g.slideMs) + 1) * g.slideMs;
          const id = `${l.key}\u0000${start}`;
          const list = byWindow.get(id);
          if (list === undefined) byWindow.set(id, [i]);
          else list.push(i);
        } else if (f.window.kind === 'sessions') {
          const list = byKey.get(l.key);
          if (list === undefined) byKey.set(l.key, [i]);
          else list.push(i);
        } else {
          // A global window is never final: it has no value "as eventually known".
          this.values[base] = NaN;
        }
      });
    });
  }

  private capture(feature: string, key: string, start: number, end: number, value: number, count: number): void {
    const fi = this.engine.featureIndex(feature);
    const sliced = this.wanted[fi]!.get(`${key}\u0000${start}`);
    if (sliced !== undefined) {
      for (const i of sliced) this.setFinal(i, fi, value, count);
      return;
    }
    const sessions = this.sessionWanted[fi]!.get(key);
    if (sessions === undefined) return;
    for (const i of sessions) {
      const t = this.labels[i]!.time;
      // As serving reads: of the sessions holding T, the latest-starting one.
      if (start <= t && t < end && start >= this.sessionStart[i * this.nf + fi]!) {
        this.sessionStart[i * this.nf + fi] = start;
        this.setFinal(i, fi, value, count);
      }
    }
  }

  private setFinal(i: number, fi: number, value: number, count: number): void {
    this.values[i * this.nf + fi] = count > 0 ? value : (emptyValue(this.spec.features[fi]!) ?? NaN);
    if (count > 0) this.present[i] = 1;
  }
}
