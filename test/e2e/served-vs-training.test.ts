/**
 * Online against offline, end to end on emulators: the consumer's batch processor writes key items to dynalite
 * (dead letters to fauxqs, results to its S3) for a stream on two shards, with late, future, invalid and re-sent
 * records, and batches that crash part-way through their writes and are delivered again; after each batch the
 * features client serves every key at that time with its served log on. `npm run consistency` then recomputes
 * every served row from the events with the training rows' code: no mismatch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { prng } from '../../bin/bench/workload';
import type { ConsistencyReport } from '../../bin/training/consistency';
import { dynamoClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { processBatch } from '../../lambda/adapters/batch-processor';
import { DeadLetterSender } from '../../lambda/adapters/dead-letters';
import { FeatureClient } from '../../lambda/adapters/feature-client';
import { ResultObjectWriter } from '../../lambda/adapters/result-objects';
import { s3Client } from '../../lambda/adapters/s3-client';
import { StateStore, type WriteGate } from '../../lambda/adapters/state-store';
import { DEAD_LETTER_QUEUE, createQueueInput } from '../../lambda/contract/resources';
import type { InputRecord } from '../../lambda/core/engine';
import { parseSpec } from '../../lambda/core/spec';
import { createStateTable } from '../support/served-items';
import { type CliRun, runCli } from '../support/run-cli';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const SPEC_DOC = {
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000 },
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session_max', window: { type: 'session', gapMs: 45_000 }, aggregate: 'max', field: 'amount' },
    { name: 'p90_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
    { name: 'distinct_2m', window: { type: 'sliding', sizeMs: 120_000, slideMs: 60_000 }, aggregate: 'distinct', field: 'amount' },
  ],
};
const spec = parseSpec(SPEC_DOC);
const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const shardOf = (key: string): string => `shardId-00000000000${Number(key.slice(1)) % 2}`;
const tmp = mkdtempSync(join(tmpdir(), 'served-vs-training-'));
let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Records in arrival order (strictly rising), each shard's with rising 56-digit sequence numbers. */
function makeRecords(n: number, seed: number): InputRecord[] {
  const rnd = prng(seed);
  const out: InputRecord[] = [];
  const seqs = new Map<string, bigint>();
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += 1 + Math.floor(rnd() * 4000);
    const key = KEYS[Math.floor(rnd() * KEYS.length)]!;
    const u = rnd();
    let payload: string;
    if (u < 0.03) payload = `{"user": "${key}", ts:`;
    else if (u < 0.05) payload = JSON.stringify({ user: key, ts: t + 86_400_000, amount: 1, id: `e${i}` });
    else if (u < 0.15) payload = JSON.stringify({ user: key, ts: t - 3_000 - Math.floor(rnd() * 60_000), amount: Math.floor(rnd() * 100), id: `e${i}` });
    else if (u < 0.2 && out.length > 0) payload = out[out.length - 1]!.data as string; // a producer retry
    else payload = JSON.stringify({ user: key, ts: t - Math.floor(rnd() * 500), amount: Math.floor(rnd() * 100), id: `e${i}` });
    let shard = shardOf(key);
    if (u < 0.2 && u >= 0.15 && out.length > 0) shard = out[out.length - 1]!.shard;
    const seq = (seqs.get(shard) ?? BigInt('49650000000000000000000000000000000000000000000000000000')) + BigInt(1 + Math.floor(rnd() * 9));
    seqs.set(shard, seq);
    out.push({ data: payload, shard, seq: seq.toString(), arrivalTime: t });
  }
  return out;
}

/** Consecutive records of one shard, at most `size`: a batch as Lambda would deliver it, in arrival order overall. */
function batchesOf(records: readonly InputRecord[], size: number): InputRecord[][] {
  const out: InputRecord[][] = [];
  for (const r of records) {
    const last = out[out.length - 1];
    if (last !== undefined && last.length < size && last[0]!.shard === r.shard) last.push(r);
    else out.push([r]);
  }
  return out;
}

const cli = (args: readonly string[]): Promise<CliRun> => runCli('bin/consistency.ts', args);

describe('served rows against training rows', () => {
  it('on two shards, with crashes and re-deliveries, every served value equals its training row', async () => {
    const dynamo = dynamoClient();
    const sqs = sqsClient();
    const s3 = s3Client();
    await createStateTable(dynamo, 'svt-state');
    await s3.send(new CreateBucketCommand({ Bucket: 'svt-results' }));
    const q = await sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, 'svt-dlq')));
    const rnd = prng(5);
    const options = (now: number, gate?: WriteGate) => ({
      spec,
      pipelineName: 'svt',
      state: new StateStore({ client: dynamo, tableName: 'svt-state', ...(gate ? { writeGate: gate } : {}) }),
      results: new ResultObjectWriter({ client: s3, bucket: 'svt-results', ...(gate ? { writeGate: gate } : {}) }),
      deadLetters: new DeadLetterSender({ client: sqs, queueUrl: q.QueueUrl!, ...(gate ? { writeGate: gate } : {}) }),
      now: () => now,
    });
    const served: string[] = [];
    const client = new FeatureClient({ spec, tableName: 'svt-state', dynamo, servedLog: { sampleRate: 1, write: (l) => served.push(l) } });
    // Asked 1 ms before the batch's last arrival, the state already holds that record: the check must see it.
    const early: string[] = [];
    const earlyClient = new FeatureClient({ spec, tableName: 'svt-state', dynamo, servedLog: { sampleRate: 1, write: (l) => early.push(l) } });
    const records = makeRecords(300, 3);
    let crashes = 0;
    for (const batch of batchesOf(records, 12)) {
      const now = batch[batch.length - 1]!.arrivalTime!;
      if (rnd() < 0.25) {
        // A crash part-way through the batch's writes; Lambda delivers the batch again.
        // (A batch with fewer writes than k + 1 completes.)
        let n = 0;
        const k = Math.floor(rnd() * 4);
        const gate: WriteGate = () => {
          if (n++ === k) throw new Error('injected crash');
        };
        crashes += await processBatch(batch, options(now, gate)).then(
          () => 0,
          (e: unknown) => {
            expect((e as Error).message).toBe('injected crash');
            return 1;
          },
        );
      }
      await processBatch(batch, options(now));
      await client.getFeatures([...KEYS, 'nobody'], { at: now });
      await earlyClient.getFeatures([...KEYS, 'nobody'], { at: now - 1 });
    }
    expect(crashes).toBeGreaterThan(5);
    // Busy windows, not only empty ones, were compared.
    const counts = served.map((l) => (JSON.parse(l) as { features: { count_1m: number } }).features.count_1m);
    expect(counts.filter((c) => c > 0).length).toBeGreaterThan(served.length / 4);
    const servedPath = join(tmp, 'served.jsonl');
    writeFileSync(servedPath, served.map((l) => `${l}\n`).join(''));
    const eventsPath = join(tmp, 'events.jsonl');
    writeFileSync(eventsPath, records.map((r) => `${JSON.stringify({ arrivalTime: r.arrivalTime, shard: r.shard, data: r.data })}\n`).join(''));
    const specPath = join(tmp, 'spec.json');
    writeFileSync(specPath, JSON.stringify(SPEC_DOC));
    const r = await cli(['--config', specPath, '--events', eventsPath, '--served', servedPath]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ConsistencyReport;
    expect(report.rows).toBe(served.length);
    expect(served).toHaveLength(1043);
    for (const f of spec.features) expect(report.features[f.name], f.name).toEqual({ compared: served.length, mismatches: 0, mismatchShare: 0, largestDifference: null, examples: [] });
    const earlyPath = join(tmp, 'served-early.jsonl');
    writeFileSync(earlyPath, early.map((l) => `${l}\n`).join(''));
    const e = await cli(['--config', specPath, '--events', eventsPath, '--served', earlyPath]);
    const leaked = JSON.parse(e.stdout) as ConsistencyReport;
    expect(leaked.features.count_1m).toMatchObject({ compared: 1043, mismatches: 123, largestDifference: 1 });
    dynamo.destroy();
  }, 180_000);
});
