/**
 * The whole pipeline on local emulators: the stream, tables and queues the CDK stack declares (same definitions,
 * lib/resource-definitions.ts), the real consumer handler, and the local event source mapping feeding it.
 * Used by the end-to-end tests and the sandbox (`npm start`).
 */
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import { dynamoClient, kinesisClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { type BatchOutcome, flushAll } from '../../lambda/adapters/batch-processor';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import { FeatureStore } from '../../lambda/adapters/feature-store';
import { StateStore, type WriteGate } from '../../lambda/adapters/state-store';
import type { PipelineSpec } from '../../lambda/core/spec';
import type { WindowLine } from '../../lambda/core/output';
import { createConsumer } from '../../lambda/handlers/consumer';
import { DEAD_LETTER_QUEUE, FEATURE_TABLE, ON_FAILURE_QUEUE, STATE_TABLE, createQueueInput, createTableInput } from '../../lib/resource-definitions';
import { type KinesisOnFailureMessage, LocalEventSourceMapping } from './esm-runner';

export interface LocalPipelineOptions {
  readonly spec: PipelineSpec;
  /** Prefix of every resource name (several pipelines can share one set of emulators). @default 'local' */
  readonly name?: string;
  /** @default 1 */
  readonly shards?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 10 */
  readonly maximumRetryAttempts?: number;
  readonly writeGate?: WriteGate;
  /** Called around each invocation (chaos decisions are made here). */
  readonly beforeInvoke?: () => void;
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
}

export interface PutResult {
  readonly shard: string;
  readonly seq: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LocalPipeline {
  private constructor(
    public readonly names: { stream: string; stateTable: string; featureTable: string; deadLetterQueueUrl: string; onFailureQueueUrl: string },
    public readonly esm: LocalEventSourceMapping,
    private readonly kinesis: KinesisClient,
    private readonly dynamo: DynamoDBClient,
    private readonly sqs: SQSClient,
    private readonly spec: PipelineSpec,
    /** Metadata-only messages of batches the event source mapping gave up on (Lambda's on-failure destination). */
    public readonly onFailure: KinesisOnFailureMessage[],
  ) {}

  /** Creates the resources (emulator endpoints come from the environment) and starts polling. */
  public static async start(o: LocalPipelineOptions): Promise<LocalPipeline> {
    const prefix = o.name ?? 'local';
    const kinesis = kinesisClient();
    const dynamo = dynamoClient();
    const sqs = sqsClient();
    const stream = `${prefix}-events`;
    const stateTable = `${prefix}-state`;
    const featureTable = `${prefix}-features`;
    await Promise.all([
      kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: o.shards ?? 1 })),
      dynamo.send(new CreateTableCommand(createTableInput(STATE_TABLE, stateTable))),
      dynamo.send(new CreateTableCommand(createTableInput(FEATURE_TABLE, featureTable))),
    ]);
    const [dlq, onFailureQueue] = await Promise.all([
      sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `${prefix}-dead-letters`))),
      sqs.send(new CreateQueueCommand(createQueueInput(ON_FAILURE_QUEUE, `${prefix}-on-failure`))),
    ]);
    for (let i = 0; i < 100; i++) {
      const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await sleep(20);
    }
    const names = { stream, stateTable, featureTable, deadLetterQueueUrl: dlq.QueueUrl!, onFailureQueueUrl: onFailureQueue.QueueUrl! };
    const consumer = createConsumer({
      config: { spec: o.spec, pipelineName: prefix, stateTable, featureTable, deadLetterQueueUrl: names.deadLetterQueueUrl, parallelizationFactor: 1 },
      ...(o.writeGate ? { writeGate: o.writeGate } : {}),
      ...(o.onOutcome ? { onOutcome: o.onOutcome } : {}),
      logger: quietLogger(),
      metrics: quietMetrics(),
    });
    const handler = async (event: KinesisStreamEvent) => {
      if (o.arrivalClock) {
        for (const r of event.Records) {
          const shard = r.eventID.slice(0, r.eventID.lastIndexOf(':'));
          const at = o.arrivalClock(shard, r.kinesis.sequenceNumber);
          if (at !== undefined) r.kinesis.approximateArrivalTimestamp = at / 1000;
        }
      }
      o.beforeInvoke?.();
      return consumer(event);
    };
    const sink = { onFailure: [] as KinesisOnFailureMessage[] };
    const esm = new LocalEventSourceMapping({
      streamName: stream,
      handler,
      batchSize: o.batchSize ?? 100,
      maximumRetryAttempts: o.maximumRetryAttempts ?? 10,
      pollIntervalMs: 20,
      client: kinesis,
      onFailure: async (m) => {
        sink.onFailure.push(m);
      },
    });
    const pipeline = new LocalPipeline(names, esm, kinesis, dynamo, sqs, o.spec, sink.onFailure);
    if (o.startConsumer ?? true) await esm.start();
    return pipeline;
  }

  /** Starts polling (for a pipeline started with `startConsumer: false`; a no-op once running). */
  public async startConsumer(): Promise<void> {
    await this.esm.start();
  }

  /** Puts records in order (PutRecords, 500 a request); returns where each landed. */
  public async put(records: ReadonlyArray<{ partitionKey: string; data: string | Uint8Array }>): Promise<PutResult[]> {
    const out: PutResult[] = [];
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

  public drain(timeoutMs = 60_000): Promise<void> {
    return this.esm.drain({ timeoutMs });
  }

  /** Receives (and deletes) every message in the dead-letter queue. */
  public async takeDeadLetters(): Promise<DeadLetterMessage[]> {
    const out: DeadLetterMessage[] = [];
    for (let empty = 0; empty < 2; ) {
      const res = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.names.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }),
      );
      const msgs = res.Messages ?? [];
      if (msgs.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      for (const m of msgs) out.push(JSON.parse(m.Body!) as DeadLetterMessage);
      await this.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.names.deadLetterQueueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    return out;
  }

  /** End of a bounded input: every open window becomes final (watermark +∞). Call after drain(). */
  public async flush(): Promise<number> {
    return flushAll({
      spec: this.spec,
      state: new StateStore({ client: this.dynamo, tableName: this.names.stateTable }),
      features: new FeatureStore(this.dynamo, this.names.featureTable),
    });
  }

  /** Final windows as stored in the feature table. */
  public finalWindows(): Promise<WindowLine[]> {
    return new FeatureStore(this.dynamo, this.names.featureTable).scanFinals();
  }

  public get dynamoClient(): DynamoDBClient {
    return this.dynamo;
  }

  public async stop(): Promise<void> {
    await this.esm.stop();
  }
}

function quietLogger(): Logger {
  return new Logger({ logLevel: 'SILENT' });
}

function quietMetrics(): Metrics {
  const m = new Metrics({ namespace: 'local', serviceName: 'local' });
  // Local runs report their figures through onOutcome; EMF lines on stdout would only be noise.
  m.publishStoredMetrics = () => {
    m.clearMetrics();
    return m;
  };
  return m;
}
