/**
 * The open slices (panes) of one entity, sorted by slice index. Records mostly arrive in event-time order, so a
 * new slice is nearly always appended; firing walks the list once instead of probing every slot of every window
 * (a sliding 1 h / 5 min window has 12 slots, most of them empty for a quiet key). Slices are stored flat, five
 * numbers each (index, count, sum, min, max), so an update touches one array rather than an object per slice.
 */
import type { Acc } from './aggregate';

const W = 5;

export class SliceList {
  /** [index, count, sum, min, max] per slice, by ascending slice index (slice start / slice width). */
  private readonly d: number[] = [];

  public get size(): number {
    return this.d.length / W;
  }

  /** Smallest open slice index (Infinity when empty). */
  public get first(): number {
    return this.d.length > 0 ? this.d[0]! : Infinity;
  }

  /** Largest open slice index (−Infinity when empty). */
  public get last(): number {
    return this.d.length > 0 ? this.d[this.d.length - W]! : -Infinity;
  }

  /** Folds a value into slice `i`; returns true when the slice is new. */
  public add(i: number, v: number): boolean {
    const d = this.d;
    let p = d.length;
    // Search from the end: the newest slice is the usual target.
    while (p > 0 && d[p - W]! > i) p -= W;
    if (p > 0 && d[p - W] === i) {
      const q = p - W;
      d[q + 1]! += 1;
      d[q + 2]! += v;
      if (v < d[q + 3]!) d[q + 3] = v;
      if (v > d[q + 4]!) d[q + 4] = v;
      return false;
    }
    if (p === d.length) d.push(i, 1, v, v, v);
    else d.splice(p, 0, i, 1, v, v, v);
    return true;
  }

  /** Sets slice `i` (loading persisted state). */
  public set(i: number, acc: Acc): void {
    const d = this.d;
    let p = d.length;
    while (p > 0 && d[p - W]! > i) p -= W;
    if (p > 0 && d[p - W] === i) d.splice(p - W, W, i, acc[0], acc[1], acc[2], acc[3]);
    else d.splice(p, 0, i, acc[0], acc[1], acc[2], acc[3]);
  }

  /** Position (0-based slice number) of the first slice with index ≥ i. */
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

  /** A copy of the aggregate at position k. */
  public accAt(k: number): Acc {
    const q = k * W;
    const d = this.d;
    return [d[q + 1]!, d[q + 2]!, d[q + 3]!, d[q + 4]!];
  }

  /**
   * Merge of the slices with index in [from, to), starting at position `k` (≤ the first of them), as a new
   * accumulator or into `into`; undefined when none holds data.
   */
  public mergeFrom(k: number, from: number, to: number, into?: Acc): Acc | undefined {
    const d = this.d;
    const end = d.length;
    let q = k * W;
    while (q < end && d[q]! < from) q += W;
    if (q >= end || d[q]! >= to) return undefined;
    let c = d[q + 1]!;
    let sum = d[q + 2]!;
    let mn = d[q + 3]!;
    let mx = d[q + 4]!;
    for (q += W; q < end && d[q]! < to; q += W) {
      c += d[q + 1]!;
      sum += d[q + 2]!;
      if (d[q + 3]! < mn) mn = d[q + 3]!;
      if (d[q + 4]! > mx) mx = d[q + 4]!;
    }
    if (into === undefined) return [c, sum, mn, mx];
    into[0] = c;
    into[1] = sum;
    into[2] = mn;
    into[3] = mx;
    return into;
  }

  /** Drops every slice with index < i. */
  public dropBefore(i: number): void {
    if (this.d.length === 0 || this.d[0]! >= i) return;
    this.d.splice(0, this.position(i) * W);
  }

  public clear(): void {
    this.d.length = 0;
  }

  /** [index, aggregate] pairs in index order (aggregates are copies). */
  public entries(): Array<[number, Acc]> {
    const out: Array<[number, Acc]> = [];
    for (let k = 0; k < this.size; k++) out.push([this.indexAt(k), this.accAt(k)]);
    return out;
  }
}
