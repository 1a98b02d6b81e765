import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { FINALS_BUCKET_METRICS_FILTER } from './finals-bucket';
import { METRICS_NAMESPACE, type MetricName, PIPELINE_DIMENSION } from '../lambda/contract/metric-names';

/** Resources whose metrics the pipeline watches. */
export interface PipelineMetricSources {
  readonly pipelineName: string;
  readonly consumer: lambda.IFunction;
  readonly stream: kinesis.IStream;
  readonly stateTable: dynamodb.ITable;
  readonly finalsBucket: s3.IBucket;
  /** The features endpoint's function (its function URL reports under the function's name). */
  readonly servingFunction: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly onFailureQueue: sqs.IQueue;
  /**
   * The labels consumer (evaluation).
   * @default - none: the spec has no evaluation section
   */
  readonly labelsConsumer?: lambda.IFunction;
}

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);
/**
 * Period of the evaluation measures: a window's precision and recall are emitted once, when it becomes final, and
 * its PSI once, when it closes; an hour of one datapoint is enough to read and to alarm on.
 */
export const EVALUATION_PERIOD = Duration.hours(1);

/** DynamoDB operations the consumer and the serving function perform; ThrottledRequests is reported per operation. */
const STATE_TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
];

/**
 * Builds every metric the alarms and the dashboard use, so both read the same name, statistic, period and
 * dimensions. Pipeline metrics come from the names the consumer emits (lambda/adapters/metric-names.ts).
 */
export class PipelineMetricFactory {
  public constructor(private readonly sources: PipelineMetricSources) {}

  /** A metric the consumer emits through EMF, with its single `Pipeline` dimension. */
  public pipeline(name: MetricName, statistic: string, period: Duration = ONE_MINUTE): cw.Metric {
    return new cw.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { [PIPELINE_DIMENSION]: this.sources.pipelineName },
      statistic,
      period,
    });
  }

  /** A measure of the evaluation windows, emitted rarely (see EVALUATION_PERIOD). */
  public evaluation(name: MetricName, statistic: string): cw.Metric {
    return this.pipeline(name, statistic, EVALUATION_PERIOD);
  }

  /** Age of the last record of each batch when it reached the function: how far the consumer is behind. */
  public iteratorAge(fn: lambda.IFunction = this.sources.consumer): cw.Metric {
    return fn.metric('IteratorAge', { statistic: cw.Stats.MAXIMUM, period: ONE_MINUTE });
  }

  public consumerErrors(period: Duration = FIVE_MINUTES, fn: lambda.IFunction = this.sources.consumer): cw.Metric {
    return fn.metricErrors({ statistic: cw.Stats.SUM, period });
  }

  /** The labels consumer; only with an evaluation section. */
  public labelsConsumer(): lambda.IFunction {
    const fn = this.sources.labelsConsumer;
    if (fn === undefined) throw new Error('PipelineMetricFactory: no labels consumer (the spec has no evaluation section)');
    return fn;
  }

  public consumerThrottles(period: Duration = FIVE_MINUTES): cw.Metric {
    return this.sources.consumer.metricThrottles({ statistic: cw.Stats.SUM, period });
  }

  public consumerInvocations(): cw.Metric {
    return this.sources.consumer.metricInvocations({ statistic: cw.Stats.SUM, period: ONE_MINUTE });
  }

  public consumerDuration(statistic: string): cw.Metric {
    return this.sources.consumer.metricDuration({ statistic, period: ONE_MINUTE });
  }

  public consumerConcurrency(): cw.Metric {
    return this.sources.consumer.metric('ConcurrentExecutions', { statistic: cw.Stats.MAXIMUM, period: ONE_MINUTE });
  }

  public queueDepth(queue: 'deadLetter' | 'onFailure'): cw.Metric {
    return this.queue(queue).metricApproximateNumberOfMessagesVisible({ statistic: cw.Stats.MAXIMUM, period: FIVE_MINUTES });
  }

  public queueOldestMessageAge(queue: 'deadLetter' | 'onFailure'): cw.Metric {
    return this.queue(queue).metricApproximateAgeOfOldestMessage({ statistic: cw.Stats.MAXIMUM, period: FIVE_MINUTES });
  }

  public stateTableMetric(metricName: string, statistic: string = cw.Stats.SUM): cw.Metric {
    return this.sources.stateTable.metric(metricName, { statistic, period: ONE_MINUTE });
  }

  /** Read plus write throttle events of the state table; missing series count as zero. */
  public stateTableThrottleEvents(period: Duration = FIVE_MINUTES): cw.MathExpression {
    const table = this.sources.stateTable;
    return new cw.MathExpression({
      expression: 'FILL(r, 0) + FILL(w, 0)',
      usingMetrics: {
        r: table.metric('ReadThrottleEvents', { statistic: cw.Stats.SUM, period }),
        w: table.metric('WriteThrottleEvents', { statistic: cw.Stats.SUM, period }),
      },
      period,
      label: 'state throttle events',
    });
  }

  /** Throttled requests of the state table, summed over the operations the pipeline performs. */
  public stateTableThrottledRequests(): cw.MathExpression {
    const table = this.sources.stateTable;
    const usingMetrics: Record<string, cw.IMetric> = {};
    for (const op of STATE_TABLE_OPERATIONS) {
      usingMetrics[op.toLowerCase()] = table.metric('ThrottledRequests', {
        dimensionsMap: { TableName: table.tableName, Operation: op },
        statistic: cw.Stats.SUM,
        period: ONE_MINUTE,
      });
    }
    return new cw.MathExpression({
      expression: Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics,
      period: ONE_MINUTE,
      label: 'state ThrottledRequests',
    });
  }

  /** A request metric of the finals bucket (its metrics configuration covers the whole bucket). */
  public finalsBucketRequests(
    name: 'PutRequests' | 'GetRequests' | '4xxErrors' | '5xxErrors' | 'BytesUploaded',
    period: Duration = ONE_MINUTE,
  ): cw.Metric {
    return new cw.Metric({
      namespace: 'AWS/S3',
      metricName: name,
      dimensionsMap: { BucketName: this.sources.finalsBucket.bucketName, FilterId: FINALS_BUCKET_METRICS_FILTER },
      statistic: cw.Stats.SUM,
      period,
    });
  }

  /** Daily storage metrics of the finals bucket: bytes in Standard, objects in all classes. */
  public finalsBucketStorage(name: 'BucketSizeBytes' | 'NumberOfObjects'): cw.Metric {
    return new cw.Metric({
      namespace: 'AWS/S3',
      metricName: name,
      dimensionsMap: {
        BucketName: this.sources.finalsBucket.bucketName,
        StorageType: name === 'BucketSizeBytes' ? 'StandardStorage' : 'AllStorageTypes',
      },
      statistic: cw.Stats.AVERAGE,
      period: Duration.days(1),
    });
  }

  /** Requests to the features endpoint, or those answered with a 4xx or 5xx status. */
  public servingRequests(name: 'UrlRequestCount' | 'Url4xxCount' | 'Url5xxCount', period: Duration = FIVE_MINUTES): cw.Metric {
    return this.sources.servingFunction.metric(name, { statistic: cw.Stats.SUM, period });
  }

  /** Time from the function URL receiving a request to its response: what a caller waits. */
  public servingLatency(statistic: string, period: Duration = FIVE_MINUTES): cw.Metric {
    return this.sources.servingFunction.metric('UrlRequestLatency', { statistic, period });
  }

  public servingDuration(statistic: string): cw.Metric {
    return this.sources.servingFunction.metricDuration({ statistic, period: FIVE_MINUTES });
  }

  public servingThrottles(): cw.Metric {
    return this.sources.servingFunction.metricThrottles({ statistic: cw.Stats.SUM, period: FIVE_MINUTES });
  }

  public streamMetric(
    name: 'ReadProvisionedThroughputExceeded' | 'WriteProvisionedThroughputExceeded' | 'IncomingRecords' | 'GetRecords.Records',
    period: Duration = ONE_MINUTE,
  ): cw.Metric {
    return this.sources.stream.metric(name, { statistic: cw.Stats.SUM, period });
  }

  private queue(queue: 'deadLetter' | 'onFailure'): sqs.IQueue {
    return queue === 'deadLetter' ? this.sources.deadLetterQueue : this.sources.onFailureQueue;
  }
}
