/**
 * Session windows: a record at t opens [t, t + gap) and merges with every open session of the key it overlaps
 * (half-open); a session fires once the watermark reaches its end and never changes afterwards.
 *
 * A fired session stays in the entity's list while serving may still read it: while its end is after the newest
 * arrival time seen and within `retainMs` of the watermark (see servingRetentionMs). The list stays sorted and disjoint: the final sessions (end ≤ finalThrough)
 * come first, and nothing merges into them.
 */
import type { Aggregator, AnyAcc } from '../aggregates';
import type { ByteReader, ByteWriter } from '../aggregates/bytes';
import type { SessionEntity } from '../state';
import type { FeatureRuntime, FireSink, OpenWindow, WindowKind } from './kind';

export class SessionWindows implements WindowKind<SessionEntity> {
  public readonly kind = 'sessions';
  public runtime!: FeatureRuntime;

  public constructor(
    public readonly gapMs: number,
    private readonly agg: Aggregator<AnyAcc>,
    /** Longest watermark time a fired session is kept for serving (0: dropped as it fires). */
    public readonly retainMs = 0,
  ) {}

  public create(fi: number, key: string): SessionEntity {
    return { kind: 'sessions', fi, key, finalThrough: -Infinity, lastApplied: Object.create(null) as Record<string, string>, maxEventTime: -Infinity, due: Infinity, timerShard: undefined, mark: 0, sessions: [] };
  }

  public isLate(t: number, horizon: number): boolean {
    return t + this.gapMs <= horizon;
  }

  /**
   * Merges a new session [t, t+gap) with every open session it overlaps, in place: the sessions are sorted and
   * disjoint, so the overlapping ones are one run, folded into its first.
   */
  public add(e: SessionEntity, v: number, t: number): number {
    const ss = e.sessions;
    const end = t + this.gapMs;
    // The engine has fired what the horizon made final: sessions ending by finalThrough are final, kept for serving.
    const final = e.finalThrough;
    let i = 0;
    while (i < ss.length && (ss[i]!.end <= t || ss[i]!.end <= final)) i++;
    let j = i;
    while (j < ss.length && ss[j]!.start < end) j++;
    if (i === j) {
      ss.splice(i, 0, { start: t, end, acc: this.agg.of(v, t) });
      return this.dueOf(e);
    }
    const m = ss[i]!;
    if (t < m.start) m.start = t;
    // The sessions between were applied before this record: fold them in first, then the record, so ties of
    // first / last follow arrival order.
    let mergedEnd = m.end > end ? m.end : end;
    for (let k = i + 1; k < j; k++) {
      this.agg.mergeInto(m.acc, ss[k]!.acc);
      if (ss[k]!.end > mergedEnd) mergedEnd = ss[k]!.end;
    }
    this.agg.add(m.acc, v, t);
    m.end = mergedEnd;
    if (j > i + 1) ss.splice(i + 1, j - i - 1);
    return this.dueOf(e);
  }

  /** The earliest end of an open session (sorted and disjoint, so ends ascend too). */
  public dueOf(e: SessionEntity): number {
    for (const s of e.sessions) if (s.end > e.finalThrough) return s.end;
    return Infinity;
  }

  public fire(e: SessionEntity, w: number, out: FireSink, newestArrival: number): void {
    const ss = e.sessions;
    let fired = 0;
    while (fired < ss.length && ss[fired]!.end <= w) {
      const s = ss[fired++]!;
      if (s.end > e.finalThrough) out.window(this.runtime, e.key, s.start, s.end, s.acc);
    }
    if (fired === 0) return;
    const keepAfter = Math.max(newestArrival, w - this.retainMs);
    let drop = 0;
    while (drop < fired && ss[drop]!.end <= keepAfter) drop++;
    if (drop > 0) ss.splice(0, drop);
  }

  /** Sessions held, the final ones kept for serving included (so an idle key's state is not evicted with them). */
  public openCount(e: SessionEntity): number {
    return e.sessions.length;
  }

  /** The newest session still open. */
  public current(e: SessionEntity): OpenWindow | undefined {
    const s = e.sessions[e.sessions.length - 1];
    return s === undefined || s.end <= e.finalThrough || !Number.isFinite(e.maxEventTime) ? undefined : { start: s.start, end: s.end, acc: s.acc };
  }

  public write(w: ByteWriter, e: SessionEntity): void {
    w.uvarint(e.sessions.length);
    for (const s of e.sessions) {
      w.num(s.start);
      w.num(s.end);
      this.agg.write(w, s.acc);
    }
  }

  public read(r: ByteReader, e: SessionEntity): void {
    const n = r.uvarint();
    for (let k = 0; k < n; k++) {
      const start = r.num();
      const end = r.num();
      e.sessions.push({ start, end, acc: this.agg.read(r) });
    }
  }
}
