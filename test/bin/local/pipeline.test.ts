/**
 * The local pipeline's failure path on the emulators, with the real consumer: batches the event source mapping
 * gives up on land in the on-failure SQS queue (where the OnFailureQueueNotEmpty alarm would see them), and a
 * consumer that outlives the function timeout is stopped and retried while the shard goes on.
 */
import { FAST_RETRY_BACKOFF, invocationStopped } from '../../../bin/local/esm-runner';
import { UsageRecorder } from '../../../bin/local/usage';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { LocalPipeline, type LocalPipelineOptions } from '../../../bin/local/pipeline';
import { sqsClient } from '../../../lambda/adapters/aws-clients';
import { parseSpecJson } from '../../../lambda/core/spec';

const SPEC = parseSpecJson(readFileSync(path.join(__dirname, '..', '..', '..', 'bin', 'specs', 'fraud.json'), 'utf8'));
const saved = { ...process.env };
let emulators: Emulators;
let count = 0;
const started: LocalPipeline[] = [];

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  process.env = saved;
  await emulators?.stop();
});

async function start(o: Omit<LocalPipelineOptions, 'spec'>): Promise<LocalPipeline> {
  // No batching window: these tests are about failures, and each window would only add a second.
  const p = await LocalPipeline.start({ spec: SPEC, name: `pipe-${++count}`, maximumBatchingWindowMs: 0, retryBackoffMs: FAST_RETRY_BACKOFF, ...o });
  started.push(p);
  return p;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const payment = (user: string, n: number) =>
  JSON.stringify({ user_id: user, event_time: Date.now() - 60_000 + n, amount: 10 + n, event_id: `${user}-${n}` });

describe('LocalPipeline', () => {
  it('sends batches it gives up on to the on-failure SQS queue as Lambda does', async () => {
    const pipeline = await start({
      maximumRetryAttempts: 0,
      beforeInvoke: () => {
        throw new Error('the function fails every time');
      },
    });
    const put = await pipeline.put([0, 1, 2].map((n) => ({ partitionKey: 'u1', data: payment('u1', n) })));
    await pipeline.drain();

    // Bisected down to single records, each abandoned after its one attempt: three messages in the queue.
    expect(await pipeline.onFailureQueueDepth()).toBe(3);
    const raw = await sqsClient().send(new ReceiveMessageCommand({ QueueUrl: pipeline.names.onFailureQueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    expect(raw.Messages?.length).toBeGreaterThan(0);
    expect(JSON.parse(raw.Messages![0]!.Body!)).toHaveProperty('KinesisBatchInfo');

    const messages = await pipeline.takeOnFailureMessages();
    const sorted = [...messages].sort((a, b) => (BigInt(a.KinesisBatchInfo.startSequenceNumber) < BigInt(b.KinesisBatchInfo.startSequenceNumber) ? -1 : 1));
    expect(sorted.map((m) => m.KinesisBatchInfo.startSequenceNumber)).toEqual(put.map((r) => r.seq));
    for (const m of sorted) {
      expect(m).toMatchObject({
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1, functionArn: expect.stringMatching(new RegExp(`:function:${pipeline.names.pipeline}-consumer$`)) },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        KinesisBatchInfo: { shardId: put[0]!.shard, batchSize: 1, streamArn: expect.stringMatching(new RegExp(`:stream/${pipeline.names.stream}$`)) },
      });
    }
    expect(pipeline.esm.counters).toMatchObject({ onFailureBatches: 3, bisections: 2 });
    expect(await pipeline.onFailureQueueDepth()).toBe(0);
  });

  it('fails a consumer invocation that outlives the function timeout, then applies the batch on retry', async () => {
    let invocations = 0;
    const applied: number[] = [];
    const pipeline = await start({
      // Far above what a two-record batch takes, even on a busy machine: only the hung invocation times out.
      functionTimeoutMs: 3_000,
      beforeInvoke: () => {
        invocations++;
      },
      // The first invocation hangs on its first write, as a stalled request would, and never finishes.
      writeGate: () => (invocations === 1 ? new Promise<void>(() => undefined) : undefined),
      onOutcome: (o) => applied.push(o.counters.applied),
    });
    await pipeline.put([0, 1].map((n) => ({ partitionKey: 'u2', data: payment('u2', n) })));
    await pipeline.drain();

    expect(pipeline.esm.counters).toMatchObject({ timeouts: 1, failedInvocations: 1, bisections: 1, onFailureBatches: 0 });
    expect(applied.reduce((a, b) => a + b, 0)).toBe(2);
    expect(await pipeline.onFailureQueueDepth()).toBe(0);

    // The shard goes on after the timed-out batch.
    await pipeline.put([{ partitionKey: 'u2', data: payment('u2', 2) }]);
    await pipeline.drain();
    expect(applied.reduce((a, b) => a + b, 0)).toBe(3);
    const t0 = Date.now();
    await pipeline.stop();
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it.each([
    ['without usage counting', false],
    ['with usage counting', true],
  ])('stops a consumer invocation at its timeout: nothing it would write later lands (%s)', async (_, counting) => {
    let invocations = 0;
    const outcomes: number[] = [];
    const usage = counting ? new UsageRecorder() : undefined;
    let released = false;
    let writesAfterStop = 0;
    const pipeline = await start({
      // Far above what a one- or two-record batch takes, even on a busy machine: only the delayed invocation times out.
      functionTimeoutMs: 1_500,
      beforeInvoke: () => {
        invocations++;
      },
      // The first invocation's first write (its archive object) waits until a second after its timeout.
      writeGate: async () => {
        if (invocationStopped() !== undefined) writesAfterStop++;
        if (invocations === 1 && !released) {
          await sleep(2_500);
          released = true;
        }
      },
      onOutcome: (_o, recordsIn) => outcomes.push(recordsIn),
      ...(usage ? { usage } : {}),
    });
    const put = await pipeline.put([0, 1].map((n) => ({ partitionKey: 'u3', data: payment('u3', n) })));
    await pipeline.drain();
    expect(pipeline.esm.counters).toMatchObject({ invocations: 3, timeouts: 1, bisections: 1, onFailureBatches: 0 });
    while (!released) await sleep(20);
    // Time for the stopped invocation's later writes, had they been sent.
    await sleep(1_500);

    // Only the retries' outcomes (one record each) are reported, and only their archive objects exist.
    expect(outcomes).toEqual([1, 1]);
    expect(writesAfterStop).toBe(0);
    const archived = await pipeline.archiveStore().list();
    expect(archived).toHaveLength(2);
    for (const r of put) expect(archived.filter((key) => key.includes(`-${r.seq}-${r.seq}`))).toHaveLength(1);
    if (usage) expect(usage.usage()).toMatchObject({ invocations: 3, s3ArchivePutRequests: 2 });

    await pipeline.flush();
    const counts = (await pipeline.finalWindows()).filter((w) => w.feature === 'txn_count_5m' && w.key === 'u3');
    expect(counts.reduce((n, w) => n + w.count, 0)).toBe(2);
  });
});
