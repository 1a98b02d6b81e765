/**
 * Keyed state: what the engine holds per (feature, key) — an entity of its window kind — and how it travels
 * between batches. The windows' contents (slices, sessions, a global window's pane) are accumulators; their byte
 * form is in the key item (key-item.ts), so the Lambda path stores them compactly.
 */
import type { AnyAcc } from './aggregates';
import type { Panes } from './windows/slice-list';

export interface Session {
  start: number;
  end: number;
  acc: AnyAcc;
}

interface EntityBase {
  /** Index of the feature in the spec. */
  readonly fi: number;
  readonly key: string;
  /** Windows ending at or before this are final and already emitted (global windows: the watermark seen). */
  finalThrough: number;
  /** Last Kinesis sequence number applied, per shard: a re-delivered record at or below it is skipped. */
  lastApplied: Record<string, string>;
  /** Newest event time applied (for freshness and serving). */
  maxEventTime: number;
  /** Earliest time the entity's shard watermark must reach for something to fire; Infinity when nothing is pending. */
  due: number;
  /** Shard whose watermark fires this entity's windows (the shard of its newest record). */
  timerShard: string | undefined;
  /** Number of the last batch that changed the entity (so it is listed once per batch without a set). */
  mark: number;
}

export interface SliceEntity extends EntityBase {
  readonly kind: 'slices';
  /** Open slices (panes) by slice index (start / slice width), each with its partial aggregate. */
  readonly slices: Panes;
  /**
   * Final window results (window start → result): under latePolicy "update" to emit corrections (within the
   * correction horizon), and those serving may still read (see windows/sliced.ts); undefined until one is kept.
   */
  finals: Map<number, FinalState> | undefined;
}

/** A final window's aggregate (kept under "update", within the correction horizon). */
export interface FinalState {
  acc: AnyAcc;
  /** Per shard, the last sequence number a correction folded into it (in memory only: the key item is written whole). */
  corrected: Record<string, string>;
}

export interface SessionEntity extends EntityBase {
  readonly kind: 'sessions';
  /** Open sessions, sorted by start, non-overlapping. */
  sessions: Session[];
}

export interface GlobalEntity extends EntityBase {
  readonly kind: 'global';
  /** The window's records (with purge: since the last firing); undefined when none. */
  acc: AnyAcc | undefined;
  /** Records applied to the key's window since it was created (count triggers fire on multiples). */
  total: number;
  /** Records applied since the last firing (a time trigger fires only when there are some). */
  pending: number;
  /** Firings so far: the next firing's number is firings + 1. */
  firings: number;
}

export type Entity = SliceEntity | SessionEntity | GlobalEntity;
export type EntityKind = Entity['kind'];

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
