/**
 * Distributed backfill (docs/history.md, "Backfills"): one process's replay, cut across workers so that every
 * decision comes out as in one process.
 *
 * The records of a range, in the order one process reads them, fall into segments: an archive hour (its records in
 * the order `dedupeAndOrder` gives) or a line range of a records file. Three steps:
 * 1. plan, per segment and in parallel: decode each record, note the segment-local part of its shard's watermark
 *    (the highest event time of the shard's earlier valid records) and of the newest arrival, and route it to the
 *    partition of its key (`partitionOf`);
 * 2. combine: per segment, the line number it starts at and the shard maxima and newest arrival it inherits from
 *    the segments before it (a prefix over small summaries);
 * 3. partition workers, in parallel: each runs the replay loop (core/replay-loop.ts) over its keys' records in
 *    the global order, each record carrying its shard's watermark of the whole stream (`InputRecord.preset`), so
 *    late verdicts, producer-id duplicates, sessions and global windows see what one process sees.
 * Every key's records meet in one worker. A key that arrives on several shards is the exception: which of its
 * windows another shard's watermark has made final depends on when shards are swept, in one process as here, so
 * its late verdicts may differ; the workers count such keys.
 */
import { hash53 } from './aggregates/hash';
import type { DecodeResult } from './record';
import { RecordDecoder } from './record';
import type { InputRecord } from './results';
import type { PipelineSpec } from './spec';
import { aheadOfArrival } from './watermark';

/** Distributed Map runs up to 10,000 children at once; more partitions than that only queue. */
export const MAX_PARTITIONS = 10_000;

/** A record as the plan hands it to its partition (one JSON line of a work object). */
export interface PlannedRecord {
  /** 1-based line number within the segment (a file segment counts its blank lines). */
  readonly l: number;
  /** Shard id. */
  readonly s: string;
  /** Arrival time (epoch ms); null when unknown. */
  readonly a: number | null;
  /** The payload as text; or `b`, its bytes in base64, when they are not text. */
  readonly d?: string;
  readonly b?: string;
  /** Highest event time of the shard's earlier valid records within the segment; null before any. */
  readonly m: number | null;
  /** Newest arrival time of the segment's records through this one; null before any. */
  readonly n: number | null;
}

/** What the combine step needs of a segment. */
export interface SegmentSummary {
  /** Lines the segment spans (records plus skipped blank lines). */
  readonly lines: number;
  readonly records: number;
  /** Per shard, the highest event time of its valid records in the segment. */
  readonly shardMax: Record<string, number>;
  readonly newestArrival: number | null;
  /** The segment's first unreadable input line (file segments): the run fails naming its global line number. */
  readonly lineError?: { readonly line: number; readonly detail: string };
  /** Shards made by a split or merge whose first records the segment holds, with their parents. */
  readonly parents?: Record<string, readonly string[]>;
}

/** What a segment inherits from the segments before it. */
export interface SegmentBase {
  /** Line number of the line before the segment's first. */
  readonly lineBase: number;
  readonly shardMax: Record<string, number>;
  readonly newestArrival: number | null;
  /** Every segment's shard lineage (child → parents): a key moving from a parent to its child stays exact. */
  readonly parents?: Record<string, readonly string[]>;
}

export interface SegmentPlan {
  readonly summary: SegmentSummary;
  /** Partition p's records of the segment, in order. */
  readonly parts: PlannedRecord[][];
}

/** The partition of a key: a 53-bit hash, so a key's records meet in one worker whatever the segment. */
export function partitionOf(key: string, partitions: number): number {
  return hash53(key) % partitions;
}

export function checkPartitions(p: unknown, name = 'partitions'): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > MAX_PARTITIONS) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_PARTITIONS}, got ${JSON.stringify(p)}`);
  }
  return p;
}

/**
 * Plans one segment. `records` are in the segment's order, each with its segment-local line number as `seq`;
 * `lines` is the number of lines the segment spans.
 */
export function planSegment(spec: PipelineSpec, records: readonly InputRecord[], lines: number, partitions: number, decoder = new RecordDecoder(spec)): SegmentPlan {
  checkPartitions(partitions);
  const parts: PlannedRecord[][] = Array.from({ length: partitions }, () => []);
  const shardMax: Record<string, number> = Object.create(null) as Record<string, number>;
  const skew = spec.watermark.maxFutureSkewMs;
  let newest: number | null = null;
  const parents: Record<string, readonly string[]> = {};
  for (const r of records) {
    if (r.arrivalTime !== undefined && (newest === null || r.arrivalTime > newest)) newest = r.arrivalTime;
    if (r.parents !== undefined) parents[r.shard] = r.parents;
    // A child shard's first record raises its maximum to its parents' (an archived record's lineage).
    const raised = r.preset?.shardMax;
    if (raised !== undefined && raised !== null && !(shardMax[r.shard]! >= raised)) shardMax[r.shard] = raised;
    const before = shardMax[r.shard];
    const decoded: DecodeResult = r.decoded ?? decoder.decode(r.data);
    // The engine observes valid records that are not too far ahead of their arrival (engine.ts, same rule).
    if (decoded.ok && !aheadOfArrival(skew, decoded.record.time, r.arrivalTime) && (before === undefined || decoded.record.time > before)) {
      shardMax[r.shard] = decoded.record.time;
    }
    // A record without a key (invalid) changes no state: any worker judges it alike.
    const routeKey = decoded.ok ? decoded.record.key : (decoded.key ?? r.shard);
    const payload = typeof r.data === 'string' ? { d: r.data } : { b: Buffer.from(r.data).toString('base64') };
    parts[partitionOf(routeKey, partitions)]!.push({ l: Number(r.seq), s: r.shard, a: r.arrivalTime ?? null, ...payload, m: before ?? null, n: newest });
  }
  return { summary: { lines, records: records.length, shardMax: { ...shardMax }, newestArrival: newest, ...(Object.keys(parents).length === 0 ? {} : { parents }) }, parts };
}

/** Each segment's base, from the summaries in order. A segment's unreadable line fails the run, named globally. */
export function combineSegments(summaries: readonly SegmentSummary[]): SegmentBase[] {
  const bases: SegmentBase[] = [];
  let lineBase = 0;
  const shardMax: Record<string, number> = {};
  let newest: number | null = null;
  const parents: Record<string, readonly string[]> = {};
  for (const s of summaries) Object.assign(parents, s.parents ?? {});
  const lineage = Object.keys(parents).length === 0 ? {} : { parents };
  for (const s of summaries) {
    if (s.lineError !== undefined) throw new BackfillInputError(lineBase + s.lineError.line, s.lineError.detail);
    bases.push({ lineBase, shardMax: { ...shardMax }, newestArrival: newest, ...lineage });
    lineBase += s.lines;
    for (const [shard, t] of Object.entries(s.shardMax)) if (shardMax[shard] === undefined || t > shardMax[shard]) shardMax[shard] = t;
    if (s.newestArrival !== null && (newest === null || s.newestArrival > newest)) newest = s.newestArrival;
  }
  return bases;
}

/** An input line the replay would refuse, named by its line number in the whole input. */
export class BackfillInputError extends Error {
  public constructor(
    public readonly line: number,
    public readonly detail: string,
  ) {
    super(`input line ${line}: ${detail}`);
    this.name = 'BackfillInputError';
  }
}

/** A planned record as the engine takes it: its line number in the whole input, and its shard's whole watermark. */
export function plannedInput(base: SegmentBase, r: PlannedRecord, decoder?: RecordDecoder): InputRecord {
  const inherited = base.shardMax[r.s];
  const shardMax = r.m === null ? (inherited ?? null) : inherited === undefined ? r.m : Math.max(inherited, r.m);
  const newestArrival = r.n === null ? base.newestArrival : base.newestArrival === null ? r.n : Math.max(base.newestArrival, r.n);
  const data = r.d ?? Buffer.from(r.b ?? '', 'base64');
  return {
    data,
    shard: r.s,
    seq: String(base.lineBase + r.l),
    ...(r.a === null ? {} : { arrivalTime: r.a }),
    // Decoded here when the caller needs the key too (one decode per record, one object).
    ...(decoder === undefined ? {} : { decoded: decoder.decode(data) }),
    preset: { shardMax, newestArrival },
  };
}

/**
 * Counts keys whose records came from more than one shard (see the module comment), but for a key that moved
 * from a shard to one that continues it (a split's or merge's child, `parents`): that one stays exact.
 */
export class ShardSpread {
  private readonly last = new Map<string, string>();
  private readonly spread = new Set<string>();

  public constructor(private readonly parents: Readonly<Record<string, readonly string[]>> = {}) {}

  public note(key: string, shard: string): void {
    const s = this.last.get(key);
    if (s === shard) return;
    if (s !== undefined && !this.descends(shard, s)) this.spread.add(key);
    this.last.set(key, shard);
  }

  /** True when `child` continues `ancestor` through one or more splits or merges. */
  private descends(child: string, ancestor: string): boolean {
    const seen = new Set<string>();
    const todo = [...(this.parents[child] ?? [])];
    for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
      if (p === ancestor) return true;
      if (seen.has(p)) continue;
      seen.add(p);
      todo.push(...(this.parents[p] ?? []));
    }
    return false;
  }

  public get keysOnSeveralShards(): number {
    return this.spread.size;
  }
}
