/**
 * The exported Lambda `handler`, configured from the environment as the stack configures it, invoked with a
 * Kinesis event against the emulators (dynalite, fauxqs): it writes features and dead letters, and the metrics
 * it publishes (embedded metric format on stdout, captured here) are exactly the pipeline metrics the stack's
 * alarms and dashboard read.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { dynamoClient, sqsClient } from '../../../lambda/adapters/aws-clients';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { WindowEngine } from '../../../lambda/core/engine';
import { decodeKeyItem } from '../../../lambda/core/key-item';
import { parseSpecJson } from '../../../lambda/core/spec';
import { FEATURE_METRICS, LABELS_METRICS, METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../../lambda/contract/metric-names';
import { CONSUMER_ENV, DEAD_LETTER_QUEUE, PREDICTIONS_TABLE, STATE_TABLE, createQueueInput } from '../../../lambda/contract/resources';
import { buildPipeline, FEATURES_ONLY_SPEC_JSON, FRAUD_SPEC_JSON, ROOT } from '../../lib/fixtures';
import { Logger } from '@aws-lambda-powertools/logger';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createActiveStream, readStream } from '../../../bin/local/streams';
import { kinesisClient } from '../../../lambda/adapters/kinesis-client';
import { createActiveTable } from '../../../bin/local/tables';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const NAMES = { state: 'handler-state', bucket: 'handler-results', queue: 'handler-dlq', predictions: 'handler-predictions' };
let emulators: Emulators;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  await createActiveTable(dynamoClient(), STATE_TABLE, NAMES.state);
  await createActiveTable(dynamoClient(), PREDICTIONS_TABLE, NAMES.predictions);
  await createActiveStream(kinesisClient(), NAMES.predictions);
  // The events' source: the consumer lists its shards (a child shard's parents).
  await createActiveStream(kinesisClient(), 'consumer-handler-events');
  await s3Client().send(new CreateBucketCommand({ Bucket: NAMES.bucket }));
  const q = await sqsClient().send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, NAMES.queue)));
  const env = {
    [CONSUMER_ENV.spec]: JSON.stringify(JSON.parse(FRAUD_SPEC_JSON)),
    [CONSUMER_ENV.pipelineName]: 'fraud',
    [CONSUMER_ENV.stateTableName]: NAMES.state,
    [CONSUMER_ENV.finalsBucketName]: NAMES.bucket,
    [CONSUMER_ENV.deadLetterQueueUrl]: q.QueueUrl!,
    // The example spec scores with bin/specs/fraud-model.json; the stack ships the document itself.
    [CONSUMER_ENV.modelDocument]: JSON.stringify(JSON.parse(readFileSync(path.join(ROOT, 'bin', 'specs', 'fraud-model.json'), 'utf8'))),
    [CONSUMER_ENV.predictionsTableName]: NAMES.predictions,
    [CONSUMER_ENV.predictionsStreamName]: NAMES.predictions,
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await emulators?.stop();
});

function kinesisEvent(payloads: readonly string[], seqBase = 0): KinesisStreamEvent {
  return {
    Records: payloads.map((data, i) => {
      const seq = String(49650000000000000000000000000000000000000000000000000000n + BigInt(seqBase + i + 1));
      return {
        eventID: `${SHARD}:${seq}`,
        eventName: 'aws:kinesis:record',
        eventSource: 'aws:kinesis',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/consumer-handler-events',
        eventVersion: '1.0',
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: 'k',
          sequenceNumber: seq,
          data: Buffer.from(data, 'utf8').toString('base64'),
          approximateArrivalTimestamp: (T0 + 60_000 + i) / 1000,
        },
      };
    }),
  };
}

/** Lines written to stdout while `fn` runs (Powertools writes EMF and its log lines there), kept out of the test output. */
async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, lines: chunks.join('').split('\n').filter((l) => l.trim() !== '') };
  } finally {
    process.stdout.write = write;
  }
}

interface Emf {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
  [field: string]: unknown;
}

/**
 * Pipeline metric names the synthesized stack's alarms and dashboard read (namespace EventTimeFeatures), for a
 * spec without scoring and evaluation: this consumer is configured without a model.
 */
function metricsReadByStack(): Set<string> {
  const { template } = buildPipeline();
  const names = new Set<string>();
  for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
    const p = alarm.Properties as { Namespace?: string; MetricName?: string; Metrics?: Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string } } }> };
    if (p.Namespace === METRICS_NAMESPACE && p.MetricName) names.add(p.MetricName);
    for (const m of p.Metrics ?? []) if (m.MetricStat?.Metric.Namespace === METRICS_NAMESPACE) names.add(m.MetricStat.Metric.MetricName);
  }
  const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map((d) => (d.Properties as { DashboardBody: unknown }).DashboardBody));
  for (const m of body.matchAll(/\[\\"EventTimeFeatures\\",\\"([A-Za-z]+)\\"/g)) names.add(m[1]!);
  return names;
}

it('the exported handler processes a Kinesis event and publishes the metrics the alarms and dashboard read', async () => {
  const { handler } = await import('../../../lambda/handlers/consumer');
  const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();
  const payloads = [
    JSON.stringify({ user_id: 'u1', event_time: at(0), amount: 10, event_id: 'e1' }),
    JSON.stringify({ user_id: 'u1', event_time: at(0.5), amount: 5, event_id: 'e2' }),
    JSON.stringify({ user_id: 'u1', event_time: at(0.5), amount: 5, event_id: 'e2' }), // producer retry
    JSON.stringify({ user_id: 'u2', event_time: at(0.2), amount: '12,50', event_id: 'e3' }), // invalid, key parsed
    JSON.stringify({ user_id: 'u3', event_time: at(600), amount: 1, event_id: 'e4' }), // ten hours ahead: future
  ];
  const before = Date.now();
  const { value: response, lines } = await captureStdout(() => handler(kinesisEvent(payloads)));
  const after = Date.now();
  expect(response).toEqual({ batchItemFailures: [] });

  const emf = lines.filter((l) => l.startsWith('{') && l.includes('"_aws"')).map((l) => JSON.parse(l) as Emf);
  expect(emf).toHaveLength(1);
  const doc = emf[0]!;
  const directive = doc._aws.CloudWatchMetrics[0]!;
  expect(directive.Namespace).toBe(METRICS_NAMESPACE);
  expect(directive.Dimensions).toEqual([[PIPELINE_DIMENSION]]);
  expect(doc[PIPELINE_DIMENSION]).toBe('fraud');
  const emitted = new Set(directive.Metrics.map((m) => m.Name));
  // Every metric but the labels consumer's and those of an evaluation window closing (none closes here).
  // IdleAdvances comes from the idle-shard tick (lambda/handlers/idle-tick.ts).
  const elsewhere = new Set<string>([
    ...LABELS_METRICS,
    MetricName.EvaluationPositiveRate,
    MetricName.EvaluationPsi,
    MetricName.EvaluationPositiveRateProvisional,
    MetricName.EvaluationPsiProvisional,
    MetricName.EvaluationEstimatedPrecision,
    MetricName.EvaluationEstimatedRecall,
    MetricName.EvaluationEstimatedRocAuc,
    MetricName.EvaluationFeaturePsiMax,
    MetricName.EvaluationFeatureEmptyShareMax,
    ...FEATURE_METRICS,
    MetricName.IdleAdvances,
  ]);
  expect([...emitted].sort()).toEqual(Object.values(MetricName).filter((m) => !elsewhere.has(m)).sort());
  expect([...metricsReadByStack()].filter((m) => !elsewhere.has(m)).sort()).toEqual([...emitted].sort());
  expect(doc).toMatchObject({ RecordsIn: 5, RecordsApplied: 2, DuplicateRecords: 1, InvalidRecords: 1, FutureRecords: 1, LateRecords: 0, DeadLetters: 2, Predictions: 2, PositivePredictions: 0 });
  // The fraud model reads two features: four values, none missing.
  expect(doc).toMatchObject({ ScoredFeatureValues: 4, ScoredFeaturesUnavailable: 0 });
  // Arrival (approximateArrivalTimestamp, a minute after T0) → prediction written: the wall clock now, long after.
  // e1 and e2 arrived at T0 + 60,000 ms and + 60,001 ms; their items were written during the call.
  const latencies = doc.PredictionLatencyMs as number[];
  expect(latencies).toHaveLength(2);
  for (const l of latencies) {
    expect(l).toBeGreaterThanOrEqual(before - (T0 + 60_001));
    expect(l).toBeLessThanOrEqual(after - (T0 + 60_000));
  }
  // Each record is scored as of its own arrival: e1 (event at 0) at T0 + 60,000 ms with itself alone, e2 (event at
  // 30 s) at T0 + 60,001 ms with both.
  expect([...(doc.ScoringFeatureAgeMs as number[])].sort((a, b) => a - b)).toEqual([30_001, 60_000]);
  const predictions = (await readStream(kinesisClient(), NAMES.predictions)).map((t) => JSON.parse(t) as { key: string; eventId: string; modelVersion: string });
  expect(predictions.map((p) => `${p.key} ${p.eventId} ${p.modelVersion}`).sort()).toEqual(['u1 e1 fraud-v1', 'u1 e2 fraud-v1']);

  // Its effects are stored: u1's key item holds both records, and both rejections are in the dead-letter queue with their keys.
  const item = await dynamoClient().send(new GetItemCommand({ TableName: NAMES.state, Key: { pk: { S: 'entity#u1' }, sk: { S: 'state' } }, ConsistentRead: true }));
  const engine = new WindowEngine(parseSpecJson(FRAUD_SPEC_JSON));
  engine.loadKey('u1', decodeKeyItem(engine.runtimes, 'u1', item.Item!.s!.B!));
  expect(engine.currentValue({ feature: 'txn_count_5m', key: 'u1' })?.count).toBe(2);
  // FIFO: messages of one group (the shard) are handed out one after the other, each once deleted.
  const queueUrl = process.env[CONSUMER_ENV.deadLetterQueueUrl]!;
  const letters: Array<{ reason: string; key?: string }> = [];
  for (let i = 0; i < 5 && letters.length < 2; i++) {
    const received = await sqsClient().send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of received.Messages ?? []) {
      letters.push(JSON.parse(m.Body!) as { reason: string; key?: string });
      await sqsClient().send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  expect(letters.map((l) => `${l.reason} ${l.key}`).sort()).toEqual(['future u3', 'invalid u2']);
}, 120_000); // a first invocation (client and Powertools set-up) plus a synthesis, on a shared machine

it('a model of your own given to createConsumer replaces the document, and its version names the predictions', async () => {
  const { createConsumer } = await import('../../../lambda/handlers/consumer');
  const { configFromEnv } = await import('../../../lambda/adapters/config');
  const mine = { version: 'mine-2', features: ['txn_count_5m'], threshold: 0.5, score: (v: Readonly<Record<string, number | null>>) => ((v.txn_count_5m ?? 0) >= 1 ? 0.75 : 0.25) };
  const consumer = createConsumer({ config: configFromEnv(), model: mine, logger: new Logger({ logLevel: 'SILENT' }) });
  const at = new Date(T0 + 60_000).toISOString();
  await captureStdout(() => consumer(kinesisEvent([JSON.stringify({ user_id: 'own', event_time: at, amount: 3, event_id: 'own-1' })], 100)));
  const predictions = (await readStream(kinesisClient(), NAMES.predictions)).map((t) => JSON.parse(t) as { predictionId: string; score: number; positive: boolean });
  expect(predictions.filter((p) => p.predictionId === 'mine-2:own-1')).toEqual([expect.objectContaining({ score: 0.75, positive: true })]);
  expect(() => createConsumer({ config: { ...configFromEnv(), spec: parseSpecJson(FEATURES_ONLY_SPEC_JSON) }, model: mine })).toThrow(/a model was given, but the spec has no scoring section/);
});
