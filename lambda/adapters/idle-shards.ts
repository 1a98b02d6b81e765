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
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
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
  | 'busy';

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
  const shards = (await listShards(o.kinesis, o.streamName)).filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
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
  const advanced = results.filter((r) => r.verdict === 'advanced').map((r) => r.shard);
  if (advanced.length > 0) await o.fire(advanced);
  return results;
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

async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | undefined;
  do {
    const res = await kinesis.send(new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token }));
    out.push(...(res.Shards ?? []));
    token = res.NextToken;
  } while (token !== undefined);
  return out;
}
