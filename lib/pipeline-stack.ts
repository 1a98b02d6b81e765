import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { longestWindowMs } from '../lambda/core/spec';
import { type PipelineConsumerOptions, PipelineConsumer, validatePipelineConsumerOptions } from './consumer';
import { PipelinePropsError } from './errors';
import { FinalsBucket, type FinalsBucketOptions, validateFinalsBucketOptions } from './finals-bucket';
import { type MonitoringOptions, PipelineMonitoring, SERVING_LATENCY_P99_DEFAULT, validateMonitoringOptions } from './monitoring';
import { PipelineQueues } from './queues';
import { SERVING_FUNCTION_DEFAULTS } from '../lambda/contract/resources';
import { type ServingApiOptions, ServingApi, validateServingApiOptions } from './serving-api';
import { loadSpec } from './spec-loader';
import { PipelineTables } from './tables';
import { EventStream, type EventStreamOptions } from './stream';

/** Pipeline names become a metric dimension and part of resource names. */
const PIPELINE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface PipelineStackProps extends StackProps {
  /** The pipeline spec as JSON text; validated here, so a bad spec fails synthesis with the field's path. */
  readonly specJson: string;
  /** Name of the pipeline: the `Pipeline` dimension of its metrics. Letters, digits, `_`, `.`, `-`; up to 64. */
  readonly pipelineName: string;
  /**
   * Removal policy of the state table, the finals buckets (emptied first under DESTROY) and the functions' log
   * groups. DESTROY suits throw-away development stacks only.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Capacity mode, shards and retention of the ingest stream.
   * @default - on-demand, 7 days retention
   */
  readonly stream?: EventStreamOptions;
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
   * Tuning of the features endpoint's function.
   * @default - see ServingApiOptions
   */
  readonly serving?: ServingApiOptions;
  /**
   * Alarm thresholds, alarm email and dashboard name.
   * @default - see MonitoringOptions
   */
  readonly monitoring?: MonitoringOptions;
}

/**
 * Kinesis -> Lambda consumer -> DynamoDB state and S3 final windows, a features endpoint reading the state, with
 * queues, alarms and dashboard.
 */
export class PipelineStack extends Stack {
  public readonly eventStream: EventStream;
  public readonly tables: PipelineTables;
  public readonly finals: FinalsBucket;
  public readonly serving: ServingApi;
  public readonly queues: PipelineQueues;
  public readonly consumer: PipelineConsumer;
  public readonly monitoring: PipelineMonitoring;

  public constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    if (!PIPELINE_NAME_PATTERN.test(props.pipelineName)) {
      throw new PipelinePropsError(
        `PipelineStack: pipelineName must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit (got "${props.pipelineName}")`,
      );
    }
    // Everything is checked before any resource is built: bundling the consumer takes seconds.
    const { spec, json } = loadSpec(props.specJson);
    validatePipelineConsumerOptions(props.consumer ?? {});
    validateMonitoringOptions(props.monitoring ?? {});
    validateFinalsBucketOptions(props.finals ?? {});
    validateServingApiOptions(props.serving ?? {});
    checkServingLatencyBelowTimeout(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.eventStream = new EventStream(this, 'Ingest', props.stream);
    // The construct id stays 'Store' so deployed tables keep their logical ids.
    this.tables = new PipelineTables(this, 'Store', { removalPolicy });
    this.finals = new FinalsBucket(this, 'Finals', { ...props.finals, removalPolicy });
    this.queues = new PipelineQueues(this, 'Queues');
    this.consumer = new PipelineConsumer(this, 'Consumer', {
      ...props.consumer,
      pipelineName: props.pipelineName,
      specJson: json,
      stream: this.eventStream.stream,
      stateTable: this.tables.stateTable,
      finalsBucket: this.finals,
      deadLetterQueue: this.queues.deadLetterQueue,
      onFailureQueue: this.queues.onFailureQueue,
      removalPolicy,
    });
    this.serving = new ServingApi(this, 'Serving', {
      ...props.serving,
      pipelineName: props.pipelineName,
      specJson: json,
      stateTable: this.tables.stateTable,
      removalPolicy,
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
    out('FeaturesUrl', this.serving.url, 'Features endpoint (function URL, IAM authorization: sign requests with SigV4)');
    out('ServingFunctionName', this.serving.function.functionName, 'Lambda function behind the features endpoint');
    out('DeadLetterQueueUrl', this.queues.deadLetterQueue.queueUrl, 'FIFO queue of late and invalid records');
    out('OnFailureQueueUrl', this.queues.onFailureQueue.queueUrl, 'Queue of batches the event source mapping gave up on');
    out('ConsumerFunctionName', this.consumer.function.functionName, 'Consumer Lambda function');
    out('AlarmTopicArn', this.monitoring.alarmTopic.topicArn, 'SNS topic receiving alarm notifications');
    out('DashboardUrl', this.monitoring.dashboardUrl, 'CloudWatch dashboard of the pipeline');
  }
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
