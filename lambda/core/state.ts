/**
 * Engine state: per (feature, key) entities, per-shard watermarks and the de-duplication memory. Everything here
 * serializes to plain JSON so the Lambda path can persist it between batches.
 */
import type { Acc } from './aggregate';
import { SliceList } from './slices';

export interface Session {
  start: number;
  end: number;
  acc: Acc;
}

interface EntityBase {
  /** Index of the feature in the spec. */
  readonly fi: number;
  readonly key: string;
  /** Windows ending at or before this are final and already emitted. */
  finalThrough: number;
  /** Last Kinesis sequence number applied, per shard: a re-delivered record at or below it is skipped. */
  lastApplied: Record<string, string>;
  /** Newest event time applied (for freshness and the online store's current value). */
  maxEventTime: number;
  /** Earliest window end still pending; Infinity when nothing is open. */
  due: number;
  /** Shard whose watermark finalizes this entity's windows (the shard of its newest record). */
  timerShard: string | undefined;
  /** Number of the last batch that changed the entity (so it is listed once per batch without a set). */
  mark: number;
}

export interface SliceEntity extends EntityBase {
  readonly kind: 'slices';
  /** Open slices (panes) by slice index (start / slice width), each with its partial aggregate. */
  readonly slices: SliceList;
  /** Final window results (window start → result), kept only under latePolicy "update" to emit corrections. */
  finals: Map<number, FinalState> | undefined;
}

/** A final window's aggregate, and per shard the last sequence number a correction folded into it. */
export interface FinalState {
  acc: Acc;
  corrected: Record<string, string>;
}

export interface SessionEntity extends EntityBase {
  readonly kind: 'sessions';
  /** Open sessions, sorted by start, non-overlapping. */
  sessions: Session[];
}

export type Entity = SliceEntity | SessionEntity;

/** First sighting of a producer event id, so a retry is recognised and a Lambda re-delivery is not. */
export interface SeenId {
  readonly shard: string;
  readonly seq: string;
  /** Event time of the record, to expire the memory once no window can take it any more. */
  readonly time: number;
}

/** JSON form of an entity (no Infinity, no Map). */
export interface SerializedEntity {
  readonly kind: 'slices' | 'sessions';
  readonly finalThrough: number | null;
  readonly lastApplied: Record<string, string>;
  readonly maxEventTime: number | null;
  readonly timerShard?: string;
  /** [start, count, sum, min, max] per slice. */
  readonly slices?: readonly (readonly [number, number, number, number, number])[];
  /** [start, end, count, sum, min, max] per session. */
  readonly sessions?: readonly (readonly [number, number, number, number, number, number])[];
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function serializeEntity(e: Entity, sliceMs: number): SerializedEntity {
  const base = {
    kind: e.kind,
    finalThrough: finite(e.finalThrough),
    lastApplied: e.lastApplied,
    maxEventTime: finite(e.maxEventTime),
    ...(e.timerShard === undefined ? {} : { timerShard: e.timerShard }),
  };
  if (e.kind === 'slices') {
    const slices = e.slices.entries().map(([i, a]) => [i * sliceMs, a[0], a[1], a[2], a[3]] as const);
    return { ...base, slices };
  }
  return { ...base, sessions: e.sessions.map((s) => [s.start, s.end, s.acc[0], s.acc[1], s.acc[2], s.acc[3]] as const) };
}

export function deserializeEntity(fi: number, key: string, s: SerializedEntity, keepFinals: boolean, sliceMs: number): Entity {
  const finalThrough = s.finalThrough ?? -Infinity;
  // Keyed by shard id: no prototype, so a shard named "__proto__" is stored and read like any other.
  const lastApplied = Object.assign(Object.create(null) as Record<string, string>, s.lastApplied);
  const maxEventTime = s.maxEventTime ?? -Infinity;
  const timerShard = s.timerShard;
  if (s.kind === 'slices') {
    const slices = new SliceList();
    for (const [start, c, sum, mn, mx] of s.slices ?? []) slices.set(start / sliceMs, [c, sum, mn, mx]);
    const finals = keepFinals ? new Map<number, FinalState>() : undefined;
    return { kind: 'slices', fi, key, finalThrough, lastApplied, maxEventTime, due: Infinity, timerShard, mark: 0, slices, finals };
  }
  const sessions = (s.sessions ?? []).map(([start, end, c, sum, mn, mx]) => ({ start, end, acc: [c, sum, mn, mx] as Acc }));
  return { kind: 'sessions', fi, key, finalThrough, lastApplied, maxEventTime, due: Infinity, timerShard, mark: 0, sessions };
}

/**
 * Kinesis sequence numbers are decimal strings of up to 128 digits: compare by length, then lexically. A KPL
 * sub-record's is `<sequence number>.<sub-sequence number, 10 digits>`: its record's number decides first.
 */
export function compareSeq(a: string, b: string): number {
  const la = a.length > 11 && a.charCodeAt(a.length - 11) === 46 ? a.length - 11 : a.length;
  const lb = b.length > 11 && b.charCodeAt(b.length - 11) === 46 ? b.length - 11 : b.length;
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0;
}
