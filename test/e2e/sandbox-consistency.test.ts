/**
 * Online against offline in the sandbox, as `npm start -- --follow` runs it: the local pipeline (Kinesis emulator,
 * event source mapping, the real consumer) with the features endpoint on localhost and its served log on. The
 * story's records go in wave by wave; after each wave has been consumed the test calls the endpoint for every
 * user. The stream is then read back with the arrival times Kinesis gave each record, and every served row is
 * recomputed from those events with the training rows' code: the mismatch rate must be 0.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { startFeaturesServer, type FeaturesServer } from '../../bin/local/features-server';
import { kinesisClient } from '../../bin/local/kinesis-client';
import { LocalPipeline } from '../../bin/local/pipeline';
import { buildStory } from '../../bin/sandbox/story';
import { checkConsistency, parseServedLine } from '../../bin/training/consistency';
import { FeatureClient } from '../../lambda/adapters/feature-client';
import type { InputRecord } from '../../lambda/core/engine';
import { parseSpecJson } from '../../lambda/core/spec';
import { compareSeq } from '../../lambda/core/state';

const spec = parseSpecJson(readFileSync(path.join(__dirname, '..', '..', 'bin', 'specs', 'fraud.json'), 'utf8'));
let emulators: Emulators;
let pipeline: LocalPipeline;
let server: FeaturesServer;
const saved = { ...process.env };
const servedLines: string[] = [];

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  pipeline = await LocalPipeline.start({ spec, name: 'consist', shards: 2, maximumBatchingWindowMs: 0 });
  const client = new FeatureClient({ spec, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient, servedLog: { sampleRate: 1, write: (l) => servedLines.push(l) } });
  server = await startFeaturesServer(client);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await pipeline?.stop();
  process.env = saved;
  await emulators?.stop();
});

/** Every record of the stream, with the arrival time Kinesis gave it, in arrival order (shard order within a shard). */
async function readBack(): Promise<InputRecord[]> {
  const kinesis = kinesisClient();
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: pipeline.names.stream }))).Shards ?? [];
  const out: InputRecord[] = [];
  for (const s of shards) {
    let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: pipeline.names.stream, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let empty = 0; it !== undefined && empty < 2; ) {
      const res = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      const got = res.Records ?? [];
      if (got.length === 0) empty++;
      for (const r of got) out.push({ data: Buffer.from(r.Data!).toString('utf8'), shard: s.ShardId!, seq: r.SequenceNumber!, arrivalTime: r.ApproximateArrivalTimestamp!.getTime() });
      it = res.NextShardIterator;
    }
  }
  return out.sort((a, b) => a.arrivalTime! - b.arrivalTime! || (a.shard === b.shard ? compareSeq(a.seq, b.seq) : a.shard < b.shard ? -1 : 1));
}

it('serves in the sandbox exactly what the training rows recompute from the events that had arrived (no mismatch)', async () => {
  const story = buildStory(Date.now());
  const users = [...new Set(story.records.map((r) => r.user))];
  for (const wave of story.waves.slice(0, 12)) {
    if (wave.records.length > 0) await pipeline.put(wave.records.map((r) => ({ partitionKey: r.user, data: r.data })));
    await pipeline.drain();
    const res = await fetch(server.url, { method: 'POST', body: JSON.stringify({ entities: { user_id: users } }) });
    expect(res.status).toBe(200);
  }
  const served = servedLines.map((l, i) => parseServedLine(l, i + 1, spec));
  expect(served.length).toBe(12 * users.length);
  const events = await readBack();
  expect(events.length).toBeGreaterThan(20);
  const report = await checkConsistency(spec, served, [events]);
  expect([report.ok, report.notCompared, report.otherSpec.rows, report.specUnverified]).toEqual([true, [], 0, 0]);
  for (const [feature, f] of Object.entries(report.features)) {
    expect(f.compared, feature).toBe(served.length);
    expect(f.mismatches, `${feature}: ${JSON.stringify(f.examples)}`).toBe(0);
  }
  // The served rows are not all empty: the fraudster's count is in them.
  expect(served.some((s) => s.key === story.fraudster && (s.features.txn_count_1h_every_5m ?? 0) >= 3)).toBe(true);
}, 240_000);
