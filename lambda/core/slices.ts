/**
 * The open slices (panes) of one entity, sorted by slice index. Records mostly arrive in event-time order, so a
 * new slice is nearly always appended; firing walks the list once instead of probing every slot of every window
 * (a sliding 1 h / 5 min window has 12 slots, most of them empty for a quiet key).
 */
import { type Acc, accOf, addInto, copyAcc, mergeInto } from './aggregate';

export class SliceList {
  /** Slice indexes (slice start / slice width), ascending. */
  private readonly idx: number[] = [];
  private readonly accs: Acc[] = [];

  public get size(): number {
    return this.idx.length;
  }

  /** Smallest open slice index (Infinity when empty). */
  public get first(): number {
    return this.idx.length > 0 ? this.idx[0]! : Infinity;
  }

  /** Largest open slice index (−Infinity when empty). */
  public get last(): number {
    return this.idx.length > 0 ? this.idx[this.idx.length - 1]! : -Infinity;
  }

  /** Folds a value into slice `i`; returns true when the slice is new. */
  public add(i: number, v: number): boolean {
    const idx = this.idx;
    let k = idx.length;
    // Search from the end: the newest slice is the usual target.
    while (k > 0 && idx[k - 1]! > i) k--;
    if (k > 0 && idx[k - 1] === i) {
      addInto(this.accs[k - 1]!, v);
      return false;
    }
    this.insertAt(k, i, accOf(v));
    return true;
  }

  /** Sets slice `i` (loading persisted state). */
  public set(i: number, acc: Acc): void {
    const idx = this.idx;
    let k = idx.length;
    while (k > 0 && idx[k - 1]! > i) k--;
    if (k > 0 && idx[k - 1] === i) this.accs[k - 1] = acc;
    else this.insertAt(k, i, acc);
  }

  public get(i: number): Acc | undefined {
    const k = this.position(i);
    return k < this.idx.length && this.idx[k] === i ? this.accs[k] : undefined;
  }

  /** Position of the first slice with index ≥ i. */
  public position(i: number): number {
    const idx = this.idx;
    let lo = 0;
    let hi = idx.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (idx[mid]! < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  public indexAt(k: number): number {
    return this.idx[k]!;
  }

  public accAt(k: number): Acc {
    return this.accs[k]!;
  }

  /**
   * Merge of the slices with index in [from, to), starting at position `k` (≤ the first of them), as a new
   * accumulator or into `into`; undefined when none holds data.
   */
  public mergeFrom(k: number, from: number, to: number, into?: Acc): Acc | undefined {
    const idx = this.idx;
    const n = idx.length;
    while (k < n && idx[k]! < from) k++;
    if (k >= n || idx[k]! >= to) return undefined;
    const first = this.accs[k]!;
    let acc: Acc;
    if (into === undefined) {
      acc = copyAcc(first);
    } else {
      acc = into;
      acc[0] = first[0];
      acc[1] = first[1];
      acc[2] = first[2];
      acc[3] = first[3];
    }
    for (k++; k < n && idx[k]! < to; k++) mergeInto(acc, this.accs[k]!);
    return acc;
  }

  /** Drops every slice with index < i. */
  public dropBefore(i: number): void {
    if (this.idx.length === 0 || this.idx[0]! >= i) return;
    const k = this.position(i);
    this.idx.splice(0, k);
    this.accs.splice(0, k);
  }

  public clear(): void {
    this.idx.length = 0;
    this.accs.length = 0;
  }

  /** [index, acc] pairs in index order. */
  public entries(): Array<[number, Acc]> {
    return this.idx.map((i, k) => [i, this.accs[k]!]);
  }

  private insertAt(k: number, i: number, acc: Acc): void {
    if (k === this.idx.length) {
      this.idx.push(i);
      this.accs.push(acc);
    } else {
      this.idx.splice(k, 0, i);
      this.accs.splice(k, 0, acc);
    }
  }
}
