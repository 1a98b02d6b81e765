import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambda/contract/metric-names';
import { grantKeyUse } from './encryption';
import { PipelinePropsError, checkDuration, checkInteger } from './errors';
import type { FinalsBucket } from './finals-bucket';
import type { ArchiveBucket } from './archive-bucket';
import { type FunctionPlacement, placeFunction } from './network';
import { SOURCE_MAP_ENV, acknowledgeRuntime, functionIdentity, handlerEntry, nodeFunctionBase } from './node-function';
import {
  CONSUMER_ENV,
  CONSUMER_FUNCTION_DEFAULTS,
  CONSUMER_PREDICTIONS_STREAM_ACTIONS,
  CONSUMER_QUEUE_ACTIONS,
  CONSUMER_TABLE_ACTIONS,
  EVENT_SOURCE_DEFAULTS,
  EVENT_SOURCE_LIMITS,
} from '../lambda/contract/resources';

/**
 * DynamoDB actions the consumer needs on the predictions table: the conditional put of each prediction, and the
 * reads and updates of evaluation windows and their registry. No queries, no batch writes.
 */
export const CONSUMER_PREDICTIONS_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];

/** Source of the consumer handler, bundled with the local esbuild at synth time. */
export const CONSUMER_ENTRY = handlerEntry('consumer');

/** Powertools log levels accepted in POWERTOOLS_LOG_LEVEL. */
export type ConsumerLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Tuning of the consumer function and its Kinesis event source mapping. */
export interface PipelineConsumerOptions {
  /**
   * Memory of the function in MB; CPU is allocated in proportion.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout, at most 15 minutes.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the function's log group (its logs also carry the pipeline's metrics).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Level of the function's structured log.
   * @default 'INFO'
   */
  readonly logLevel?: ConsumerLogLevel;
  /**
   * Concurrency reserved for the consumer. Leave room for shards × parallelizationFactor, or batches throttle
   * and the iterator age grows.
   * @default - no reservation, the function draws on the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Where a new mapping starts reading each shard.
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * Start time in Unix seconds; required with `StartingPosition.AT_TIMESTAMP` and refused otherwise.
   * @default - none
   */
  readonly startingPositionTimestamp?: number;
  /**
   * Most records per batch, 1 to 10000.
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * How long the mapping gathers records before invoking, at most 5 minutes.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Retries of a failing batch before it goes to the on-failure queue, 0 to 10000. Unbounded retries (-1) are
   * refused: one poison record would stop its shard until the record expires.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this many seconds are not retried but sent to the on-failure queue: -1 (never) or 60 to 604800.
   * @default 86400 (one day)
   */
  readonly maxRecordAgeSeconds?: number;
  /**
   * Concurrent batches per shard, 1 to 10. Above 1, records of one partition key still stay in order.
   * @default 1
   */
  readonly parallelizationFactor?: number;
}

export interface PipelineConsumerProps extends PipelineConsumerOptions {
  /** Pipeline name: the `Pipeline` dimension of every metric the consumer emits. */
  readonly pipelineName: string;
  /** The validated spec as minified JSON, shipped in PIPELINE_SPEC. */
  readonly specJson: string;
  readonly stream: kinesis.IStream;
  readonly stateTable: dynamodb.ITable;
  /** Where final windows and corrections go; the consumer may only put objects under its pipeline's prefixes. */
  readonly finalsBucket: FinalsBucket;
  /**
   * The stream archive: the consumer puts every delivered batch there before processing it.
   * @default - no archive
   */
  readonly archiveBucket?: ArchiveBucket;
  /** FIFO queue the handler writes late and invalid records to. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Standard queue the event source mapping sends abandoned batches to. */
  readonly onFailureQueue: sqs.IQueue;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Scoring: the model and where its predictions go. Give it exactly when the spec has a scoring section.
   * @default - no scoring
   */
  readonly scoring?: ConsumerScoring;
  /**
   * Runs the function in a VPC (the stack's network option).
   * @default - outside any VPC
   */
  readonly placement?: FunctionPlacement;
}

/** What the consumer needs to score each applied record. */
export interface ConsumerScoring {
  /** The model document, checked against the spec, as minified JSON: shipped in MODEL_DOCUMENT. */
  readonly modelJson: string;
  /** Predictions and evaluation windows; the consumer puts, reads and updates items there. */
  readonly predictionsTable: dynamodb.ITable;
  /** The consumer puts every prediction to this stream. */
  readonly predictionsStream: kinesis.IStream;
}

/** Powertools service name of the consumer (appears in every log line). */
export const CONSUMER_SERVICE_NAME = 'feature-consumer';

/** The consumer Lambda function and its Kinesis event source mapping. */
export class PipelineConsumer extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly eventSource: KinesisEventSource;

  public constructor(scope: Construct, id: string, props: PipelineConsumerProps) {
    super(scope, id);
    validatePipelineConsumerOptions(props);
    if (props.scoring !== undefined && props.scoring.modelJson.trim() === '') {
      throw new PipelinePropsError('PipelineConsumer: scoring.modelJson must be the model document (JSON), not empty');
    }
    const parallelizationFactor = props.parallelizationFactor ?? EVENT_SOURCE_DEFAULTS.parallelizationFactor;

    ({ logGroup: this.logGroup, role: this.role } = functionIdentity(this, {
      description: `Consumer of feature pipeline ${props.pipelineName}`,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    }));

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodeFunctionBase(CONSUMER_ENTRY),
      memorySize: props.memorySize ?? CONSUMER_FUNCTION_DEFAULTS.memorySizeMb,
      timeout: props.timeout ?? Duration.seconds(CONSUMER_FUNCTION_DEFAULTS.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      ...placeFunction(this.role, props.placement),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      description: `Event-time feature consumer of pipeline ${props.pipelineName}`,
      environment: {
        [CONSUMER_ENV.spec]: props.specJson,
        [CONSUMER_ENV.pipelineName]: props.pipelineName,
        [CONSUMER_ENV.stateTableName]: props.stateTable.tableName,
        [CONSUMER_ENV.finalsBucketName]: props.finalsBucket.bucket.bucketName,
        ...(props.archiveBucket === undefined ? {} : { [CONSUMER_ENV.archiveBucketName]: props.archiveBucket.bucket.bucketName }),
        [CONSUMER_ENV.deadLetterQueueUrl]: props.deadLetterQueue.queueUrl,
        [CONSUMER_ENV.serviceName]: CONSUMER_SERVICE_NAME,
        [CONSUMER_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [CONSUMER_ENV.logLevel]: props.logLevel ?? 'INFO',
        [CONSUMER_ENV.parallelizationFactor]: String(parallelizationFactor),
        ...(props.scoring === undefined
          ? {}
          : {
              [CONSUMER_ENV.modelDocument]: props.scoring.modelJson,
              [CONSUMER_ENV.predictionsTableName]: props.scoring.predictionsTable.tableName,
              [CONSUMER_ENV.predictionsStreamName]: props.scoring.predictionsStream.streamName,
            }),
        ...SOURCE_MAP_ENV,
      },
    });

    // Exactly the item operations the consumer performs, on the state table (which has no indexes).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTableItemAccess',
        actions: [...CONSUMER_TABLE_ACTIONS],
        resources: [props.stateTable.tableArn],
      }),
    );
    props.finalsBucket.grantPutPipelineObjects(this.role, props.pipelineName);
    props.archiveBucket?.grantPutArchive(this.role, props.pipelineName);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeadLetterQueueSend',
        actions: [...CONSUMER_QUEUE_ACTIONS],
        resources: [props.deadLetterQueue.queueArn],
      }),
    );

    if (props.scoring !== undefined) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PredictionsTableItemAccess',
          actions: [...CONSUMER_PREDICTIONS_TABLE_ACTIONS],
          resources: [props.scoring.predictionsTable.tableArn],
        }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PredictionsStreamPut',
          actions: [...CONSUMER_PREDICTIONS_STREAM_ACTIONS],
          resources: [props.scoring.predictionsStream.streamArn],
        }),
      );
    }

    // With customer-managed keys: exactly the key actions of each use above, and of the event source mapping
    // (reading the stream, sending abandoned batches to the on-failure queue).
    grantKeyUse(this.role, [
      [props.stateTable.encryptionKey, 'tableReadWrite'],
      [props.finalsBucket.bucket.encryptionKey, 'objectWrite'],
      [props.archiveBucket?.bucket.encryptionKey, 'objectWrite'],
      [props.deadLetterQueue.encryptionMasterKey, 'messagesSend'],
      [props.onFailureQueue.encryptionMasterKey, 'messagesSend'],
      [props.stream.encryptionKey, 'recordsRead'],
      [props.scoring?.predictionsTable.encryptionKey, 'tableReadWrite'],
      [props.scoring?.predictionsStream.encryptionKey, 'recordsWrite'],
    ]);

    this.eventSource = streamEventSource(props.stream, props.onFailureQueue, props, parallelizationFactor);
    this.function.addEventSource(this.eventSource);
    acknowledgeStreamFunction(this.function);
  }
}

/**
 * The Kinesis event source mapping of a stream consumer: bisects a failing batch, reports item failures, bounds
 * retries and record age, and sends abandoned batches to the on-failure queue. The mapping grants itself stream
 * read and send on the on-failure queue; the key actions of an encrypted on-failure queue are the consumer's to
 * grant (grantKeyUse), so they are exactly those SQS needs.
 */
export function streamEventSource(
  stream: kinesis.IStream,
  onFailureQueue: sqs.IQueue,
  props: PipelineConsumerOptions,
  parallelizationFactor: number,
): KinesisEventSource {
  return new KinesisEventSource(stream, {
    startingPosition: props.startingPosition ?? lambda.StartingPosition[EVENT_SOURCE_DEFAULTS.startingPosition],
    startingPositionTimestamp: props.startingPositionTimestamp,
    batchSize: props.batchSize ?? EVENT_SOURCE_DEFAULTS.batchSize,
    maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(EVENT_SOURCE_DEFAULTS.maxBatchingWindowSeconds),
    bisectBatchOnError: EVENT_SOURCE_DEFAULTS.bisectBatchOnError,
    reportBatchItemFailures: EVENT_SOURCE_DEFAULTS.reportBatchItemFailures,
    retryAttempts: props.retryAttempts ?? EVENT_SOURCE_DEFAULTS.retryAttempts,
    maxRecordAge: maxRecordAge(props.maxRecordAgeSeconds ?? EVENT_SOURCE_DEFAULTS.maxRecordAgeSeconds),
    parallelizationFactor,
    onFailure: onFailureQueue.encryptionMasterKey === undefined ? new SqsDlq(onFailureQueue) : new EncryptedQueueDestination(onFailureQueue),
  });
}

/**
 * The on-failure destination for a queue under a customer-managed key. SqsDlq would also grant the key's
 * encrypt, re-encrypt and decrypt actions with wildcards; this grants the queue actions alone, the same as
 * SqsDlq does for an unencrypted queue.
 */
class EncryptedQueueDestination implements lambda.IEventSourceDlq {
  public constructor(private readonly queue: sqs.IQueue) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resources: [this.queue.queueArn] }),
    );
    return { destination: this.queue.queueArn };
  }
}

/** The findings a function invoked only by a Kinesis event source mapping answers. */
export function acknowledgeStreamFunction(fn: lambda.Function): void {
  acknowledgeRuntime(
    fn,
    {
      id: 'Serverless-LambdaDLQ',
      reason: 'The function is only invoked by the Kinesis event source mapping, never asynchronously; failed batches go to the mapping\'s on-failure queue.',
    },
    {
      id: 'Serverless-LambdaTracing',
      reason: 'Traces of stream-polled invocations do not link producers to the consumer; latency and freshness are measured by the pipeline\'s own metrics.',
    },
  );
}

function maxRecordAge(seconds: number): Duration | undefined {
  // -1 is the service default (never expire), expressed by leaving the property out.
  return seconds === EVENT_SOURCE_LIMITS.maxRecordAgeSeconds.infinite ? undefined : Duration.seconds(seconds);
}

/** Refuses settings the service would reject at deploy time, or that would stall a shard. */
export function validatePipelineConsumerOptions(props: PipelineConsumerOptions, owner = 'PipelineConsumer'): void {
  const L = EVENT_SOURCE_LIMITS;
  checkInteger(owner, 'memorySize', props.memorySize, 128, 10_240);
  checkDuration(owner, 'timeout', props.timeout, Duration.minutes(15));
  checkInteger(owner, 'reservedConcurrentExecutions', props.reservedConcurrentExecutions, 1, 1_000_000);
  checkInteger(owner, 'batchSize', props.batchSize, L.batchSize.min, L.batchSize.max);
  if (props.maxBatchingWindow !== undefined && !props.maxBatchingWindow.isUnresolved()) {
    const s = props.maxBatchingWindow.toSeconds({ integral: false });
    if (!Number.isInteger(s) || s < L.maxBatchingWindowSeconds.min || s > L.maxBatchingWindowSeconds.max) {
      throw new PipelinePropsError(
        `${owner}: maxBatchingWindow must be whole seconds from 0 to ${L.maxBatchingWindowSeconds.max} (got ${props.maxBatchingWindow.toHumanString()})`,
      );
    }
  }
  if (props.retryAttempts === -1) {
    throw new PipelinePropsError(`${owner}: retryAttempts must be bounded (0 to ${L.retryAttempts.max}); -1 retries a poison batch forever`);
  }
  checkInteger(owner, 'retryAttempts', props.retryAttempts, L.retryAttempts.min, L.retryAttempts.max);
  const age = props.maxRecordAgeSeconds;
  if (age !== undefined && age !== L.maxRecordAgeSeconds.infinite) {
    if (!Number.isInteger(age) || age < L.maxRecordAgeSeconds.min || age > L.maxRecordAgeSeconds.max) {
      throw new PipelinePropsError(
        `${owner}: maxRecordAgeSeconds must be -1 or an integer from ${L.maxRecordAgeSeconds.min} to ${L.maxRecordAgeSeconds.max} (got ${age})`,
      );
    }
  }
  checkInteger(owner, 'parallelizationFactor', props.parallelizationFactor, L.parallelizationFactor.min, L.parallelizationFactor.max);
  const atTimestamp = props.startingPosition === lambda.StartingPosition.AT_TIMESTAMP;
  if (atTimestamp && props.startingPositionTimestamp === undefined) {
    throw new PipelinePropsError(`${owner}: startingPositionTimestamp is required with startingPosition AT_TIMESTAMP`);
  }
  if (!atTimestamp && props.startingPositionTimestamp !== undefined) {
    throw new PipelinePropsError(`${owner}: startingPositionTimestamp is only valid with startingPosition AT_TIMESTAMP`);
  }
}

