import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { longestWindowMs } from '../lambda/core/spec';
import { type PipelineConsumerOptions, PipelineConsumer, validatePipelineConsumerOptions } from './consumer';
import { PipelinePropsError } from './errors';
import { type MonitoringOptions, PipelineMonitoring, validateMonitoringOptions } from './monitoring';
import { PipelineQueues } from './queues';
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
   * Removal policy of the tables and the consumer's log group. DESTROY suits throw-away development stacks only.
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
   * Alarm thresholds, alarm email and dashboard name.
   * @default - see MonitoringOptions
   */
  readonly monitoring?: MonitoringOptions;
}

/** Kinesis -> Lambda consumer -> DynamoDB, with its queues, alarms and dashboard. */
export class PipelineStack extends Stack {
  public readonly eventStream: EventStream;
  public readonly tables: PipelineTables;
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
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.eventStream = new EventStream(this, 'Ingest', props.stream);
    // The construct id stays 'Store' so deployed tables keep their logical ids.
    this.tables = new PipelineTables(this, 'Store', { removalPolicy });
    this.queues = new PipelineQueues(this, 'Queues');
    this.consumer = new PipelineConsumer(this, 'Consumer', {
      ...props.consumer,
      pipelineName: props.pipelineName,
      specJson: json,
      stream: this.eventStream.stream,
      stateTable: this.tables.stateTable,
      featureTable: this.tables.featureTable,
      deadLetterQueue: this.queues.deadLetterQueue,
      onFailureQueue: this.queues.onFailureQueue,
      removalPolicy,
    });
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      ...props.monitoring,
      pipelineName: props.pipelineName,
      allowedLateness: Duration.millis(spec.watermark.allowedLatenessMs),
      consumer: this.consumer.function,
      stream: this.eventStream.stream,
      stateTable: this.tables.stateTable,
      featureTable: this.tables.featureTable,
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
    out('StateTableName', this.tables.stateTable.tableName, 'DynamoDB table of window state');
    out('FeatureTableName', this.tables.featureTable.tableName, 'DynamoDB online feature table');
    out('DeadLetterQueueUrl', this.queues.deadLetterQueue.queueUrl, 'FIFO queue of late and invalid records');
    out('OnFailureQueueUrl', this.queues.onFailureQueue.queueUrl, 'Queue of batches the event source mapping gave up on');
    out('ConsumerFunctionName', this.consumer.function.functionName, 'Consumer Lambda function');
    out('AlarmTopicArn', this.monitoring.alarmTopic.topicArn, 'SNS topic receiving alarm notifications');
    out('DashboardUrl', this.monitoring.dashboardUrl, 'CloudWatch dashboard of the pipeline');
  }
}
