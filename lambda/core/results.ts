/** What goes into the engine and what comes out of a batch: records in; windows, firings, rejections out. */
import type { AnyAcc } from './aggregates';
import type { DecodeResult } from './record';

/** One stream record as delivered: the raw payload plus where and when it arrived. */
export interface InputRecord {
  readonly data: string | Uint8Array;
  readonly shard: string;
  /** Sequence number within the shard (Kinesis sequence number; the line number in replay). */
  readonly seq: string;
  /** Arrival time, epoch ms (Kinesis approximateArrivalTimestamp); no future check without it. */
  readonly arrivalTime?: number;
  /**
   * The payload already decoded by a `RecordDecoder` of the same spec and payload limit (replay decodes on a
   * reader thread); the engine decodes `data` itself when absent.
   */
  readonly decoded?: DecodeResult;
  /**
   * Backfill workers only (core/backfill.ts): the shard's highest event time over every record before this one,
   * of all keys, and the newest arrival through this one; a worker sees some keys only, so both come from the plan.
   * The engine raises its own figures to them before judging the record.
   */
  readonly preset?: { readonly shardMax: number | null; readonly newestArrival: number | null };
  /** A child shard's first record (an archived record's lineage): the shards it continues. The engine ignores it. */
  readonly parents?: readonly string[];
}

export interface EntityRef {
  readonly feature: string;
  readonly key: string;
}

export interface WindowResult {
  readonly feature: string;
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly value: number;
  readonly count: number;
}

/** An open window's value as an online store serves it, with the newest event time it includes. */
export interface CurrentWindow extends WindowResult {
  readonly maxEventTime: number;
}

export interface FinalWindow extends WindowResult {
  /** The window's accumulator, so a store can apply later corrections (bytes: `WindowEngine.accBytes`). */
  readonly acc: AnyAcc;
}

/** One firing of a global window (docs/semantics.md §6): the window's value (with purge: the pane's) when its trigger fired. */
export interface Firing {
  readonly feature: string;
  readonly key: string;
  /** 1-based number of the firing for this key and feature. */
  readonly firing: number;
  readonly trigger: 'count' | 'time';
  /** Count trigger: event time of the record that completed the count. Time trigger: the multiple of everyMs reached. */
  readonly firedAt: number;
  readonly value: number;
  readonly count: number;
}

/** latePolicy "update": a final window changed by a late record (retract `old`, use `new`). */
export interface Correction {
  readonly feature: string;
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly old: { readonly value: number; readonly count: number } | null;
  readonly new: { readonly value: number; readonly count: number };
  readonly acc: AnyAcc;
  /** Per shard, the last sequence number folded into this window by a correction (so a retry never folds twice). */
  readonly corrected: Record<string, string>;
}

/** The engine's reasons, and the labels consumer's: `unmatched` (no such prediction) and `conflicting` (a second label of another value). */
export type RejectReason = 'invalid' | 'future' | 'late' | 'unmatched' | 'conflicting';

export interface Rejection {
  readonly reason: RejectReason;
  readonly message: string;
  /** Feature the record was late for (reason "late" only). */
  readonly feature?: string;
  readonly shard: string;
  readonly seq: string;
  /** Shard watermark just before the record (null = −∞). */
  readonly watermark: number | null;
  readonly arrivalTime?: number;
  readonly eventTime?: number;
  readonly key?: string;
  /** The full original payload. */
  readonly data: string | Uint8Array;
}

export interface BatchCounters {
  records: number;
  /** Valid, non-duplicate records applied to at least one window (now or by an earlier delivery). */
  applied: number;
  /** (record, feature) pairs that were late. */
  late: number;
  /** Records late for every feature, hence applied nowhere. */
  lateRecords: number;
  invalid: number;
  future: number;
  duplicates: number;
  /** Records a previous delivery had already applied everywhere (Lambda re-delivery); included in `applied`. */
  redelivered: number;
  finalWindows: number;
  corrections: number;
  /** Global-window firings. */
  firings: number;
}

export function emptyCounters(): BatchCounters {
  return { records: 0, applied: 0, late: 0, lateRecords: 0, invalid: 0, future: 0, duplicates: 0, redelivered: 0, finalWindows: 0, corrections: 0, firings: 0 };
}

export interface BatchResult {
  readonly finals: FinalWindow[];
  readonly firings: Firing[];
  readonly corrections: Correction[];
  readonly rejected: Rejection[];
  /** Entities changed by the batch (applied records or fired windows), to persist once each (with trackChanges). */
  readonly changed: EntityRef[];
  /** Keys that remembered new producer ids (their key item must be written even when no window changed). */
  readonly idKeys: readonly string[];
  /** Keys a record was applied to in this batch (their item is written; keys whose windows only fired are not). */
  readonly touchedKeys: readonly string[];
  /** Watermark of every shard the batch touched, after the batch (null = −∞). */
  readonly watermarks: Record<string, number | null>;
  /** Newest event time applied in the batch, per shard (for freshness). */
  readonly newestApplied: Record<string, number>;
  readonly counters: BatchCounters;
  /** Every record applied to a window (also a re-delivered one), in arrival order: with `collectApplied` only. */
  readonly applied: readonly AppliedRecord[];
}

/** A record the engine applied: what scoring needs to name and time its prediction. */
export interface AppliedRecord {
  readonly key: string;
  /** The producer id (idField), or `<shard>/<sequence number>` without one: stable across re-deliveries. */
  readonly eventId: string;
  readonly eventTime: number;
  readonly arrivalTime: number | undefined;
  readonly shard: string;
  readonly seq: string;
  /** An earlier delivery already applied it (its prediction may exist). */
  readonly redelivered: boolean;
}

export interface BatchPlan {
  readonly keys: string[];
  /** Highest watermark each shard can reach in the batch. */
  readonly watermarkBound: Record<string, number>;
  /** Keys with a record carrying a producer id: their older ids (the consumer's id pages) may be needed. */
  readonly idKeys: string[];
  /**
   * Per key of `idKeys`, the earliest event time of its records carrying an id: a producer retry repeats its
   * original's event time, so only ids remembered at or after it can be the original of one of them.
   */
  readonly idMinTime: ReadonlyMap<string, number>;
}

/** A final window handed out as it fires: the fields of a `WindowResult`. */
export type FinalSink = (feature: string, key: string, windowStart: number, windowEnd: number, value: number, count: number) => void;

export interface EngineOptions {
  /** @default 262144 (256 KiB) */
  readonly maxPayloadBytes?: number;
  /**
   * How long (event time, behind the watermark) a producer id is remembered.
   * @default idRetentionMs(spec): longest window + allowed lateness (+ the correction horizon under "update"); forever with a global window
   */
  readonly dedupRetentionMs?: number;
  /**
   * List the entities each batch changed and the producer ids it saw first (the Lambda path persists them; replay
   * does not need them). @default true
   */
  readonly trackChanges?: boolean;
  /**
   * Judge the lateness of a record an earlier delivery already applied, counting it late (without a second dead
   * letter) where the first delivery did. Right only when the watermark is the one from before the batch, as in
   * the consumer, which writes it last; otherwise such a record simply counts as re-delivered.
   * @default false
   */
  readonly judgeRedelivered?: boolean;
  /** List every applied record in the batch result's `applied` (scoring needs them). @default false */
  readonly collectApplied?: boolean;
  /** With `collectApplied`: called right after each record is applied, while the state holds it and what came before (scoring serves the key then). */
  readonly onApplied?: (r: AppliedRecord) => void;
  /**
   * Receives each final window as it fires, instead of collecting it in the batch result's `finals` (replay writes
   * them out directly and so never builds the objects). Not allowed with latePolicy "update", whose final windows
   * keep their aggregates for corrections.
   */
  readonly onFinal?: FinalSink;
  /**
   * Fire windows at the end of every batch, found through event-time timers (what the consumer needs: each batch's
   * final windows are written with it). Replay turns this off and calls `fireAllDue()` every few batches instead,
   * which fires what the timers of those batch ends would have fired, as if at each of them: the same windows,
   * values, rejections and counts, in a different order, without a timer per window. @default true
   */
  readonly fireAtBatchEnd?: boolean;
}
