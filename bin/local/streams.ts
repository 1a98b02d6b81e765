/** Kinesis streams on the emulator: created and waited for, and read whole (the predictions a test or the sandbox checks). */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  MergeShardsCommand,
  type Shard,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { listShards } from '../../lambda/adapters/kinesis-client';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function createActiveStream(kinesis: KinesisClient, name: string, shards = 1, timeoutMs = 10_000): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(kinesis, name, timeoutMs);
}

async function waitActive(kinesis: KinesisClient, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(20);
  }
  throw new Error(`stream ${name} not ACTIVE after ${timeoutMs} ms`);
}

/** Every record in the stream so far, shard by shard, as UTF-8 text. */
export async function readStream(kinesis: KinesisClient, name: string): Promise<string[]> {
  const shards = await listShards(kinesis, name);
  const out: string[] = [];
  for (const s of shards) {
    let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (it) {
      const res = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      for (const r of res.Records ?? []) out.push(Buffer.from(r.Data!).toString('utf8'));
      if ((res.Records ?? []).length === 0 || res.MillisBehindLatest === 0) break;
      it = res.NextShardIterator;
    }
  }
  return out;
}

/** A split or a merge, as an on-demand stream makes them when its traffic changes. */
export type ReshardKind = 'split' | 'merge';

export interface Reshard {
  readonly kind: ReshardKind;
  /** The shards closed by it. */
  readonly parents: readonly string[];
  /** The shards it opened. */
  readonly children: readonly string[];
}

const range = (s: Shard): { start: bigint; end: bigint } => ({ start: BigInt(s.HashKeyRange!.StartingHashKey!), end: BigInt(s.HashKeyRange!.EndingHashKey!) });

/**
 * Splits or merges open shards of the stream and waits until it is ACTIVE again. A split halves the open shard
 * with the widest hash key range (ties: the lowest id); a merge joins the adjacent pair of open shards with the
 * narrowest range together (ties: the lowest hash keys). Records put afterwards go to the new shards.
 */
export async function reshardStream(kinesis: KinesisClient, name: string, kind: ReshardKind, timeoutMs = 10_000): Promise<Reshard> {
  const listed = await listShards(kinesis, name);
  const before = new Set(listed.map((s) => s.ShardId!));
  const open = listed.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  open.sort((a, b) => (range(a).start < range(b).start ? -1 : 1));
  let parents: string[];
  if (kind === 'split') {
    const widest = open.reduce((w, s) => (range(s).end - range(s).start > range(w).end - range(w).start ? s : w));
    const { start, end } = range(widest);
    parents = [widest.ShardId!];
    await kinesis.send(new SplitShardCommand({ StreamName: name, ShardToSplit: widest.ShardId!, NewStartingHashKey: String(start + (end - start + 1n) / 2n) }));
  } else {
    let best: [Shard, Shard] | undefined;
    for (let i = 0; i + 1 < open.length; i++) {
      const [a, b] = [open[i]!, open[i + 1]!];
      if (range(a).end + 1n !== range(b).start) continue;
      if (best === undefined || range(b).end - range(a).start < range(best[1]).end - range(best[0]).start) best = [a, b];
    }
    if (best === undefined) throw new RangeError(`merge needs two adjacent open shards; stream ${name} has ${open.length} open`);
    parents = [best[0].ShardId!, best[1].ShardId!];
    await kinesis.send(new MergeShardsCommand({ StreamName: name, ShardToMerge: parents[0], AdjacentShardToMerge: parents[1] }));
  }
  await waitActive(kinesis, name, timeoutMs);
  const children = (await listShards(kinesis, name)).map((s) => s.ShardId!).filter((id) => !before.has(id));
  return { kind, parents, children };
}
