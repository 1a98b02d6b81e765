/**
 * Plain definitions of the pipeline's resources (table keys, queues, event source mapping settings and limits,
 * the finals bucket's key prefixes, the consumer's and the serving function's environment variables and
 * permissions), read by the CDK constructs (lib/), by the consumer
 * (lambda/adapters) and by the local sandbox that creates the same resources in emulators. This folder
 * (lambda/contract/) imports nothing, so every side can depend on it without depending on another side: lint
 * enforces it (eslint.config.mjs). Both sides reading the same constants keeps them from drifting apart.
 */

/** DynamoDB scalar attribute types used by the key schema. */
export type KeyAttributeType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyAttributeType;
}

export interface TableDefinition {
  /** Short role name, used in construct ids and sandbox table names. */
  readonly role: 'state' | 'predictions';
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** Attribute holding the expiry time in epoch seconds; DynamoDB deletes items after it passes. */
  readonly ttlAttribute: string;
  readonly billingMode: 'PAY_PER_REQUEST';
}

/** Name of the TTL attribute on both tables (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Window state, watermarks and de-duplication markers. */
export const STATE_TABLE: TableDefinition = {
  role: 'state',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  ttlAttribute: TTL_ATTRIBUTE,
  billingMode: 'PAY_PER_REQUEST',
};

/**
 * Predictions and their evaluation (the scoring and evaluation patterns): one item per prediction, which its
 * label joins, one item per evaluation window with its counts, and one registry item of the open windows.
 */
export const PREDICTIONS_TABLE: TableDefinition = {
  role: 'predictions',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  ttlAttribute: TTL_ATTRIBUTE,
  billingMode: 'PAY_PER_REQUEST',
};

/** DynamoDB CreateTable input for a definition (the shape of the API request, without SDK types). */
export function createTableInput(def: TableDefinition, tableName: string) {
  return {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
      { AttributeName: def.sortKey.name, AttributeType: def.sortKey.type },
    ],
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: def.sortKey.name, KeyType: 'RANGE' as const },
    ],
    BillingMode: def.billingMode,
  };
}

/** DynamoDB UpdateTimeToLive input for a definition. */
export function updateTimeToLiveInput(def: TableDefinition, tableName: string) {
  return {
    TableName: tableName,
    TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
  };
}

export interface QueueDefinition {
  /** Short role name, used in construct ids and sandbox queue names. */
  readonly role: 'dead-letter' | 'on-failure';
  readonly fifo: boolean;
  /** Off for the dead-letter queue: the consumer sets a deduplication id per record. */
  readonly contentBasedDeduplication: boolean;
  readonly retentionSeconds: number;
  /** MaximumMessageSize: SQS's largest, 1 MiB, so dead letters carry payloads whole (larger ones go to S3). */
  readonly maxMessageBytes: number;
}

/** SQS's longest retention: 14 days. */
export const MAX_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600;

/**
 * Late and invalid records. FIFO so a record re-sent by a Lambda retry within the five-minute deduplication
 * interval is stored once (the consumer sets MessageDeduplicationId per record and MessageGroupId to the shard id).
 */
export const DEAD_LETTER_QUEUE: QueueDefinition = {
  role: 'dead-letter',
  fifo: true,
  contentBasedDeduplication: false,
  retentionSeconds: MAX_QUEUE_RETENTION_SECONDS,
  maxMessageBytes: 1_048_576,
};

/**
 * Where the event source mapping sends the metadata of batches it gave up on (retries or record age exhausted).
 * Standard, because event source mapping destinations do not accept FIFO queues.
 */
export const ON_FAILURE_QUEUE: QueueDefinition = {
  role: 'on-failure',
  fifo: false,
  contentBasedDeduplication: false,
  retentionSeconds: MAX_QUEUE_RETENTION_SECONDS,
  maxMessageBytes: 1_048_576,
};

/** SQS CreateQueue input for a definition; FIFO queue names must end in `.fifo`. */
export function createQueueInput(def: QueueDefinition, baseName: string) {
  const attributes: Record<string, string> = {
    MessageRetentionPeriod: String(def.retentionSeconds),
    MaximumMessageSize: String(def.maxMessageBytes),
    SqsManagedSseEnabled: 'true',
  };
  if (def.fifo) {
    attributes.FifoQueue = 'true';
    attributes.ContentBasedDeduplication = String(def.contentBasedDeduplication);
  }
  return { QueueName: def.fifo ? `${baseName}.fifo` : baseName, Attributes: attributes };
}

/** Kinesis retention bounds in hours: the service accepts 24 h to 365 days. */
export const STREAM_RETENTION_HOURS = {
  /** Seven days, so a week of records can be replayed after a bug fix. */
  default: 7 * 24,
  min: 24,
  max: 8760,
} as const;

/** Event source mapping settings shared by the deployed mapping and the sandbox poller. */
export const EVENT_SOURCE_DEFAULTS = {
  startingPosition: 'TRIM_HORIZON',
  batchSize: 500,
  maxBatchingWindowSeconds: 1,
  bisectBatchOnError: true,
  reportBatchItemFailures: true,
  retryAttempts: 10,
  maxRecordAgeSeconds: 24 * 3600,
  parallelizationFactor: 1,
} as const;

/** Settings of the consumer function shared by the stack and the sandbox (which enforces the same timeout). */
export const CONSUMER_FUNCTION_DEFAULTS = {
  memorySizeMb: 1024,
  /** A batch that runs longer is a function error: retried, bisected, then sent to the on-failure queue. */
  timeoutSeconds: 60,
} as const;

/** Limits Lambda enforces on a Kinesis event source mapping. */
export const EVENT_SOURCE_LIMITS = {
  batchSize: { min: 1, max: 10_000 },
  maxBatchingWindowSeconds: { min: 0, max: 300 },
  retryAttempts: { min: 0, max: 10_000 },
  /** -1 means records never expire; otherwise 60 s to 7 days. */
  maxRecordAgeSeconds: { infinite: -1, min: 60, max: 604_800 },
  parallelizationFactor: { min: 1, max: 10 },
} as const;

/** Environment variables the consumer function reads. */
export const CONSUMER_ENV = {
  spec: 'PIPELINE_SPEC',
  pipelineName: 'PIPELINE_NAME',
  stateTableName: 'STATE_TABLE_NAME',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** S3 bucket of the result objects: final windows, firings and corrections (JSON lines under FINALS_OBJECT_PREFIXES). */
  finalsBucketName: 'FINALS_BUCKET_NAME',
  /** S3 bucket of the stream archive (every delivered record, under ARCHIVE_OBJECT_PREFIX); none: no archive. */
  archiveBucketName: 'ARCHIVE_BUCKET_NAME',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  /** The mapping's parallelization factor: batches of one shard may then run concurrently. */
  parallelizationFactor: 'PARALLELIZATION_FACTOR',
  /** With a scoring section: the model document (JSON), checked at synth. */
  modelDocument: 'MODEL_DOCUMENT',
  /** With a scoring section: the predictions table (prediction items, evaluation windows). */
  predictionsTableName: 'PREDICTIONS_TABLE_NAME',
  /** With a scoring section: the Kinesis stream every prediction is put to. */
  predictionsStreamName: 'PREDICTIONS_STREAM_NAME',
} as const;

/** Environment of the idle-shard tick, beside the consumer's (CONSUMER_ENV). */
export const IDLE_TICK_ENV = {
  /** The feature stream whose quiet shards are advanced. */
  streamName: 'STREAM_NAME',
  /** How far behind the clock a quiet shard's event-time maximum is put (ms). */
  marginMs: 'IDLE_MARGIN_MS',
} as const;

/** Kinesis actions the idle-shard tick needs on the feature stream: find its shards, read one record after a checkpoint. */
export const IDLE_TICK_STREAM_ACTIONS: readonly string[] = ['kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:DescribeStreamSummary'];

/** Kinesis actions the consumer needs on the predictions stream. */
export const CONSUMER_PREDICTIONS_STREAM_ACTIONS: readonly string[] = ['kinesis:PutRecords'];

/** Environment variables the labels consumer (evaluation) reads. */
export const LABELS_ENV = {
  spec: 'PIPELINE_SPEC',
  pipelineName: 'PIPELINE_NAME',
  predictionsTableName: 'PREDICTIONS_TABLE_NAME',
  /** Late, unmatched and invalid labels go to the pipeline's dead-letter queue, with their reason. */
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** DynamoDB actions the labels consumer needs on the predictions table: read predictions and windows, update them. */
export const LABELS_TABLE_ACTIONS: readonly string[] = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'];

/** DynamoDB actions the consumer needs on both tables, and nothing more. */
export const CONSUMER_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:BatchWriteItem',
];

/** SQS actions the consumer needs on the dead-letter queue. */
export const CONSUMER_QUEUE_ACTIONS: readonly string[] = ['sqs:SendMessage'];

/**
 * Top-level key prefixes of the finals bucket; a pipeline's objects live under `<prefix>/<pipeline>/`. The
 * consumer may put objects under exactly these, for its own pipeline.
 */
/**
 * Top-level prefixes of the finals bucket, each followed by the pipeline's name: the result objects, and the whole
 * payloads of dead letters too large for a queue message (lambda/adapters/dead-letters.ts).
 */
export const FINALS_OBJECT_PREFIXES = { finals: 'finals', firings: 'firings', corrections: 'corrections', deadLetterPayloads: 'dead-letter-payloads' } as const;

/** Top-level key prefix of the archive bucket; a pipeline's archive lives under `archive/<pipeline>/`. */
export const ARCHIVE_OBJECT_PREFIX = 'archive';

/** S3 actions the consumer needs on its pipeline's prefixes: it writes results, never reads. */
export const CONSUMER_BUCKET_ACTIONS: readonly string[] = ['s3:PutObject'];

/** Environment variables the serving function reads. */
export const SERVING_ENV = {
  spec: 'PIPELINE_SPEC',
  pipelineName: 'PIPELINE_NAME',
  /** The state table: serving reads each key's one item there. */
  stateTableName: 'STATE_TABLE_NAME',
  /** Share of served keys logged for the online/offline consistency check, 0 to 1 ("0": none). */
  servedSampleRate: 'SERVED_SAMPLE_RATE',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** DynamoDB actions the serving function needs on the state table: reads of whole items by key, nothing else. */
export const SERVING_TABLE_ACTIONS: readonly string[] = ['dynamodb:GetItem', 'dynamodb:BatchGetItem'];

/** Defaults of the serving function in the stack. */
export const SERVING_FUNCTION_DEFAULTS = {
  memorySizeMb: 512,
  /** One BatchGetItem round per 100 keys, with retries of unprocessed keys, fits well within this. */
  timeoutSeconds: 10,
} as const;

/** Environment of the backfill worker function (lambda/handlers/backfill.ts). */
export const BACKFILL_ENV = {
  spec: 'PIPELINE_SPEC',
  pipelineName: 'PIPELINE_NAME',
  /** The bucket backfill runs write their objects to (the archive bucket, under BACKFILL_OBJECT_PREFIX). */
  bucketName: 'BACKFILL_BUCKET_NAME',
  /** The archive's bucket (the source of a request without one). */
  archiveBucketName: 'ARCHIVE_BUCKET_NAME',
} as const;

/** Prefix of backfill runs in the archive bucket: `backfill/<pipeline>/<runId>/`. */
export const BACKFILL_OBJECT_PREFIX = 'backfill';

/** Prefix of backfill runs' intermediate objects: `backfill-work/<pipeline>/<runId>/`, expired by a lifecycle rule. */
export const BACKFILL_WORK_PREFIX = 'backfill-work';

/** Names of the backfill state machine's task states (the local runner maps each to its step). */
export const BACKFILL_STATES = {
  plan: 'Plan',
  segments: 'PlanSegments',
  segment: 'PlanSegment',
  combine: 'Combine',
  partitions: 'RunPartitions',
  partition: 'RunPartition',
  finish: 'Finish',
} as const;

/** Error names of the backfill worker that a retry cannot cure (the same input fails the same way). */
export const BACKFILL_INPUT_ERRORS = ['BackfillInputError', 'ArchiveError', 'BackfillError'] as const;
