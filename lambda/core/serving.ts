/**
 * Features as of a time T (docs/semantics.md §7), read from a key's engine state: the entity of each feature as the engine
 * holds it (in memory, or decoded from the key's stored item), the time T, and the key's shard watermark and
 * the time its state was written. Online serving and training rows call this one function.
 *
 * - Tumbling / sliding (size S, slide D): the window holding T that ends soonest. While it is open in the
 *   state its slices are all held (a slice is dropped only once every window holding it is final), so its value
 *   is their merge. Once final, its value is the fired one, kept while its end is after the newest arrival the
 *   engine saw (only records ahead of their arrival make such windows final), for at most `servingRetentionMs`.
 * - Session (gap G): the session [start, last + G) holding T (the latest-starting one if a session started after
 *   another became final overlaps it); final sessions are kept like final windows.
 * - Global: the window's contents; with purge, empty once the shard watermark has reached a pending time
 *   trigger (the firing is due even if the key's state has not been rewritten since).
 *
 * The state holds the records that arrived by its write. For T at or after the write that is exactly the records
 * seen by T. For an earlier T the state may hold records that arrived after T (it keeps no arrival times), and a
 * window final before the write and not in the state reads as "unavailable" (it may have been dropped).
 */
import type { AnyAcc } from './aggregates';
import type { FeatureSpec } from './spec';
import type { Entity, GlobalEntity, SessionEntity, SliceEntity } from './state';
import type { FeatureRuntime } from './windows/kind';
import { SessionWindows } from './windows/session';
import { SlicedWindows } from './windows/sliced';
import { GlobalWindows } from './windows/global';

/**
 * present: the window holds records; empty: it holds none (the value is the empty one); stale: the state was
 * written more than the feature's maxStalenessMs before T (the value is given, not to be trusted);
 * unavailable: the window holding T was final and no longer kept when the state was written (T before it);
 * written-after: the state was written after T and the window holds records: the value may include records that
 * arrived after T (the state keeps no arrival times), so it is not the answer as of T, only an upper view of it.
 * An empty window read before the write is empty as of T too.
 */
export type FeatureStatus = 'present' | 'empty' | 'stale' | 'unavailable' | 'written-after';

export interface ServingMeta {
  /** The key's shard watermark; null (or −∞) before any record. */
  readonly watermark: number | null;
  /** When the key's state was written, epoch ms; null when unknown (nothing is then stale). */
  readonly writtenAt: number | null;
  /**
   * The event time from which the state holds every record of a feature's definition (core/coverage.ts): a window
   * or session that may reach before it is "unavailable", and +∞ (a definition never applied) makes every read so.
   * @default every record (−∞)
   */
  readonly coveredFrom?: (f: FeatureRuntime) => number;
}

export interface ServedFeature {
  readonly feature: string;
  /** The aggregate over the window's records; with none, 0 for count, distinct and sum, null otherwise. */
  readonly value: number | null;
  readonly count: number;
  /** Window bounds [windowStart, windowEnd); null for a global window, and for a session feature with no session at T. */
  readonly windowStart: number | null;
  readonly windowEnd: number | null;
  /** Newest event time among the records the value includes, when the state knows it; null otherwise. */
  readonly newestEventTime: number | null;
  readonly watermark: number | null;
  readonly writtenAt: number | null;
  readonly status: FeatureStatus;
}

/** A feature name the spec does not define. */
export class UnknownFeatureError extends Error {
  public constructor(public readonly feature: string, known: readonly string[]) {
    super(`unknown feature ${JSON.stringify(feature)} (the spec defines ${known.map((k) => JSON.stringify(k)).join(', ')})`);
    this.name = 'UnknownFeatureError';
  }
}

/** The runtimes of the named features, in the order asked (all, in spec order, without names). */
export function selectFeatures(runtimes: readonly FeatureRuntime[], names?: readonly string[]): FeatureRuntime[] {
  if (names === undefined) return [...runtimes];
  return names.map((n) => {
    const f = runtimes.find((r) => r.spec.name === n);
    if (f === undefined) throw new UnknownFeatureError(n, runtimes.map((r) => r.spec.name));
    return f;
  });
}

/** The value of a window without records (docs/semantics.md §7). */
export function emptyValue(f: FeatureSpec): number | null {
  return f.aggregate === 'count' || f.aggregate === 'distinct' || f.aggregate === 'sum' ? 0 : null;
}

/** The shard whose watermark judges the key: that of its newest record over all features. */
export function keyShard(entities: readonly (Entity | undefined)[]): string | undefined {
  let newest: Entity | undefined;
  for (const e of entities) if (e !== undefined && e.timerShard !== undefined && (newest === undefined || e.maxEventTime > newest.maxEventTime)) newest = e;
  return newest?.timerShard;
}

interface Read {
  acc: AnyAcc | undefined;
  start: number | null;
  end: number | null;
  newest: number | null;
  unavailable: boolean;
}

/**
 * `beforeWrite`: T is earlier than the state's write, so a window dropped after T can no longer be told from one
 * without records.
 */
function readSliced(kind: SlicedWindows, e: SliceEntity | undefined, at: number, beforeWrite: boolean): Read {
  const g = kind.geometry;
  // The earliest window [k·D, k·D + S) holding T (with D dividing S, its end is the multiple of D after T).
  const start = (Math.floor((at - g.sizeMs) / g.slideMs) + 1) * g.slideMs;
  const end = start + g.sizeMs;
  const r: Read = { acc: undefined, start, end, newest: null, unavailable: false };
  if (e === undefined) return r;
  if (end > e.finalThrough) {
    const from = start / g.sliceMs;
    r.acc = e.slices.mergeFrom(e.slices.position(from), from, end / g.sliceMs);
    if (r.acc !== undefined && e.maxEventTime < end) r.newest = e.maxEventTime;
    return r;
  }
  const fin = e.finals?.get(start);
  if (fin !== undefined) r.acc = fin.acc;
  // A fired window with records is kept while its end is after every arrival the state holds (so after T, once T
  // is not before the write) and within the retention: absent then means none.
  else if (beforeWrite || end <= e.finalThrough - kind.retainMs) r.unavailable = true;
  return r;
}

function readSession(kind: SessionWindows, e: SessionEntity | undefined, at: number, beforeWrite: boolean): Read {
  const r: Read = { acc: undefined, start: null, end: null, newest: null, unavailable: false };
  if (e === undefined) return r;
  const ss = e.sessions;
  for (let k = ss.length - 1; k >= 0; k--) {
    const s = ss[k]!;
    if (s.start <= at && at < s.end) {
      r.acc = s.acc;
      r.start = s.start;
      r.end = s.end;
      r.newest = s.end - kind.gapMs;
      return r;
    }
  }
  // A session holding T may have fired and been dropped, unless it is one still kept (as for windows).
  if (at < e.finalThrough && (beforeWrite || at < e.finalThrough - kind.retainMs)) r.unavailable = true;
  return r;
}

function readGlobal(kind: GlobalWindows, e: GlobalEntity | undefined, watermark: number): Read {
  const r: Read = { acc: undefined, start: null, end: null, newest: null, unavailable: false };
  if (e === undefined || e.acc === undefined) return r;
  if (kind.purges) {
    // The shard watermark reached the time trigger: the window fired, and purged, whether or not the key's state
    // was rewritten since.
    if (e.pending > 0 && e.due <= watermark) return r;
    if (e.firings === 0) r.newest = e.maxEventTime;
  } else {
    r.newest = e.maxEventTime;
  }
  r.acc = e.acc;
  return r;
}

/** One feature as of `at`, from the key's entity of that feature (undefined: the key has none). */
export function serveFeature(f: FeatureRuntime, e: Entity | undefined, at: number, meta: ServingMeta): ServedFeature {
  const kind = f.window;
  const beforeWrite = meta.writtenAt !== null && at < meta.writtenAt;
  let r: Read;
  if (kind instanceof SlicedWindows) r = readSliced(kind, e as SliceEntity | undefined, at, beforeWrite);
  else if (kind instanceof SessionWindows) r = readSession(kind, e as SessionEntity | undefined, at, beforeWrite);
  else r = readGlobal(kind as GlobalWindows, e as GlobalEntity | undefined, meta.watermark ?? -Infinity);
  const from = meta.coveredFrom?.(f) ?? -Infinity;
  // A window that began before the definition's records were all applied holds only part of them. A session may
  // have merged with a record up to a gap before its start; a global window holds everything since the first.
  if (from > -Infinity) {
    const reach = kind instanceof SlicedWindows ? r.start! : kind instanceof SessionWindows ? (r.start ?? at) - kind.gapMs : -Infinity;
    if (reach < from) r.unavailable = true;
  }
  const count = r.acc === undefined ? 0 : f.agg.count(r.acc);
  const stale = meta.writtenAt !== null && f.spec.maxStalenessMs !== undefined && at - meta.writtenAt > f.spec.maxStalenessMs;
  const watermark = meta.watermark !== null && Number.isFinite(meta.watermark) ? meta.watermark : null;
  return {
    feature: f.spec.name,
    value: r.unavailable ? null : count > 0 ? f.agg.result(r.acc) : emptyValue(f.spec),
    count,
    windowStart: r.start,
    windowEnd: r.end,
    newestEventTime: r.newest,
    watermark,
    writtenAt: meta.writtenAt,
    status: r.unavailable ? 'unavailable' : count > 0 && beforeWrite ? 'written-after' : stale ? 'stale' : count > 0 ? 'present' : 'empty',
  };
}

/**
 * Every feature of `runtimes` (or those named, in that order) as of `at`, from the key's entities in spec order
 * (as `WindowEngine.keyEntities` or the key item's decoder gives them).
 * @throws UnknownFeatureError for a name the spec does not define.
 */
export function serveFeatures(runtimes: readonly FeatureRuntime[], entities: readonly (Entity | undefined)[], at: number, meta: ServingMeta, names?: readonly string[]): ServedFeature[] {
  return selectFeatures(runtimes, names).map((f) => serveFeature(f, entities[f.fi], at, meta));
}
