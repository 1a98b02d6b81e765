/**
 * Quiet shards (docs/semantics.md §12): a shard that receives nothing never advances its own watermark, so its keys' windows
 * would never become final. A periodic tick advances such a shard's event-time maximum to `now − marginMs`, but
 * only when the consumer is verifiably caught up: reading the shard right after the consumer's stored checkpoint
 * returns no record and the reader is at the tip (MillisBehindLatest 0). A backlogged or slow shard always has a
 * record after its checkpoint, so it is never mistaken for a quiet one.
 *
 * The advance is claimed with a conditional write on the checkpoint item as read: a batch that lands in between
 * makes the claim fail (the shard was not quiet). Then the shard's due windows fire through the new watermark by
 * the consumer's own batch step with no records (processBatch, `quietShards`). A record arriving afterwards is
 * judged against the advanced watermark by the usual rules (late when its windows are final).
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { listShards } from './kinesis-client';
import type { ShardCheckpoint, StateStore } from './state-store';

/** Default margin behind the clock: event times up to a minute behind arrival are never made late by a tick. */
export const DEFAULT_IDLE_MARGIN_MS = 60_000;

export type IdleVerdict =
  /** Advanced to `maxEventTime`; its due windows fired. */
  | 'advanced'
  /** Records after the consumer's checkpoint: backlogged, not quiet. */
  | 'unread'
  /** The reader is behind the tip (MillisBehindLatest > 0): not verifiably caught up. */
  | 'behind'
  /** Its event-time maximum is already at or beyond now − margin. */
  | 'recent'
  /** No record was ever processed on it: no window to close. */
  | 'unused'
  /** A batch wrote its checkpoint while the tick looked: not quiet. */
  | 'busy'
  /** A closed parent (split or merged) advanced to the lowest maximum of its children; its due windows fired. */
  | 'followed'
  /** A closed parent whose children cannot vouch for a higher maximum yet (one unread, or none beyond it). */
  | 'waiting';

export interface IdleShardResult {
  readonly shard: string;
  readonly verdict: IdleVerdict;
  /** The event-time maximum after the tick (null before any record). */
  readonly maxEventTime: number | null;
}

export interface IdleTickOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly state: StateStore;
  /** How far behind the clock a quiet shard's event-time maximum is put. @default DEFAULT_IDLE_MARGIN_MS */
  readonly marginMs?: number;
  readonly now?: () => number;
  /** Fires the advanced shards' due windows (the consumer's batch step with `quietShards`). */
  readonly fire: (quietShards: readonly string[]) => Promise<void>;
}

export async function tickIdleShards(o: IdleTickOptions): Promise<IdleShardResult[]> {
  const margin = o.marginMs ?? DEFAULT_IDLE_MARGIN_MS;
  if (!Number.isFinite(margin) || margin < 0) throw new RangeError(`marginMs must be a non-negative number, got ${margin}`);
  const now = o.now ?? Date.now;
  const listed = await listShards(o.kinesis, o.streamName);
  const shards = listed.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  const closed = listed.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber !== undefined);
  const withChildren = closed
    .map((s) => ({ shard: s.ShardId!, children: listed.filter((c) => c.ParentShardId === s.ShardId || c.AdjacentParentShardId === s.ShardId).map((c) => c.ShardId!) }))
    .filter((p) => p.children.length > 0);
  const parents = await Promise.all(withChildren.map((p) => followChildren(o, p.shard, p.children, now() - margin)));
  const results = await Promise.all(
    shards.map(async (s): Promise<IdleShardResult> => {
      const shard = s.ShardId!;
      const cp = await o.state.getShard(shard);
      const verdict = await quietVerdict(o, cp);
      if (verdict !== undefined) return { shard, verdict, maxEventTime: cp.maxEventTime };
      const target = now() - margin;
      if (cp.maxEventTime === null) return { shard, verdict: 'unused', maxEventTime: null };
      if (target <= cp.maxEventTime) return { shard, verdict: 'recent', maxEventTime: cp.maxEventTime };
      const claimed = await o.state.claimIdleAdvance(cp, target, now());
      return claimed ? { shard, verdict: 'advanced', maxEventTime: target } : { shard, verdict: 'busy', maxEventTime: cp.maxEventTime };
    }),
  );
  const all = [...results, ...parents];
  const advanced = all.filter((r) => r.verdict === 'advanced' || r.verdict === 'followed').map((r) => r.shard);
  if (advanced.length > 0) await o.fire(advanced);
  return all;
}

/**
 * A closed parent's keys moved to its children, which started from its watermark (shard-lineage.ts); windows its
 * keys left open there fire once every child's watermark has passed them: no record of those keys can be applied
 * to them anymore, on whichever child it arrives. A child that never had a record counts as `target` (now − margin)
 * once verifiably caught up. The parent must have been read to its end.
 */
async function followChildren(o: IdleTickOptions, shard: string, children: readonly string[], target: number): Promise<IdleShardResult> {
  const cp = await o.state.getShard(shard);
  if (cp.maxEventTime === null) return { shard, verdict: 'unused', maxEventTime: null };
  const unread = await quietVerdict(o, cp);
  if (unread === 'unread') return { shard, verdict: 'unread', maxEventTime: cp.maxEventTime };
  const maxima = await Promise.all(
    children.map(async (c) => {
      const ccp = await o.state.getShard(c);
      if (ccp.maxEventTime !== null) return ccp.maxEventTime;
      return (await quietVerdict(o, ccp)) === undefined ? target : null;
    }),
  );
  if (maxima.some((m) => m === null)) return { shard, verdict: 'waiting', maxEventTime: cp.maxEventTime };
  const follow = Math.min(target, ...(maxima as number[]));
  if (follow <= cp.maxEventTime) return { shard, verdict: 'waiting', maxEventTime: cp.maxEventTime };
  const claimed = await o.state.claimIdleAdvance(cp, follow, o.now?.() ?? Date.now());
  return claimed ? { shard, verdict: 'followed', maxEventTime: follow } : { shard, verdict: 'busy', maxEventTime: cp.maxEventTime };
}

/** undefined when nothing is unread after the consumer's checkpoint and the reader is at the tip. */
async function quietVerdict(o: IdleTickOptions, cp: ShardCheckpoint): Promise<IdleVerdict | undefined> {
  const it = await o.kinesis.send(
    new GetShardIteratorCommand({
      StreamName: o.streamName,
      ShardId: cp.shard,
      ...(cp.checkpoint === '' ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: cp.checkpoint }),
    }),
  );
  const page = await o.kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator!, Limit: 1 }));
  if ((page.Records ?? []).length > 0) return 'unread';
  if ((page.MillisBehindLatest ?? 0) > 0) return 'behind';
  return undefined;
}
