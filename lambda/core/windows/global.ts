/**
 * Global windows: one window per key for all time, never final, so never late. Its trigger fires it:
 * - count N: after every N-th record the key applies (fired at once, firedAt = that record's event time);
 * - everyMs T: at the first multiple of T the shard watermark reaches after a record was applied (firedAt = that
 *   multiple), only when the key applied records since its previous firing, so idle keys stay silent.
 * With purge, each firing resets the window, so it holds the records since the previous firing.
 *
 * The time trigger's due time is fixed when the first pending record is applied, so firing at the record that
 * moves the watermark, at a batch end or in a replay sweep gives the same firing with the same contents.
 */
import type { Aggregator, AnyAcc } from '../aggregates';
import type { ByteReader, ByteWriter } from '../aggregates/bytes';
import type { TriggerSpec } from '../spec';
import type { GlobalEntity } from '../state';
import type { FeatureRuntime, FireSink, OpenWindow, WindowKind } from './kind';

export class GlobalWindows implements WindowKind<GlobalEntity> {
  public readonly kind = 'global';
  public runtime!: FeatureRuntime;

  public constructor(
    private readonly trigger: TriggerSpec,
    private readonly agg: Aggregator<AnyAcc>,
  ) {}

  /** True when each firing empties the window. */
  public get purges(): boolean {
    return this.trigger.purge;
  }

  public create(fi: number, key: string): GlobalEntity {
    return { kind: 'global', fi, key, finalThrough: -Infinity, lastApplied: Object.create(null) as Record<string, string>, maxEventTime: -Infinity, due: Infinity, timerShard: undefined, mark: 0, acc: undefined, total: 0, pending: 0, firings: 0 };
  }

  public isLate(): boolean {
    return false;
  }

  public add(e: GlobalEntity, v: number, t: number, watermark: number, out: FireSink): number {
    if (e.acc === undefined) e.acc = this.agg.of(v, t);
    else this.agg.add(e.acc, v, t);
    e.total += 1;
    e.pending += 1;
    // The new due time is returned, not set: the engine sets it, so the trigger schedules it.
    let due = e.due;
    const every = this.trigger.everyMs;
    if (every !== undefined && e.pending === 1) {
      // The first multiple of T above the watermark after this record (−∞ before any: the first multiple above t).
      const base = Number.isFinite(watermark) ? watermark : t - every;
      due = (Math.floor(base / every) + 1) * every;
    }
    const n = this.trigger.count;
    if (n !== undefined && e.total % n === 0) {
      this.emit(e, 'count', t, out);
      due = Infinity;
    }
    return due;
  }

  private emit(e: GlobalEntity, trigger: 'count' | 'time', firedAt: number, out: FireSink): void {
    e.firings += 1;
    out.firing(this.runtime, e.key, e.firings, trigger, firedAt, e.acc);
    e.pending = 0;
    e.due = Infinity;
    if (this.trigger.purge) e.acc = undefined;
  }

  public dueOf(e: GlobalEntity): number {
    return e.due;
  }

  public fire(e: GlobalEntity, w: number, out: FireSink): void {
    if (e.pending > 0 && Number.isFinite(e.due) && e.due <= w) this.emit(e, 'time', e.due, out);
  }

  public openCount(e: GlobalEntity): number {
    return e.acc === undefined ? 0 : 1;
  }

  public current(e: GlobalEntity): OpenWindow | undefined {
    return e.acc === undefined ? undefined : { start: -Infinity, end: Infinity, acc: e.acc };
  }

  public write(w: ByteWriter, e: GlobalEntity): void {
    w.uvarint(e.total);
    w.uvarint(e.pending);
    w.uvarint(e.firings);
    w.num(e.due);
    w.byte(e.acc === undefined ? 0 : 1);
    if (e.acc !== undefined) this.agg.write(w, e.acc);
  }

  public read(r: ByteReader, e: GlobalEntity): void {
    e.total = r.uvarint();
    e.pending = r.uvarint();
    e.firings = r.uvarint();
    e.due = r.num();
    e.acc = r.byte() === 1 ? this.agg.read(r) : undefined;
  }
}
