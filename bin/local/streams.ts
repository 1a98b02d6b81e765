/** Kinesis streams on the emulator: created and waited for, and read whole (the predictions a test or the sandbox checks). */
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function createActiveStream(kinesis: KinesisClient, name: string, shards = 1, timeoutMs = 10_000): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
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
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
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
