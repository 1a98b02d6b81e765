/**
 * The whole pipeline on local emulators: the stream, tables and queues the CDK stack declares (same definitions,
 * lambda/contract/resources.ts), the real consumer handler, and the local event source mapping feeding it with the
 * deployed mapping's settings and the function's timeout. Batches the mapping gives up on are described in the
 * on-failure queue, as on AWS. An invocation that outlives the timeout is stopped as on Lambda: the consumers'
 * SDK clients send nothing more for it, and its outcome is not reported. Used by the end-to-end tests and the
 * sandbox (`npm start`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import { type ClientHook, dynamoClient, hooked, sqsClient } from '../../lambda/adapters/aws-clients';
import { kinesisClient } from './kinesis-client';
import { type BatchOutcome, flushAll } from '../../lambda/adapters/batch-processor';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ResultObjectReader, ResultObjectWriter } from '../../lambda/adapters/result-objects';
import { S3ArchiveStore, archivePrefix } from '../../lambda/adapters/archive-objects';
import { s3Client } from '../../lambda/adapters/s3-client';
import { StateStore, type WriteGate } from '../../lambda/adapters/state-store';
import type { PipelineSpec } from '../../lambda/core/spec';
import { type CorrectionLine, type FiringLine, type WindowLine, windowId } from '../../lambda/core/output';
import { createConsumer } from '../../lambda/handlers/consumer';
import { createIdleTick } from '../../lambda/handlers/idle-tick';
import { DEFAULT_IDLE_MARGIN_MS, type IdleShardResult } from '../../lambda/adapters/idle-shards';
import type { ConsumerConfig } from '../../lambda/adapters/config';
import { METRICS_NAMESPACE, PIPELINE_DIMENSION } from '../../lambda/contract/metric-names';
import { createLabelsConsumer } from '../../lambda/handlers/labels';
import type { LabelsOutcome } from '../../lambda/adapters/labels-processor';
import {
  CONSUMER_FUNCTION_DEFAULTS,
  DEAD_LETTER_QUEUE,
  EVENT_SOURCE_DEFAULTS,
  EVENT_SOURCE_LIMITS,
  ON_FAILURE_QUEUE,
  PREDICTIONS_TABLE,
  STATE_TABLE,
  createQueueInput,

} from '../../lambda/contract/resources';
import { type KinesisOnFailureMessage, LocalEventSourceMapping, type LocalEventSourceMappingOptions, invocationStopped, stopAtTimeout } from './esm-runner';
import type { UsageRecorder } from './usage';
import { createActiveTable } from './tables';
import { type Reshard, type ReshardKind, createActiveStream, readStream, reshardStream } from './streams';
import type { Model } from '../../lambda/core/model';
import type { Prediction } from '../../lambda/core/scoring';
import { scanAll } from '../../lambda/adapters/dynamo-io';
import { PREDICTION_SK, PredictionAttr, WINDOW_SK, windowPk } from '../../lambda/adapters/evaluation-items';
import { type ClosedWindow, EvaluationStore, type FinalEvaluationWindow, type StoredWindow } from '../../lambda/adapters/evaluation-store';

/** A watermark and a label clock past every window: the end of a bounded input. */
const END_OF_INPUT = Number.MAX_SAFE_INTEGER;

/** The settings of the mapping and function the stack deploys, as local event source mapping options. */
export type DeployedMappingOptions = Required<
  Pick<
    LocalEventSourceMappingOptions,
    | 'startingPosition'
    | 'batchSize'
    | 'maximumBatchingWindowMs'
    | 'maximumRetryAttempts'
    | 'bisectBatchOnFunctionError'
    | 'reportBatchItemFailures'
    | 'functionTimeoutMs'
  >
> &
  Pick<LocalEventSourceMappingOptions, 'maximumRecordAgeMs'>;

/** Read from the definitions the CDK stack uses (lambda/contract/resources.ts), so the two cannot drift apart. */
export function deployedMappingOptions(): DeployedMappingOptions {
  const d = EVENT_SOURCE_DEFAULTS;
  const maxAgeSeconds: number = d.maxRecordAgeSeconds;
  return {
    startingPosition: d.startingPosition,
    batchSize: d.batchSize,
    maximumBatchingWindowMs: d.maxBatchingWindowSeconds * 1000,
    maximumRetryAttempts: d.retryAttempts,
    bisectBatchOnFunctionError: d.bisectBatchOnError,
    reportBatchItemFailures: d.reportBatchItemFailures,
    functionTimeoutMs: CONSUMER_FUNCTION_DEFAULTS.timeoutSeconds * 1000,
    ...(maxAgeSeconds === EVENT_SOURCE_LIMITS.maxRecordAgeSeconds.infinite ? {} : { maximumRecordAgeMs: maxAgeSeconds * 1000 }),
  };
}

export interface LocalPipelineOptions {
  readonly spec: PipelineSpec;
  /** Prefix of every resource name (several pipelines can share one set of emulators). @default 'local' */
  readonly name?: string;
  /** @default 1 */
  readonly shards?: number;
  /** @default the deployed mapping's (deployedMappingOptions) */
  readonly batchSize?: number;
  /** @default the deployed mapping's */
  readonly maximumRetryAttempts?: number;
  /** Batches of one shard in flight at once, 1 to 10 (the consumer is told, as the stack tells it). @default 1 */
  readonly parallelizationFactor?: number;
  /** @default the deployed mapping's */
  readonly maximumBatchingWindowMs?: number;
  /** An invocation that outlives it is stopped (see stopAtTimeout in esm-runner.ts). @default the deployed function's timeout */
  readonly functionTimeoutMs?: number;
  /** Pause before a failed batch is retried (LocalEventSourceMappingOptions). @default AWS's: 1 s doubling to 15 s */
  readonly retryBackoffMs?: LocalEventSourceMappingOptions['retryBackoffMs'];
  readonly writeGate?: WriteGate;
  /** Called around each invocation (chaos decisions are made here). */
  readonly beforeInvoke?: () => void;
  /** Each batch's outcome, as the consumer reports it; never for an invocation stopped at its timeout. */
  readonly onOutcome?: (o: BatchOutcome, recordsIn: number) => void;
  /**
   * Recorded arrival time of a record, replacing Kinesis' approximateArrivalTimestamp: replaying a file with its
   * original arrival clock makes the future-timestamp guard judge exactly as the replay CLI does.
   */
  readonly arrivalClock?: (shard: string, seq: string) => number | undefined;
  /**
   * Start polling at once (default), or only at startConsumer(): records put before that are read in full batches,
   * as by a consumer catching up from the stream's retention, so batch boundaries do not depend on timing.
   * @default true
   */
  readonly startConsumer?: boolean;
  /**
   * Counts what the consumer uses: its SDK clients' requests and capacity, the event source mapping's Kinesis
   * requests, the invocations and their time, and the records put (see bin/local/usage.ts).
   */
  readonly usage?: UsageRecorder;
  /** Counts what the labels consumer uses and the labels put, as `usage` does for the consumer. */
  readonly labelsUsage?: UsageRecorder;
  /**
   * The model that scores each applied record (the spec's scoring section; see loadSpecAndModel): a predictions
   * table and stream are created for it. Without one, the pipeline computes features only.
   */
  readonly model?: Model;
  /**
   * With a model and the spec's evaluation section: each labels batch's outcome (the labels consumer runs too);
   * never for an invocation stopped at its timeout.
   */
  readonly onLabelsOutcome?: (o: LabelsOutcome) => void;
  /** Recorded arrival times of labels (as `arrivalClock`, for the labels stream). */
  readonly labelsArrivalClock?: (shard: string, seq: string) => number | undefined;
  /**
   * Quiet shards: every `everyMs`, the idle-shard tick the stack schedules (lambda/handlers/idle-tick.ts) runs here
   * too. Off by default; `tickIdle()` runs one tick on demand either way.
   */
  readonly idleShards?: { readonly everyMs: number; readonly marginMs?: number };
  /** Receives every EMF document the handlers publish (the local page's metrics; see bin/local/dashboard). */
  readonly onEmf?: (doc: unknown) => void;
}

export interface PutResult {
  readonly shard: string;
  readonly seq: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LocalPipelineNames {
  readonly pipeline: string;
  readonly stream: string;
  readonly stateTable: string;
  readonly resultsBucket: string;
  /** The stream archive (every delivered record), as the stack's archive bucket. */
  readonly archiveBucket: string;
  readonly deadLetterQueueUrl: string;
  readonly onFailureQueueUrl: string;
  /** With a model only. */
  readonly predictionsTable?: string;
  readonly predictionsStream?: string;
  /** With a model and an evaluation section. */
  readonly labelsStream?: string;
}

export class LocalPipeline {
  private constructor(
    public readonly names: LocalPipelineNames,
    public readonly esm: LocalEventSourceMapping,
    private readonly kinesis: KinesisClient,
    private readonly dynamo: DynamoDBClient,
    private readonly sqs: SQSClient,
    private readonly s3: S3Client,
    private readonly spec: PipelineSpec,
    private readonly usage: UsageRecorder | undefined,
    private readonly labelsEsm: LocalEventSourceMapping | undefined = undefined,
    private readonly config: ConsumerConfig | undefined = undefined,
    private readonly onEmf: ((doc: unknown) => void) | undefined = undefined,
    private readonly labelsUsage: UsageRecorder | undefined = undefined,
  ) {}

  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * One idle-shard tick now (what the stack runs every minute): quiet shards whose consumer is caught up move to
   * `now − marginMs` and their due windows fire. Returns each open shard's verdict.
   */
  public tickIdle(o: { marginMs?: number; now?: () => number } = {}): Promise<IdleShardResult[]> {
    const tick = createIdleTick({
      config: { consumer: this.config!, streamName: this.names.stream, marginMs: o.marginMs ?? DEFAULT_IDLE_MARGIN_MS },
      logger: quietLogger(),
      metrics: quietMetrics(this.onEmf, this.names.pipeline),
      ...(o.now ? { now: o.now } : {}),
      ...(this.usage ? { clientHook: this.usage.hook } : {}),
    });
    return tick();
  }

  /** Creates the resources (emulator endpoints come from the environment) and starts polling. */
  public static async start(o: LocalPipelineOptions): Promise<LocalPipeline> {
    const prefix = o.name ?? 'local';
    const kinesis = kinesisClient();
    const dynamo = dynamoClient();
    const sqs = sqsClient();
    const s3 = s3Client();
    const stream = `${prefix}-events`;
    const stateTable = `${prefix}-state`;
    // Bucket names are lower case.
    const resultsBucket = `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-results`;
    const archiveBucket = `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-archive`;
    await Promise.all([
      kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: o.shards ?? 1 })),
      createActiveTable(dynamo, STATE_TABLE, stateTable),
      s3.send(new CreateBucketCommand({ Bucket: resultsBucket })),
      s3.send(new CreateBucketCommand({ Bucket: archiveBucket })),
    ]);
    const scoring = o.model === undefined ? undefined : { model: o.model, predictionsTable: `${prefix}-predictions`, predictionsStream: `${prefix}-predictions` };
    if (o.model !== undefined && o.spec.scoring === undefined) throw new Error('LocalPipeline: a model was given but the spec has no scoring section');
    // As the stack refuses it: evaluation windows are counted per shard in order.
    if ((o.parallelizationFactor ?? 1) > 1 && o.model !== undefined && o.spec.evaluation !== undefined) throw new Error('LocalPipeline: a parallelization factor above 1 cannot be used with an evaluation section');
    const labelsStream = scoring && o.spec.evaluation ? `${prefix}-labels` : undefined;
    if (scoring) {
      await Promise.all([
        createActiveTable(dynamo, PREDICTIONS_TABLE, scoring.predictionsTable),
        createActiveStream(kinesis, scoring.predictionsStream),
        ...(labelsStream === undefined ? [] : [createActiveStream(kinesis, labelsStream)]),
      ]);
    }
    const [dlq, onFailureQueue] = await Promise.all([
      sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `${prefix}-dead-letters`))),
      sqs.send(new CreateQueueCommand(createQueueInput(ON_FAILURE_QUEUE, `${prefix}-on-failure`))),
    ]);
    for (let i = 0; i < 100; i++) {
      const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await sleep(20);
    }
    const names: LocalPipelineNames = {
      pipeline: prefix,
      stream,
      stateTable,
      resultsBucket,
      archiveBucket,
      deadLetterQueueUrl: dlq.QueueUrl!,
      onFailureQueueUrl: onFailureQueue.QueueUrl!,
      ...(scoring ? { predictionsTable: scoring.predictionsTable, predictionsStream: scoring.predictionsStream } : {}),
      ...(labelsStream === undefined ? {} : { labelsStream }),
    };
    const config: ConsumerConfig = { spec: o.spec, pipelineName: prefix, stateTable, resultsBucket, archiveBucket, deadLetterQueueUrl: names.deadLetterQueueUrl, parallelizationFactor: o.parallelizationFactor ?? 1, ...(scoring ? { scoring } : {}) };
    const consumer = createConsumer({
      config,
      ...(o.writeGate ? { writeGate: o.writeGate } : {}),
      ...(o.onOutcome ? { onOutcome: unlessStopped(o.onOutcome) } : {}),
      logger: quietLogger(),
      metrics: quietMetrics(o.onEmf, prefix),
      ...(o.arrivalClock ? { arrivalClock: o.arrivalClock } : {}),
      // Every client stops with its invocation; the usage counter sees only requests that are sent.
      clientHook: hooks(stopAtTimeout, o.usage?.hook),
    });
    const handler = async (event: KinesisStreamEvent) => {
      o.beforeInvoke?.();
      const started = performance.now();
      try {
        return await consumer(event);
      } finally {
        o.usage?.invocation(performance.now() - started);
      }
    };
    const overrides = {
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
      ...(o.maximumRetryAttempts === undefined ? {} : { maximumRetryAttempts: o.maximumRetryAttempts }),
      ...(o.maximumBatchingWindowMs === undefined ? {} : { maximumBatchingWindowMs: o.maximumBatchingWindowMs }),
      ...(o.functionTimeoutMs === undefined ? {} : { functionTimeoutMs: o.functionTimeoutMs }),
      ...(o.retryBackoffMs === undefined ? {} : { retryBackoffMs: o.retryBackoffMs }),
      ...(o.parallelizationFactor === undefined ? {} : { parallelizationFactor: o.parallelizationFactor }),
    };
    // The stack's mappings send these to the on-failure queue (SqsDlq); so do the local ones.
    const onFailure = async (m: KinesisOnFailureMessage): Promise<void> => {
      await sqs.send(new SendMessageCommand({ QueueUrl: names.onFailureQueueUrl, MessageBody: JSON.stringify(m) }));
    };
    const esm = new LocalEventSourceMapping({
      ...deployedMappingOptions(),
      ...overrides,
      streamName: stream,
      // Each function its own ARN in on-failure messages, as on AWS.
      functionName: `${prefix}-consumer`,
      handler,
      pollIntervalMs: 20,
      // A client of its own when counting, so the puts and setup requests above are not counted as polling.
      client: o.usage ? hooked(kinesisClient(), o.usage.hook) : kinesis,
      onFailure,
    });
    // The labels consumer on its own mapping, as the stack deploys it (same settings, same on-failure queue).
    const labelsEsm =
      labelsStream === undefined || scoring === undefined
        ? undefined
        : new LocalEventSourceMapping({
            ...deployedMappingOptions(),
            ...overrides,
            streamName: labelsStream,
            functionName: `${prefix}-labels-consumer`,
            handler: timed(
              createLabelsConsumer({
                config: { spec: o.spec, evaluation: o.spec.evaluation!, pipelineName: prefix, predictionsTable: scoring.predictionsTable, deadLetterQueueUrl: names.deadLetterQueueUrl },
                logger: quietLogger(),
                metrics: quietMetrics(o.onEmf, prefix),
                ...(o.onLabelsOutcome ? { onOutcome: unlessStopped(o.onLabelsOutcome) } : {}),
                ...(o.labelsArrivalClock ? { arrivalClock: o.labelsArrivalClock } : {}),
                clientHook: hooks(stopAtTimeout, o.labelsUsage?.hook),
              }),
              o.labelsUsage,
            ),
            pollIntervalMs: 20,
            client: kinesis,
            onFailure,
          });
    const pipeline = new LocalPipeline(names, esm, kinesis, dynamo, sqs, s3, o.spec, o.usage, labelsEsm, config, o.onEmf, o.labelsUsage);
    if (o.startConsumer ?? true) await esm.start();
    if (o.idleShards !== undefined) pipeline.startIdleTicks(o.idleShards.everyMs, o.idleShards.marginMs);
    await labelsEsm?.start();
    return pipeline;
  }

  /** Puts labels (JSON text each) on the labels stream, partitioned by their key, in order; returns where each landed. */
  public async putLabels(labels: ReadonlyArray<{ key: string; data: string }>): Promise<PutResult[]> {
    const stream = this.names.labelsStream;
    if (stream === undefined) throw new Error('LocalPipeline: no labels stream (it needs a model and the spec\'s evaluation section)');
    const out: PutResult[] = [];
    this.labelsUsage?.put(labels.map((l) => l.data));
    for (let i = 0; i < labels.length; i += 500) {
      const res = await this.kinesis.send(
        new PutRecordsCommand({ StreamName: stream, Records: labels.slice(i, i + 500).map((l) => ({ PartitionKey: l.key, Data: Buffer.from(l.data, 'utf8') })) }),
      );
      for (const r of res.Records ?? []) {
        if (r.ErrorCode) throw new Error(`PutRecords to ${stream} failed: ${r.ErrorCode} ${r.ErrorMessage ?? ''}`);
        out.push({ shard: r.ShardId!, seq: r.SequenceNumber! });
      }
    }
    return out;
  }

  /** Waits until the labels consumer has taken every label put. */
  public drainLabels(timeoutMs = 60_000): Promise<void> {
    return this.labelsEsm?.drain({ timeoutMs }) ?? Promise.resolve();
  }

  /** Starts polling (for a pipeline started with `startConsumer: false`; a no-op once running). */
  public async startConsumer(): Promise<void> {
    await this.esm.start();
  }

  /** Puts records in order (PutRecords, 500 a request); returns where each landed. */
  public async put(records: ReadonlyArray<{ partitionKey: string; data: string | Uint8Array }>): Promise<PutResult[]> {
    const out: PutResult[] = [];
    this.usage?.put(records.map((r) => r.data));
    for (let i = 0; i < records.length; i += 500) {
      const chunk = records.slice(i, i + 500);
      const res = await this.kinesis.send(
        new PutRecordsCommand({
          StreamName: this.names.stream,
          Records: chunk.map((r) => ({ PartitionKey: r.partitionKey, Data: typeof r.data === 'string' ? Buffer.from(r.data, 'utf8') : r.data })),
        }),
      );
      (res.Records ?? []).forEach((r, j) => {
        if (r.ErrorCode) throw new Error(`PutRecords failed for record ${i + j}: ${r.ErrorCode} ${r.ErrorMessage ?? ''}`);
        out.push({ shard: r.ShardId!, seq: r.SequenceNumber! });
      });
    }
    return out;
  }

  /**
   * Splits or merges open shards now (bin/local/streams.ts, reshardStream), as an on-demand stream does when its
   * traffic changes: records put afterwards go to the new shards, which the mapping reads once their parents are
   * read to the end.
   */
  public reshard(kind: ReshardKind): Promise<Reshard> {
    return reshardStream(this.kinesis, this.names.stream, kind);
  }

  public drain(timeoutMs = 60_000): Promise<void> {
    return this.esm.drain({ timeoutMs });
  }

  /** Receives (and deletes) every message in the dead-letter queue. */
  public async takeDeadLetters(): Promise<DeadLetterMessage[]> {
    return (await this.takeMessages(this.names.deadLetterQueueUrl)).map((body) => JSON.parse(body) as DeadLetterMessage);
  }

  /** The whole payload a dead letter names (one too large for its message). */
  public async deadLetterPayload(at: { bucket: string; key: string }): Promise<Uint8Array> {
    const res = await this.s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }));
    return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
  }

  /**
   * Visible messages in the on-failure queue (SQS ApproximateNumberOfMessages): what the OnFailureQueueNotEmpty
   * alarm watches on AWS (CloudWatch ApproximateNumberOfMessagesVisible, alarm at 1 or more).
   */
  public async onFailureQueueDepth(): Promise<number> {
    const res = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.names.onFailureQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  /** Receives (and deletes) every message in the on-failure queue: the batches the mapping gave up on. */
  public async takeOnFailureMessages(): Promise<KinesisOnFailureMessage[]> {
    return (await this.takeMessages(this.names.onFailureQueueUrl)).map((body) => JSON.parse(body) as KinesisOnFailureMessage);
  }

  private async takeMessages(queueUrl: string): Promise<string[]> {
    const out: string[] = [];
    for (let empty = 0; empty < 2; ) {
      const res = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }),
      );
      const msgs = res.Messages ?? [];
      if (msgs.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      for (const m of msgs) out.push(m.Body!);
      await this.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    return out;
  }

  /** End of a bounded input: every open window becomes final (watermark +∞). Call after drain(). */
  public async flush(): Promise<number> {
    return flushAll({
      spec: this.spec,
      pipelineName: this.names.pipeline,
      state: new StateStore({ client: this.dynamo, tableName: this.names.stateTable }),
      results: new ResultObjectWriter({ client: this.s3, bucket: this.names.resultsBucket }),
    });
  }

  private get results(): ResultObjectReader {
    return new ResultObjectReader({ client: this.s3, bucket: this.names.resultsBucket });
  }

  /**
   * Final windows, read back from the result objects in S3 (one line per window). Under "update" each window
   * carries its value after its corrections (the correction with the highest count is the latest), and a window a
   * correction created (no on-time record) is one too: what a reader of both prefixes assembles.
   */
  public async finalWindows(): Promise<WindowLine[]> {
    const windows = await this.results.readWindows(this.names.pipeline);
    if (this.spec.latePolicy !== 'update') return windows;
    const byId = new Map(windows.map((w) => [windowId(w), w]));
    for (const c of await this.corrections()) {
      const id = windowId(c);
      const prev = byId.get(id);
      if (prev === undefined || c.new.count > prev.count) {
        byId.set(id, { feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, value: c.new.value, count: c.new.count });
      }
    }
    return [...byId.values()];
  }

  /** The stream archive the consumer wrote, as a reader sees it. */
  public archiveStore(): S3ArchiveStore {
    return new S3ArchiveStore(this.s3, this.names.archiveBucket, archivePrefix(this.names.pipeline));
  }

  /** Copies the archive's objects into `dir` in the same layout (keys below the pipeline's prefix); returns them. */
  public async copyArchive(dir: string): Promise<string[]> {
    const store = this.archiveStore();
    const keys = await store.list();
    for (const key of keys) {
      const path = join(dir, ...key.split('/'));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, await store.get(key));
    }
    return keys;
  }

  /** Global-window firings, read back from S3. */
  public firings(): Promise<FiringLine[]> {
    return this.results.readFirings(this.names.pipeline);
  }

  /** Corrections (latePolicy "update"), read back from S3. */
  public corrections(): Promise<CorrectionLine[]> {
    return this.results.readCorrections(this.names.pipeline);
  }

  /** The predictions in the predictions table (one per scored record), in no particular order. */
  public async predictions(): Promise<Prediction[]> {
    const table = this.names.predictionsTable;
    if (table === undefined) return [];
    const items = await scanAll(this.dynamo, { TableName: table, ConsistentRead: true });
    return items.filter((it) => it.sk?.S === PREDICTION_SK).map((it) => JSON.parse(it[PredictionAttr.doc]!.S!) as Prediction);
  }

  /** The evaluation's store on the predictions table; undefined without a model or an evaluation section. */
  public evaluationStore(): EvaluationStore | undefined {
    const table = this.names.predictionsTable;
    const ev = this.spec.evaluation;
    return table === undefined || ev === undefined ? undefined : new EvaluationStore({ client: this.dynamo, tableName: table, evaluation: ev });
  }

  /**
   * End of a bounded input for the evaluation (call after flush()): with every watermark at +∞ no record can be
   * scored anymore, so every open window's score figures become final. Returns the windows closed now.
   */
  public async closeEvaluation(): Promise<ClosedWindow[]> {
    return (await this.evaluationStore()?.closeWindows(END_OF_INPUT)) ?? [];
  }

  /**
   * End of a bounded labels input (call after drainLabels()): the label clock moves past every label window, so
   * every window becomes final. Returns the windows made final now.
   */
  public async finalizeEvaluation(): Promise<FinalEvaluationWindow[]> {
    const store = this.evaluationStore();
    if (store === undefined) return [];
    await store.raiseClock(END_OF_INPUT);
    return store.finalizeWindows();
  }

  /** Every evaluation window stored, ascending, with the registry's reference window. */
  public async evaluationWindows(): Promise<{ windows: StoredWindow[]; reference: number | null }> {
    const store = this.evaluationStore();
    if (store === undefined) return { windows: [], reference: null };
    const items = await scanAll(this.dynamo, { TableName: store.tableName, ConsistentRead: true, FilterExpression: 'sk = :w', ExpressionAttributeValues: { ':w': { S: WINDOW_SK } } });
    const starts = items.map((it) => Number(it.pk!.S!.slice(windowPk(0).length - 1)));
    const stored = await store.getWindows(starts);
    return { windows: [...stored.values()].sort((a, b) => a.windowStart - b.windowStart), reference: this.spec.evaluation?.referenceWindowStart ?? (await store.getRegistry()).reference };
  }

  /** Every record on the predictions stream (at least once each), parsed. */
  public async predictionStream(): Promise<Prediction[]> {
    const stream = this.names.predictionsStream;
    if (stream === undefined) return [];
    return (await readStream(this.kinesis, stream)).map((t) => JSON.parse(t) as Prediction);
  }

  public get dynamoClient(): DynamoDBClient {
    return this.dynamo;
  }

  private startIdleTicks(everyMs: number, marginMs: number | undefined): void {
    let running = false;
    this.idleTimer = setInterval(() => {
      if (running) return;
      running = true;
      // A failed tick (a conflict, an emulator hiccup) is simply retried by the next one.
      this.tickIdle(marginMs === undefined ? {} : { marginMs })
        .catch(() => undefined)
        .finally(() => (running = false));
    }, everyMs);
    this.idleTimer.unref();
  }

  public async stop(): Promise<void> {
    clearInterval(this.idleTimer);
    await Promise.all([this.esm.stop(), this.labelsEsm?.stop()]);
  }
}

/** Each hook in turn on every client. */
function hooks(...each: ReadonlyArray<ClientHook | undefined>): ClientHook {
  return (client) => {
    for (const hook of each) hook?.(client);
  };
}

/**
 * An outcome callback that ignores an invocation stopped at its timeout: the mapping retries that batch, and on
 * Lambda the stopped function would have reported nothing.
 */
function unlessStopped<A extends unknown[]>(report: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    if (invocationStopped() === undefined) report(...args);
  };
}

/** The handler, its invocations and their time counted in `usage` (Lambda bills both). */
function timed<E, R>(handler: (event: E) => Promise<R>, usage: UsageRecorder | undefined): (event: E) => Promise<R> {
  if (usage === undefined) return handler;
  return async (event) => {
    const started = performance.now();
    try {
      return await handler(event);
    } finally {
      usage.invocation(performance.now() - started);
    }
  };
}

function quietLogger(): Logger {
  return new Logger({ logLevel: 'SILENT' });
}

/** Metrics as the handlers build them on Lambda; each EMF document goes to `onEmf` instead of stdout. */
function quietMetrics(onEmf?: (doc: unknown) => void, pipelineName = 'local'): Metrics {
  // An evaluation window's documents name its EvaluationWindow in more than one dimension set, with one value:
  // Powertools warns of the repeated key on every such document, which would bury the run's output. Other
  // warnings pass.
  const logger = {
    debug: console.debug,
    info: console.info,
    error: console.error,
    warn: (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('is defined as both a dimension set and dimension set')) return;
      console.warn(...args);
    },
  };
  const m = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'local', logger });
  m.clearDefaultDimensions();
  m.setDefaultDimensions({ [PIPELINE_DIMENSION]: pipelineName });
  // Local runs report their figures through onOutcome and onEmf; EMF lines on stdout would only be noise.
  m.publishStoredMetrics = () => {
    if (onEmf !== undefined) onEmf(m.serializeMetrics());
    m.clearMetrics();
    return m;
  };
  return m;
}
