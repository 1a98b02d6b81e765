/**
 * The open slices (panes) of one entity, sorted by slice index. Two stores behind one interface: `SliceList` for
 * count/sum/min/max/avg, flat numbers; `AccSliceList` for every other aggregate, one accumulator object a slice.
 *
 * SliceList: the open slices (panes) of one entity, sorted by slice index. Records mostly arrive in event-time order, so a
 * new slice is nearly always appended; firing walks the list once instead of probing every slot of every window
 * (a sliding 1 h / 5 min window has 12 slots, most of them empty for a quiet key). Slices are stored flat, six
 * numbers each (index, count, sum, min, max, sum compensation), so an update touches one array rather than an object per slice.
 */
import type { Aggregator, AnyAcc } from '../aggregates';
import { type Acc, sumError } from '../aggregates/basic';

export interface Panes {
  readonly size: number;
  /** Smallest open slice index (Infinity when empty). */
  readonly first: number;
  /** Largest open slice index (−Infinity when empty). */
  readonly last: number;
  /** Folds a record's value (event time t) into slice `i`; returns true when the slice is new. */
  add(i: number, v: number, t: number): boolean;
  /** Sets slice `i` (loading persisted state). */
  set(i: number, acc: AnyAcc): void;
  /** Position (0-based slice number) of the first slice with index ≥ i. */
  position(i: number): number;
  indexAt(k: number): number;
  /** The aggregate at position k (a copy for the flat store; the stored object for the other). */
  accAt(k: number): AnyAcc;
  /**
   * Merge of the slices with index in [from, to), starting at position `k` (≤ the first of them), as a new
   * accumulator (or, flat store only, into `into`); undefined when none holds data.
   */
  mergeFrom(k: number, from: number, to: number, into?: AnyAcc): AnyAcc | undefined;
  /** Drops every slice with index < i. */
  dropBefore(i: number): void;
  clear(): void;
}

const W = 6;

export class SliceList implements Panes {
  /** [index, count, sum, min, max] per slice, by ascending slice index (slice start / slice width). */
  private readonly d: number[] = [];

  public get size(): number {
    return this.d.length / W;
  }

  public get first(): number {
    return this.d.length > 0 ? this.d[0]! : Infinity;
  }

  public get last(): number {
    return this.d.length > 0 ? this.d[this.d.length - W]! : -Infinity;
  }

  public add(i: number, v: number): boolean {
    const d = this.d;
    let p = d.length;
    // Search from the end: the newest slice is the usual target.
    while (p > 0 && d[p - W]! > i) p -= W;
    if (p > 0 && d[p - W] === i) {
      const q = p - W;
      d[q + 1]! += 1;
      const s = d[q + 2]!;
      const t = s + v;
      d[q + 5]! += sumError(s, v, t);
      d[q + 2] = t;
      if (v < d[q + 3]!) d[q + 3] = v;
      if (v > d[q + 4]!) d[q + 4] = v;
      return false;
    }
    if (p === d.length) d.push(i, 1, v, v, v, 0);
    else d.splice(p, 0, i, 1, v, v, v, 0);
    return true;
  }

  public set(i: number, a: AnyAcc): void {
    const acc = a as Acc;
    const d = this.d;
    let p = d.length;
    while (p > 0 && d[p - W]! > i) p -= W;
    if (p > 0 && d[p - W] === i) d.splice(p - W, W, i, acc[0], acc[1], acc[2], acc[3], acc[4]);
    else d.splice(p, 0, i, acc[0], acc[1], acc[2], acc[3], acc[4]);
  }

  public position(i: number): number {
    const d = this.d;
    let lo = 0;
    let hi = d.length / W;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (d[mid * W]! < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  public indexAt(k: number): number {
    return this.d[k * W]!;
  }

  public accAt(k: number): Acc {
    const q = k * W;
    const d = this.d;
    return [d[q + 1]!, d[q + 2]!, d[q + 3]!, d[q + 4]!, d[q + 5]!];
  }

  public mergeFrom(k: number, from: number, to: number, scratch?: AnyAcc): Acc | undefined {
    const into = scratch as Acc | undefined;
    const d = this.d;
    const end = d.length;
    let q = k * W;
    while (q < end && d[q]! < from) q += W;
    if (q >= end || d[q]! >= to) return undefined;
    let c = d[q + 1]!;
    let sum = d[q + 2]!;
    let mn = d[q + 3]!;
    let mx = d[q + 4]!;
    let comp = d[q + 5]!;
    for (q += W; q < end && d[q]! < to; q += W) {
      c += d[q + 1]!;
      const v = d[q + 2]!;
      const t = sum + v;
      comp += sumError(sum, v, t) + d[q + 5]!;
      sum = t;
      if (d[q + 3]! < mn) mn = d[q + 3]!;
      if (d[q + 4]! > mx) mx = d[q + 4]!;
    }
    if (into === undefined) return [c, sum, mn, mx, comp];
    into[0] = c;
    into[1] = sum;
    into[2] = mn;
    into[3] = mx;
    into[4] = comp;
    return into;
  }

  public dropBefore(i: number): void {
    if (this.d.length === 0 || this.d[0]! >= i) return;
    this.d.splice(0, this.position(i) * W);
  }

  public clear(): void {
    this.d.length = 0;
  }
}

/** Slices of any aggregate: parallel arrays of slice indexes and accumulators, by ascending index. */
export class AccSliceList implements Panes {
  private readonly idx: number[] = [];
  private readonly accs: AnyAcc[] = [];

  public constructor(private readonly agg: Aggregator<AnyAcc>) {}

  public get size(): number {
    return this.idx.length;
  }

  public get first(): number {
    return this.idx.length > 0 ? this.idx[0]! : Infinity;
  }

  public get last(): number {
    return this.idx.length > 0 ? this.idx[this.idx.length - 1]! : -Infinity;
  }

  private slot(i: number): number {
    let p = this.idx.length;
    while (p > 0 && this.idx[p - 1]! > i) p--;
    return p;
  }

  public add(i: number, v: number, t: number): boolean {
    const p = this.slot(i);
    if (p > 0 && this.idx[p - 1] === i) {
      this.agg.add(this.accs[p - 1], v, t);
      return false;
    }
    this.idx.splice(p, 0, i);
    this.accs.splice(p, 0, this.agg.of(v, t));
    return true;
  }

  public set(i: number, acc: AnyAcc): void {
    const p = this.slot(i);
    if (p > 0 && this.idx[p - 1] === i) this.accs[p - 1] = acc;
    else {
      this.idx.splice(p, 0, i);
      this.accs.splice(p, 0, acc);
    }
  }

  public position(i: number): number {
    let lo = 0;
    let hi = this.idx.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.idx[mid]! < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  public indexAt(k: number): number {
    return this.idx[k]!;
  }

  public accAt(k: number): AnyAcc {
    return this.accs[k];
  }

  public mergeFrom(k: number, from: number, to: number): AnyAcc | undefined {
    const n = this.idx.length;
    let q = k;
    while (q < n && this.idx[q]! < from) q++;
    if (q >= n || this.idx[q]! >= to) return undefined;
    const out = this.agg.copy(this.accs[q]);
    for (q++; q < n && this.idx[q]! < to; q++) this.agg.mergeInto(out, this.accs[q]);
    return out;
  }

  public dropBefore(i: number): void {
    if (this.idx.length === 0 || this.idx[0]! >= i) return;
    const p = this.position(i);
    this.idx.splice(0, p);
    this.accs.splice(0, p);
  }

  public clear(): void {
    this.idx.length = 0;
    this.accs.length = 0;
  }
}
