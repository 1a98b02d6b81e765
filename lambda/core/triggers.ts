/**
 * When windows fire. Two triggers, one contract: fire each entity at the first batch-end watermark of its shard
 * that reaches its due time.
 * - `EventTimeTimers` (the consumer): a timer per entity in a min-heap per shard, popped at each batch end.
 * - `SweepTrigger` (replay): remembers each batch end's watermark and fires everything in a sweep every few
 *   batches, as the timers would have at each of those batch ends, without a timer per window.
 * (Count triggers of global windows fire as records are added: see windows/global.ts.)
 */
import type { Entity } from './state';
import { TimerHeap } from './timers';

/** Fires what a watermark of `w` makes due in `e`. */
export type Advance = (e: Entity, w: number) => void;

export interface Trigger {
  /** The entity's due time or shard changed. */
  schedule(e: Entity): void;
  /** End of a batch: the watermarks of the shards it touched. */
  batchEnd(shard: string, w: number, advance: Advance): void;
  /** Before a record of another shard is applied to `e`: bring it to where batch-end firing would have. */
  catchUp(e: Entity, advance: Advance): void;
  /** Fires everything due since the last sweep. */
  sweep(entities: Iterable<Entity>, advance: Advance): void;
}

export class EventTimeTimers implements Trigger {
  private readonly heaps = new Map<string, TimerHeap<Entity>>();

  public schedule(e: Entity): void {
    if (e.timerShard === undefined || !Number.isFinite(e.due)) return;
    let heap = this.heaps.get(e.timerShard);
    if (!heap) {
      heap = new TimerHeap<Entity>();
      this.heaps.set(e.timerShard, heap);
    }
    heap.push(e.due, e);
  }

  /** Superseded entries are skipped when popped. */
  public batchEnd(shard: string, w: number, advance: Advance): void {
    const heap = this.heaps.get(shard);
    if (!heap) return;
    for (const e of heap.popDue(w)) {
      if (e.timerShard !== shard || e.due > w) continue; // stale entry (or evicted: timerShard cleared)
      advance(e, w);
    }
  }

  public catchUp(): void {
    // Batch ends already fired everything due.
  }

  public sweep(): void {
    // Nothing waits for a sweep.
  }
}

export class SweepTrigger implements Trigger {
  /** Per shard, its watermark at each batch end since the last sweep (rising). */
  private readonly batchEnds = new Map<string, number[]>();

  public schedule(): void {
    // Found by the sweep, not by a timer.
  }

  public batchEnd(shard: string, w: number): void {
    let ends = this.batchEnds.get(shard);
    if (!ends) this.batchEnds.set(shard, (ends = []));
    if (Number.isFinite(w) && (ends.length === 0 || ends[ends.length - 1]! < w)) ends.push(w);
  }

  /**
   * Advances an entity as its timer would have at each batch end since the last sweep (fired at the first
   * batch-end watermark reaching its due time, then again at the first reaching the next). A key's own shard
   * never needs it before a record (that record's watermark is past every batch end), but a record of the key
   * from another shard does: the windows final for the key decide its lateness.
   */
  public catchUp(e: Entity, advance: Advance): void {
    if (e.timerShard === undefined) return;
    const ends = this.batchEnds.get(e.timerShard);
    if (ends === undefined || ends.length === 0 || e.due > ends[ends.length - 1]!) return;
    for (let i = firstAtLeast(ends, e.due, 0); i < ends.length; i = firstAtLeast(ends, e.due, i + 1)) advance(e, ends[i]!);
  }

  public sweep(entities: Iterable<Entity>, advance: Advance): void {
    for (const e of entities) this.catchUp(e, advance);
    this.batchEnds.clear();
  }
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
