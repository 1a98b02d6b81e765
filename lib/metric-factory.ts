import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { METRICS_NAMESPACE, type MetricName, PIPELINE_DIMENSION } from '../lambda/contract/metric-names';

/** Resources whose metrics the pipeline watches. */
export interface PipelineMetricSources {
  readonly pipelineName: string;
  readonly consumer: lambda.IFunction;
  readonly stream: kinesis.IStream;
  readonly stateTable: dynamodb.ITable;
  readonly featureTable: dynamodb.ITable;
  readonly deadLetterQueue: sqs.IQueue;
  readonly onFailureQueue: sqs.IQueue;
}

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/** DynamoDB operations the consumer performs; ThrottledRequests is reported per operation. */
const CONSUMER_OPERATIONS = [
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

  /** Age of the last record of each batch when it reached the function: how far the consumer is behind. */
  public iteratorAge(): cw.Metric {
    return this.sources.consumer.metric('IteratorAge', { statistic: cw.Stats.MAXIMUM, period: ONE_MINUTE });
  }

  public consumerErrors(period: Duration = FIVE_MINUTES): cw.Metric {
    return this.sources.consumer.metricErrors({ statistic: cw.Stats.SUM, period });
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

  public tableMetric(table: 'state' | 'features', metricName: string, statistic: string = cw.Stats.SUM): cw.Metric {
    return this.table(table).metric(metricName, { statistic, period: ONE_MINUTE });
  }

  /** Read plus write throttle events of one table; missing series count as zero. */
  public tableThrottleEvents(table: 'state' | 'features', period: Duration = FIVE_MINUTES): cw.MathExpression {
    return new cw.MathExpression({
      expression: 'FILL(r, 0) + FILL(w, 0)',
      usingMetrics: {
        r: this.table(table).metric('ReadThrottleEvents', { statistic: cw.Stats.SUM, period }),
        w: this.table(table).metric('WriteThrottleEvents', { statistic: cw.Stats.SUM, period }),
      },
      period,
      label: `${table} throttle events`,
    });
  }

  /** Throttled requests of one table, summed over the operations the consumer performs. */
  public tableThrottledRequests(table: 'state' | 'features'): cw.MathExpression {
    // Ids carry the table so both tables' expressions can share a graph.
    const usingMetrics: Record<string, cw.IMetric> = {};
    for (const op of CONSUMER_OPERATIONS) {
      usingMetrics[`${table}_${op.toLowerCase()}`] = this.table(table).metric('ThrottledRequests', {
        dimensionsMap: { TableName: this.table(table).tableName, Operation: op },
        statistic: cw.Stats.SUM,
        period: ONE_MINUTE,
      });
    }
    return new cw.MathExpression({
      expression: Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics,
      period: ONE_MINUTE,
      label: `${table} ThrottledRequests`,
    });
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

  private table(table: 'state' | 'features'): dynamodb.ITable {
    return table === 'state' ? this.sources.stateTable : this.sources.featureTable;
  }
}
