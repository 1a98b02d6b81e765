import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { longestWindowMs, parseSpecJson } from '../lambda/core/spec';
import { type PipelineConsumerOptions, PipelineConsumer, validatePipelineConsumerOptions } from './consumer';
import { PipelineKey, type PipelineEncryptionOptions, validateEncryptionOptions } from './encryption';
import { PipelinePropsError } from './errors';
import { FinalsBucket, type FinalsBucketOptions, validateFinalsBucketOptions } from './finals-bucket';
import { IdleShardTick, type IdleShardsOptions, validateIdleShardsOptions } from './idle-tick';
import { ArchiveBucket, type ArchiveBucketOptions, validateArchiveBucketOptions } from './archive-bucket';
import { Backfill, type BackfillOptions, validateBackfillOptions } from './backfill';
import { LabelsConsumer, type LabelsConsumerOptions, validateLabelsConsumerOptions } from './labels-consumer';
import { type MonitoringOptions, PipelineMonitoring, SERVING_LATENCY_P99_DEFAULT, validateMonitoringOptions } from './monitoring';
import { PipelineNetwork, type PipelineNetworkOptions, validateNetworkOptions } from './network';
import { PredictionStore, type PredictionStoreOptions } from './predictions';
import { PipelineQueues } from './queues';
import { SERVING_FUNCTION_DEFAULTS, STREAM_RETENTION_HOURS } from '../lambda/contract/resources';
import { type ServingApiOptions, ServingApi, validateServingApiOptions } from './serving-api';
import { loadSpec } from './spec-loader';
import { PipelineTables, type TableCapacity, validateTableCapacity } from './tables';
import { EventStream, type EventStreamOptions } from './stream';

/** Pipeline names become a metric dimension and part of resource names. */
const PIPELINE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface PipelineStackProps extends StackProps {
  /** The pipeline spec as JSON text; validated here, so a bad spec fails synthesis with the field's path. */
  readonly specJson: string;
  /** Name of the pipeline: the `Pipeline` dimension of its metrics. Letters, digits, `_`, `.`, `-`; up to 64. */
  readonly pipelineName: string;
  /**
   * The model document (JSON text) of the spec's scoring section, as read from the file `scoring.model` names
   * (bin/app.ts reads it next to the spec). Checked against the spec here, so a bad model fails synthesis with
   * each bad field named; shipped to the consumer in MODEL_DOCUMENT. Required exactly when the spec has a scoring
   * section.
   * @default - none: the spec has no scoring section
   */
  readonly modelJson?: string;
  /**
   * A throw-away development stack at the cheapest idle settings (`-c devStack=true`): every stream (ingest,
   * predictions, labels) provisioned with one shard and 24 hours retention, and the removal policy DESTROY. Each
   * of these is only a default: `removalPolicy` and the streams' own options still win.
   * @default false
   */
  readonly development?: boolean;
  /**
   * Removal policy of the state table, the finals buckets (emptied first under DESTROY) and the functions' log
   * groups. DESTROY suits throw-away development stacks only.
   * @default RemovalPolicy.RETAIN (RemovalPolicy.DESTROY with `development`)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Capacity mode, shards and retention of the ingest stream.
   * @default - on-demand, 7 days retention (with `development`: provisioned, one shard, 24 hours)
   */
  readonly stream?: EventStreamOptions;
  /**
   * Capacity of the state table: on-demand, or provisioned with auto scaling between limits
   * (`{ mode: 'provisioned', writeMin, writeMax, readMin, readMax, targetUtilization }`), cheaper per unit at
   * steady load (docs/cost.md). The predictions table has its own: `predictions.tableCapacity`.
   * @default - on-demand
   */
  readonly stateTableCapacity?: TableCapacity;
  /**
   * Function and event source mapping tuning.
   * @default - see PipelineConsumerOptions
   */
  readonly consumer?: PipelineConsumerOptions;
  /**
   * Lifecycle of the final-window objects.
   * @default - see FinalsBucketOptions
   */
  readonly finals?: FinalsBucketOptions;
  /**
   * Lifecycle of the stream archive (every delivered record; docs/history.md).
   * @default - see ArchiveBucketOptions
   */
  readonly archive?: ArchiveBucketOptions;
  /**
   * Tuning of the features endpoint's function.
   * @default - see ServingApiOptions
   */
  readonly serving?: ServingApiOptions;
  /**
   * The predictions stream's capacity and retention; only with a scoring section.
   * @default - see PredictionStoreOptions
   */
  readonly predictions?: PredictionStoreOptions;
  /**
   * The labels stream and the labels consumer; only with an evaluation section.
   * @default - see LabelsOptions
   */
  readonly labels?: LabelsOptions;
  /**
   * Alarm thresholds, alarm email and dashboard name.
   * @default - see MonitoringOptions
   */
  readonly monitoring?: MonitoringOptions;
  /**
   * Quiet shards: a scheduled tick advances the watermark of shards whose consumer is caught up, so their windows
   * become final (docs/operations.md). `false` turns it off. Refused with a parallelization factor above 1.
   * @default - every minute, 60 s behind the clock (off when consumer.parallelizationFactor is above 1)
   */
  readonly idleShards?: IdleShardsOptions | false;
  /**
   * The backfill state machine over the archive (docs/history.md): its workers' memory, timeout, fan-out and
   * retries.
   * @default - see BackfillOptions
   */
  readonly backfill?: BackfillOptions;
  /**
   * A customer-managed KMS key for the data at rest: the state and predictions tables, every stream, both queues,
   * and the finals and archive buckets (with S3 bucket keys). Each function role gets exactly the key actions its
   * uses need. `{}` creates one key with rotation on; `{ key }` or `{ keyArn }` uses an existing key. The finals access log bucket
   * stays on SSE-S3 (log delivery writes nothing else) and the alarm topic keeps its own key.
   * @default - AWS managed keys (tables, streams), SSE-SQS (queues), SSE-S3 (buckets)
   */
  readonly encryption?: PipelineEncryptionOptions;
  /**
   * Runs every function of the pipeline in a VPC, with one security group (HTTPS out only) and, for subnets
   * without a route to the internet, the endpoints the functions need. `{}` creates a small VPC with isolated
   * subnets and endpoints.
   * @default - the functions run outside any VPC
   */
  readonly network?: PipelineNetworkOptions;
}

/** The labels stream and the consumer joining its labels to predictions (the evaluation pattern). */
export interface LabelsOptions {
  /**
   * Capacity mode, shards and retention of the labels stream.
   * @default - on-demand, 7 days retention
   */
  readonly stream?: EventStreamOptions;
  /**
   * Function and event source mapping tuning of the labels consumer.
   * @default - see LabelsConsumerOptions
   */
  readonly consumer?: LabelsConsumerOptions;
}

/**
 * Kinesis -> Lambda consumer -> DynamoDB state and S3 final windows, a features endpoint reading the state, with
 * queues, alarms and dashboard. With a scoring section, the consumer also scores each applied record into the
 * predictions table and stream; with an evaluation section, a labels stream and its consumer join labels to
 * predictions and measure the model.
 */
export class PipelineStack extends Stack {
  public readonly eventStream: EventStream;
  public readonly tables: PipelineTables;
  public readonly finals: FinalsBucket;
  public readonly archive: ArchiveBucket;
  public readonly serving: ServingApi;
  public readonly queues: PipelineQueues;
  public readonly consumer: PipelineConsumer;
  public readonly monitoring: PipelineMonitoring;
  /** With a scoring section: the predictions table and stream. */
  public readonly predictions?: PredictionStore;
  /** With an evaluation section: the labels stream producers write labels to. */
  public readonly labelsStream?: EventStream;
  /** With an evaluation section: the labels consumer. */
  public readonly labelsConsumer?: LabelsConsumer;
  /** Unless turned off: the scheduled tick advancing quiet shards. */
  public readonly idleShardTick?: IdleShardTick;
  /** The backfill state machine over the archive. */
  public readonly backfill: Backfill;
  /** With the encryption option: the customer-managed key of the data at rest. */
  public readonly encryptionKey?: kms.IKey;
  /** With the network option: the VPC placement of the functions and its endpoints. */
  public readonly network?: PipelineNetwork;

  public constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    if (!PIPELINE_NAME_PATTERN.test(props.pipelineName)) {
      throw new PipelinePropsError(
        `PipelineStack: pipelineName must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit (got "${props.pipelineName}")`,
      );
    }
    // Everything is checked before any resource is built: bundling the consumer takes seconds.
    const { spec, json, modelJson } = loadSpec(props.specJson, checkModelProps(props), 'modelJson');
    validatePipelineConsumerOptions(props.consumer ?? {});
    const pf = props.consumer?.parallelizationFactor ?? 1;
    if (spec.evaluation !== undefined && pf !== 1) {
      throw new PipelinePropsError(
        `PipelineStack: consumer.parallelizationFactor must be 1 with an evaluation section (got ${pf}): evaluation windows count each shard's predictions in sequence order`,
      );
    }
    if (pf !== 1 && props.idleShards !== undefined && props.idleShards !== false) {
      throw new PipelinePropsError(
        `PipelineStack: idleShards needs consumer.parallelizationFactor 1 (got ${pf}): with concurrent batches per shard, the checkpoint is no position every earlier record was processed before`,
      );
    }
    if (props.idleShards) validateIdleShardsOptions(props.idleShards, 'PipelineStack: idleShards');
    validateLabelsConsumerOptions(props.labels?.consumer ?? {});
    if (props.stateTableCapacity !== undefined) validateTableCapacity(props.stateTableCapacity, 'PipelineStack', 'stateTableCapacity');
    if (props.predictions?.tableCapacity !== undefined) validateTableCapacity(props.predictions.tableCapacity, 'PipelineStack', 'predictions.tableCapacity');
    validateMonitoringOptions(props.monitoring ?? {});
    validateFinalsBucketOptions(props.finals ?? {});
    validateArchiveBucketOptions(props.archive ?? {});
    validateBackfillOptions(props.backfill ?? {}, 'PipelineStack: backfill');
    validateServingApiOptions(props.serving ?? {});
    checkServingLatencyBelowTimeout(props);
    if (props.encryption !== undefined) validateEncryptionOptions(props.encryption, 'PipelineStack');
    if (props.network !== undefined) validateNetworkOptions(props.network, 'PipelineStack');
    const dev = props.development === true;
    const removalPolicy = props.removalPolicy ?? (dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN);
    const streamOptions = (given: EventStreamOptions | undefined): EventStreamOptions | undefined => (dev ? developmentStreamOptions(given) : given);
    const idleTick = props.idleShards !== false && pf === 1;

    const encryptionKey = props.encryption === undefined ? undefined : new PipelineKey(this, 'Encryption', { ...props.encryption, pipelineName: props.pipelineName, removalPolicy }).key;
    this.encryptionKey = encryptionKey;
    if (props.network !== undefined) {
      // Functions call Kinesis themselves to put predictions (scoring) and to read stream positions (idle tick).
      this.network = new PipelineNetwork(this, 'Network', { ...props.network, kinesisEndpoint: modelJson !== undefined || idleTick, removalPolicy });
    }
    const placement = this.network?.placement;

    this.eventStream = new EventStream(this, 'Ingest', { ...streamOptions(props.stream), encryptionKey });
    // The construct id stays 'Store' so deployed tables keep their logical ids.
    this.tables = new PipelineTables(this, 'Store', { removalPolicy, encryptionKey, capacity: props.stateTableCapacity });
    this.finals = new FinalsBucket(this, 'Finals', { ...props.finals, removalPolicy, encryptionKey });
    this.archive = new ArchiveBucket(this, 'Archive', { ...props.archive, accessLogsBucket: this.finals.accessLogsBucket, removalPolicy, encryptionKey });
    this.queues = new PipelineQueues(this, 'Queues', { encryptionKey });
    const predictions = modelJson === undefined ? undefined : new PredictionStore(this, 'Predictions', { ...props.predictions, stream: streamOptions(props.predictions?.stream), removalPolicy, encryptionKey });
    this.predictions = predictions;
    this.consumer = new PipelineConsumer(this, 'Consumer', {
      ...props.consumer,
      pipelineName: props.pipelineName,
      specJson: json,
      stream: this.eventStream.stream,
      stateTable: this.tables.stateTable,
      finalsBucket: this.finals,
      archiveBucket: this.archive,
      deadLetterQueue: this.queues.deadLetterQueue,
      onFailureQueue: this.queues.onFailureQueue,
      removalPolicy,
      placement,
      scoring:
        predictions === undefined || modelJson === undefined
          ? undefined
          : { modelJson, predictionsTable: predictions.table, predictionsStream: predictions.stream },
    });
    if (idleTick) {
      this.idleShardTick = new IdleShardTick(this, 'IdleShards', {
        ...(props.idleShards ?? {}),
        pipelineName: props.pipelineName,
        specJson: json,
        stream: this.eventStream.stream,
        stateTable: this.tables.stateTable,
        finalsBucket: this.finals,
        deadLetterQueue: this.queues.deadLetterQueue,
        removalPolicy,
        placement,
      });
    }
    if (spec.evaluation !== undefined && predictions !== undefined) {
      this.labelsStream = new EventStream(this, 'Labels', { ...streamOptions(props.labels?.stream), encryptionKey });
      this.labelsConsumer = new LabelsConsumer(this, 'LabelsConsumer', {
        ...props.labels?.consumer,
        pipelineName: props.pipelineName,
        specJson: json,
        stream: this.labelsStream.stream,
        predictionsTable: predictions.table,
        deadLetterQueue: this.queues.deadLetterQueue,
        onFailureQueue: this.queues.onFailureQueue,
        removalPolicy,
        placement,
      });
    }
    this.backfill = new Backfill(this, 'Backfill', { ...props.backfill, pipelineName: props.pipelineName, specJson: json, bucket: this.archive.bucket, removalPolicy, placement });
    this.serving = new ServingApi(this, 'Serving', {
      ...props.serving,
      pipelineName: props.pipelineName,
      specJson: json,
      stateTable: this.tables.stateTable,
      removalPolicy,
      placement,
    });
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      ...props.monitoring,
      pipelineName: props.pipelineName,
      allowedLateness: Duration.millis(spec.watermark.allowedLatenessMs),
      consumer: this.consumer.function,
      stream: this.eventStream.stream,
      stateTable: this.tables.stateTable,
      finalsBucket: this.finals.bucket,
      servingFunction: this.serving.function,
      deadLetterQueue: this.queues.deadLetterQueue,
      onFailureQueue: this.queues.onFailureQueue,
      scoring: predictions !== undefined,
      evaluation: this.labelsConsumer === undefined ? undefined : spec.evaluation,
      labelsConsumer: this.labelsConsumer?.function,
    });

    // Replaying a window needs its records still in the stream.
    const retention = this.eventStream.retentionPeriod;
    const needed = longestWindowMs(spec) + spec.watermark.allowedLatenessMs;
    if (!retention.isUnresolved() && retention.toMilliseconds() < needed) {
      Annotations.of(this).addWarningV2(
        'feature-pipeline:retention-shorter-than-window',
        `stream retention ${retention.toHumanString()} is shorter than the longest window plus allowed lateness (${needed} ms): a full window cannot be replayed`,
      );
    }

    const out = (id: string, value: string, description: string): void => {
      new CfnOutput(this, id, { value, description });
    };
    out('StreamName', this.eventStream.stream.streamName, 'Kinesis stream producers write events to');
    out('StreamArn', this.eventStream.stream.streamArn, 'ARN of the ingest stream');
    out('StateTableName', this.tables.stateTable.tableName, 'DynamoDB table of window state, one item per key (serving reads it)');
    out('FinalsBucketName', this.finals.bucket.bucketName, 'S3 bucket of final windows and corrections (JSON lines)');
    out('ArchiveBucketName', this.archive.bucket.bucketName, 'S3 bucket of the stream archive (archive/<pipeline>/dt=…/hh=…/, gzip JSON lines)');
    out('BackfillStateMachineArn', this.backfill.stateMachine.stateMachineArn, 'Step Functions state machine computing windows and training rows from the archive (docs/history.md)');
    out('FeaturesUrl', this.serving.url, 'Features endpoint (function URL, IAM authorization: sign requests with SigV4)');
    out('ServingFunctionName', this.serving.function.functionName, 'Lambda function behind the features endpoint');
    out('DeadLetterQueueUrl', this.queues.deadLetterQueue.queueUrl, 'FIFO queue of late and invalid records');
    out('OnFailureQueueUrl', this.queues.onFailureQueue.queueUrl, 'Queue of batches the event source mapping gave up on');
    out('ConsumerFunctionName', this.consumer.function.functionName, 'Consumer Lambda function');
    out('AlarmTopicArn', this.monitoring.alarmTopic.topicArn, 'SNS topic receiving alarm notifications');
    out('DashboardUrl', this.monitoring.dashboardUrl, 'CloudWatch dashboard of the pipeline');
    if (predictions !== undefined) {
      out('PredictionsTableName', predictions.table.tableName, 'DynamoDB table of predictions, their labels and the evaluation windows');
      out('PredictionsStreamName', predictions.stream.streamName, 'Kinesis stream every prediction is put to (at least once: dedupe by predictionId)');
    }
    if (this.labelsStream !== undefined && this.labelsConsumer !== undefined) {
      out('LabelsStreamName', this.labelsStream.stream.streamName, 'Kinesis stream producers write labels to');
      out('LabelsFunctionName', this.labelsConsumer.function.functionName, 'Labels consumer Lambda function');
    }
  }
}

/**
 * A development stack's stream: what costs least while idle. A provisioned shard bills $0.015 an hour against an
 * on-demand stream's $0.04 (us-east-1 list prices), and retention beyond 24 hours bills extra per shard-hour.
 * Options given explicitly win; a shard count only goes with the provisioned mode.
 */
export function developmentStreamOptions(given: EventStreamOptions = {}): EventStreamOptions {
  const streamMode = given.streamMode ?? kinesis.StreamMode.PROVISIONED;
  return {
    ...given,
    streamMode,
    ...(streamMode === kinesis.StreamMode.PROVISIONED ? { shardCount: given.shardCount ?? 1 } : {}),
    retentionPeriod: given.retentionPeriod ?? Duration.hours(STREAM_RETENTION_HOURS.min),
  };
}

/**
 * The model document goes with a scoring section, and options for parts that the spec does not have are refused:
 * they would silently configure nothing.
 */
function checkModelProps(props: PipelineStackProps): string | undefined {
  const spec = parseSpecJson(props.specJson);
  if (spec.scoring !== undefined && props.modelJson === undefined) {
    throw new PipelinePropsError(
      `PipelineStack: modelJson is required: the spec has a scoring section (scoring.model "${spec.scoring.model}"); pass that file's text`,
    );
  }
  if (spec.scoring === undefined && props.modelJson !== undefined) {
    throw new PipelinePropsError('PipelineStack: modelJson is given but the spec has no scoring section; add "scoring": {"model": "<file>"} or leave modelJson out');
  }
  if (spec.scoring === undefined && props.predictions !== undefined) {
    throw new PipelinePropsError('PipelineStack: predictions options need a scoring section in the spec');
  }
  if (spec.evaluation === undefined && props.labels !== undefined) {
    throw new PipelinePropsError('PipelineStack: labels options need an evaluation section in the spec');
  }
  return props.modelJson;
}

/** A latency alarm above the serving timeout could never fire: every request ends by the timeout. */
function checkServingLatencyBelowTimeout(props: PipelineStackProps): void {
  const threshold = props.monitoring?.servingLatencyP99Threshold ?? SERVING_LATENCY_P99_DEFAULT;
  const timeout = props.serving?.timeout ?? Duration.seconds(SERVING_FUNCTION_DEFAULTS.timeoutSeconds);
  if (threshold.isUnresolved() || timeout.isUnresolved()) return;
  if (threshold.toMilliseconds() >= timeout.toMilliseconds()) {
    throw new PipelinePropsError(
      `PipelineStack: monitoring.servingLatencyP99Threshold (${threshold.toHumanString()}) must be below serving.timeout (${timeout.toHumanString()}); requests end at the timeout, so the alarm could never fire`,
    );
  }
}
