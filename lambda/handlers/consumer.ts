/**
 * Kinesis consumer: parse → engine → store → metrics. Failures throw, so Lambda retries (or bisects) the batch;
 * state writes are idempotent, so a retry is harmless. Poison records never throw: they go to the dead-letter
 * queue and the batch proceeds.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { type ClientHook, dynamoClient, hooked, sqsClient } from '../adapters/aws-clients';
import { type BatchOutcome, type ScoringOptions, processBatch } from '../adapters/batch-processor';
import { ConfigError, type ConsumerConfig, configFromEnv } from '../adapters/config';
import { kinesisClient } from '../adapters/kinesis-client';
import { PredictionStore } from '../adapters/prediction-store';
import { type ClosedWindow, EvaluationStore } from '../adapters/evaluation-store';
import { publishClosedWindowMetrics } from '../adapters/evaluation-metrics';
import type { Model } from '../core/model';
import { EVALUATION_DEFAULTS } from '../core/spec';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeadLetterSender } from '../adapters/dead-letters';
import { ResultObjectWriter } from '../adapters/result-objects';
import { s3Client } from '../adapters/s3-client';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type ArrivalClock, toDeliveredRecords, withLineage } from '../adapters/kinesis-records';
import { ShardLineageResolver, streamNameOfArn } from '../adapters/shard-lineage';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ArchiveWriter } from '../adapters/archive-objects';
import { METRICS_NAMESPACE, PIPELINE_DIMENSION } from '../contract/metric-names';
import { publishBatchMetrics } from '../adapters/metrics';
import { StateStore, type WriteGate } from '../adapters/state-store';

export interface CreateConsumerOptions {
  readonly config: ConsumerConfig;
  /** Called before every write (fault injection). */
  readonly writeGate?: WriteGate;
  /** Receives each batch's outcome (the local sandbox's figures). */
  readonly onOutcome?: (o: BatchOutcome, recordsIn: number) => void;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Recorded arrival times replacing approximateArrivalTimestamp (the sandbox replaying a file). */
  readonly arrivalClock?: ArrivalClock;
  /** Sees every AWS SDK client the consumer creates (the local sandbox counts requests and consumed capacity). */
  readonly clientHook?: ClientHook;
  /** A model of your own, replacing the one the config reads from MODEL_DOCUMENT (needs the spec's scoring section). */
  readonly model?: Model;
}

export function createConsumer(opts: CreateConsumerOptions): (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse> {
  const { config } = opts;
  const logger = opts.logger ?? new Logger({ serviceName: config.pipelineName });
  const metrics = opts.metrics ?? pipelineMetrics(config.pipelineName);
  const dynamo = hooked(dynamoClient({ maxAttempts: 8 }), opts.clientHook);
  const sqs = hooked(sqsClient({ maxAttempts: 8 }), opts.clientHook);
  const s3 = hooked(s3Client({ maxAttempts: 8 }), opts.clientHook);
  const scoring = scoringOptions(opts, dynamo, metrics);
  const archive =
    config.archiveBucket === undefined ? undefined : new ArchiveWriter({ client: s3, bucket: config.archiveBucket, pipeline: config.pipelineName, ...(opts.writeGate ? { writeGate: opts.writeGate } : {}) });
  let kinesis: KinesisClient | undefined;
  const lineages = new Map<string, ShardLineageResolver>();
  // Parents' checkpoints are read once per container, outside any batch's counted reads.
  const parentState = new StateStore({ client: dynamo, tableName: config.stateTable });
  /** Per stream (the event's source): which shards were made by a split or merge, and their parents' checkpoints. */
  const lineageOf = (arn: string | undefined): ShardLineageResolver | undefined => {
    const streamName = arn === undefined ? undefined : streamNameOfArn(arn);
    if (streamName === undefined) return undefined;
    kinesis ??= hooked(kinesisClient({ maxAttempts: 8 }), opts.clientHook);
    const client = kinesis;
    return lineages.get(streamName) ?? lineages.set(streamName, new ShardLineageResolver({ kinesis: client, streamName, parentCheckpoint: (s) => parentState.getShard(s) })).get(streamName)!;
  };
  return async (event) => {
    const started = Date.now();
    const state = new StateStore({ client: dynamo, tableName: config.stateTable, ...(opts.writeGate ? { writeGate: opts.writeGate } : {}) });
    const received = event.Records.flatMap((r) => toDeliveredRecords(r, opts.arrivalClock));
    const lineage = (await lineageOf(event.Records[0]?.eventSourceARN)?.of([...new Set(received.map((d) => d.input.shard))])) ?? new Map();
    const delivered = withLineage(received, lineage);
    const records = delivered.map((d) => d.input);
    // Archived before anything else: every record delivered is kept, whatever the batch then does; a retry puts
    // the same objects again.
    await archive?.putBatch(delivered.map((d) => d.archived));
    const outcome = await processBatch(records, {
      spec: config.spec,
      pipelineName: config.pipelineName,
      state,
      inheritedDefinitions: new Map([...lineage].map(([s, l]) => [s, l.definitions])),
      results: new ResultObjectWriter({ client: s3, bucket: config.resultsBucket, ...(opts.writeGate ? { writeGate: opts.writeGate } : {}) }),
      deadLetters: new DeadLetterSender({
        client: sqs,
        queueUrl: config.deadLetterQueueUrl,
        payloads: {
          bucket: config.resultsBucket,
          pipeline: config.pipelineName,
          put: async (key, body) => void (await s3.send(new PutObjectCommand({ Bucket: config.resultsBucket, Key: key, Body: body }))),
        },
        ...(opts.writeGate ? { writeGate: opts.writeGate } : {}),
      }),
      parallelizationFactor: config.parallelizationFactor,
      ...(scoring === undefined ? {} : { scoring: scoring() }),
    });
    publishBatchMetrics(metrics, records.length, outcome, Date.now() - started);
    logger.info('batch processed', { shard: records[0]?.shard, firstSeq: records[0]?.seq, recordsIn: records.length, ...outcome.counters, skipped: outcome.skipped, stateWrites: outcome.stateWrites });
    opts.onOutcome?.(outcome, records.length);
    return { batchItemFailures: [] };
  };
}

/** Per invocation: the model and a prediction store behind the same write gate as the other writes. */
function scoringOptions(opts: CreateConsumerOptions, dynamo: DynamoDBClient, metrics: Metrics): (() => ScoringOptions) | undefined {
  const sc = opts.config.scoring;
  const spec = opts.config.spec;
  if (sc === undefined || spec.scoring === undefined) {
    if (opts.model !== undefined) throw new ConfigError('a model was given, but the spec has no scoring section (and no predictions table)');
    return undefined;
  }
  const model = opts.model ?? sc.model;
  const kinesis = hooked(kinesisClient({ maxAttempts: 8 }), opts.clientHook);
  const labelWindowMs = spec.evaluation?.labelWindowMs ?? 0;
  const windowMs = spec.evaluation?.windowMs ?? EVALUATION_DEFAULTS.windowMs;
  const gate = opts.writeGate ? { writeGate: opts.writeGate } : {};
  const evaluation = spec.evaluation;
  return () => ({
    model,
    predictions: new PredictionStore({ dynamo, kinesis, tableName: sc.predictionsTable, streamName: sc.predictionsStream, evaluationWindowMs: windowMs, keepMs: labelWindowMs, ...gate }),
    ...(evaluation === undefined
      ? {}
      : {
          evaluation: new EvaluationStore({ client: dynamo, tableName: sc.predictionsTable, evaluation, ...gate }),
          // Published before the windows are marked closed: a crash in between repeats the figures, never loses them.
          onWindowsClosing: (closed: readonly ClosedWindow[]) => publishClosedWindowMetrics(metrics, closed, opts.config.pipelineName),
        }),
  });
}

/** Metrics with the single `Pipeline` dimension the alarms and dashboard query (Powertools adds `service` otherwise). */
function pipelineMetrics(pipelineName: string): Metrics {
  const m = new Metrics({ namespace: METRICS_NAMESPACE });
  m.clearDefaultDimensions();
  m.setDefaultDimensions({ [PIPELINE_DIMENSION]: pipelineName });
  return m;
}

let consumer: ReturnType<typeof createConsumer> | undefined;

/** Lambda entry point: configuration comes from the environment the stack sets, read on first use. */
export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  consumer ??= createConsumer({ config: configFromEnv() });
  return consumer(event);
};
