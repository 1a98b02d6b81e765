/**
 * Tumbling and sliding windows, built from slices (panes) of width gcd(size, slide): a record updates one slice,
 * and a window is the merge of its size / width slices, fired once the watermark passes its end.
 *
 * A fired window's accumulator stays in `finals` (under "update", for good) while serving may still read it: while
 * its end is after the newest arrival time seen and within `retainMs` of the watermark (see servingRetentionMs).
 * Its slices are dropped, and a slice shared with later windows may since hold records that were late for it.
 */
import type { Aggregator, AnyAcc } from '../aggregates';
import { isBasic } from '../aggregates/basic';
import type { ByteReader, ByteWriter } from '../aggregates/bytes';
import { type SliceGeometry, firstWindowStart, lastWindowEnd, lastWindowStart, nextWindowEndAfter, sliceGeometry, sliceStart } from '../assign';
import type { FeatureSpec, SlidingWindowSpec, TumblingWindowSpec } from '../spec';
import type { SliceEntity } from '../state';
import type { FeatureRuntime, FireSink, OpenWindow, WindowKind } from './kind';
import { AccSliceList, type Panes, SliceList } from './slice-list';

export class SlicedWindows implements WindowKind<SliceEntity> {
  public readonly kind = 'slices';
  public readonly geometry: SliceGeometry;
  private readonly flat: boolean;
  /** Reused for merged windows when the sink keeps no accumulator (flat store only). */
  private readonly scratch: AnyAcc = [0, 0, 0, 0, 0];
  public runtime!: FeatureRuntime;

  public constructor(
    spec: FeatureSpec & { readonly window: TumblingWindowSpec | SlidingWindowSpec },
    private readonly agg: Aggregator<AnyAcc>,
    private readonly keepFinals: boolean,
    /** Longest watermark time a fired window's accumulator is kept for serving (0: not kept, unless for corrections). */
    public readonly retainMs = 0,
  ) {
    this.geometry = sliceGeometry(spec.window);
    this.flat = isBasic(spec.aggregate);
  }

  public create(fi: number, key: string): SliceEntity {
    // Literal objects of one fixed shape each keep property access monomorphic on the hot path.
    const slices: Panes = this.flat ? new SliceList() : new AccSliceList(this.agg);
    return { kind: 'slices', fi, key, finalThrough: -Infinity, lastApplied: Object.create(null) as Record<string, string>, maxEventTime: -Infinity, due: Infinity, timerShard: undefined, mark: 0, slices, finals: this.keepFinals ? new Map() : undefined };
  }

  /** True when fired windows may be kept (for corrections or serving): the stored form then carries them. */
  public get keepsFinals(): boolean {
    return this.keepFinals || this.retainMs > 0;
  }

  public isLate(t: number, horizon: number): boolean {
    return lastWindowEnd(this.geometry, t) <= horizon;
  }

  public add(e: SliceEntity, v: number, t: number): number {
    const g = this.geometry;
    const s = sliceStart(g, t);
    let due = e.due;
    if (e.slices.add(s / g.sliceMs, v, t)) {
      // A new slice can only bring the earliest pending window end forward: O(1), no scan of the slices.
      const firstEnd = firstWindowStart(g, s) + g.sizeMs;
      const candidate = Number.isFinite(e.finalThrough) ? Math.max(firstEnd, nextWindowEndAfter(g, e.finalThrough)) : firstEnd;
      if (candidate < due) due = candidate;
    }
    return due;
  }

  public dueOf(e: SliceEntity): number {
    if (e.slices.size === 0) return Infinity;
    const g = this.geometry;
    const firstEnd = firstWindowStart(g, e.slices.first * g.sliceMs) + g.sizeMs;
    return Number.isFinite(e.finalThrough) ? Math.max(firstEnd, nextWindowEndAfter(g, e.finalThrough)) : firstEnd;
  }

  public fire(e: SliceEntity, w: number, out: FireSink, newestArrival: number): void {
    const g = this.geometry;
    const sl = e.slices;
    const n = sl.size;
    if (n === 0) return;
    // Windows in start order, from the first one still open that holds data to the last one that ends by w.
    let s = firstWindowStart(g, sl.first * g.sliceMs);
    if (Number.isFinite(e.finalThrough)) s = Math.max(s, nextWindowEndAfter(g, e.finalThrough) - g.sizeMs);
    const lastStart = Math.min(lastWindowStart(g, sl.last * g.sliceMs), w - g.sizeMs);
    const perWindow = g.sizeMs / g.sliceMs;
    const scratch = out.retains || !this.flat ? undefined : this.scratch;
    const keep = this.keepsFinals;
    // Records behind their arrival (the normal case) keep nothing: every window they make final ends by then.
    const keepAfter = this.keepFinals ? -Infinity : Math.max(newestArrival, w - this.retainMs);
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
      const acc = sl.mergeFrom(k, from, to, scratch)!;
      // Created only once a window is kept: most keys never need one.
      if (keep && s + g.sizeMs > keepAfter) (e.finals ??= new Map()).set(s, { acc: scratch === undefined ? acc : this.agg.copy(acc), corrected: {} });
      out.window(this.runtime, e.key, s, s + g.sizeMs, acc);
      s += g.slideMs;
    }
    const finals = e.finals;
    if (finals !== undefined && !this.keepFinals) {
      for (const start of finals.keys()) if (start + g.sizeMs <= keepAfter) finals.delete(start);
    }
    // A slice is dropped once the last window holding it is final.
    if (w === Infinity) sl.clear();
    else sl.dropBefore((lastWindowStart(g, w - g.sizeMs) + g.slideMs) / g.sliceMs);
  }

  /** Slices held, and final windows kept for serving (so an idle key's state is not evicted with them). */
  public openCount(e: SliceEntity): number {
    return e.slices.size + (this.keepFinals || e.finals === undefined ? 0 : e.finals.size);
  }

  /**
   * The earliest window still open that contains the newest event — for a sliding window the trailing one
   * ("spend in the last hour"), not the one that just started.
   */
  public current(e: SliceEntity): OpenWindow | undefined {
    if (!Number.isFinite(e.maxEventTime)) return undefined;
    const g = this.geometry;
    let start = firstWindowStart(g, e.maxEventTime);
    if (Number.isFinite(e.finalThrough)) start = Math.max(start, nextWindowEndAfter(g, e.finalThrough) - g.sizeMs);
    if (start > lastWindowStart(g, e.maxEventTime)) return undefined;
    const from = start / g.sliceMs;
    const acc = e.slices.mergeFrom(e.slices.position(from), from, from + g.sizeMs / g.sliceMs);
    return acc === undefined ? undefined : { start, end: start + g.sizeMs, acc };
  }

  /** Slice count, then per slice its index as a delta from the previous one and its accumulator. */
  public write(w: ByteWriter, e: SliceEntity): void {
    const sl = e.slices;
    w.uvarint(sl.size);
    let prev = 0;
    for (let k = 0; k < sl.size; k++) {
      const i = sl.indexAt(k);
      if (k === 0) w.num(i);
      else w.num(i - prev);
      prev = i;
      this.agg.write(w, sl.accAt(k));
    }
  }

  public read(r: ByteReader, e: SliceEntity): void {
    const n = r.uvarint();
    let i = 0;
    for (let k = 0; k < n; k++) {
      i = k === 0 ? r.num() : i + r.num();
      e.slices.set(i, this.agg.read(r));
    }
  }

}
