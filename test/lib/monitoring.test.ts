import { type CfnElement, Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_METRICS, METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../lambda/contract/metric-names';
import { ALARM_RUNBOOK, type AlarmKey, ESTIMATE_ALARMS } from '../../lib/monitoring';
import { type Built, buildPipeline, flattenCfnString, examplePipeline } from './fixtures';

let built: Built;
let fnId: string;
let topicId: string;
let streamId: string;
let dlqId: string;
let onFailureId: string;
let tableId: string;
let servingId: string;
let bucketId: string;
let dashboard: { widgets: Array<{ type: string; properties: Record<string, unknown> }> };
let dashboardText: string;
/** The dashboard body as CloudFormation has it, references included. */
let dashboardSource: string;

beforeAll(() => {
  built = examplePipeline();
  const { stack } = built;
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);
  fnId = id(stack.consumer.function);
  topicId = id(stack.monitoring.alarmTopic);
  streamId = id(stack.eventStream.stream);
  dlqId = id(stack.queues.deadLetterQueue);
  onFailureId = id(stack.queues.onFailureQueue);
  tableId = id(stack.tables.stateTable);
  servingId = id(stack.serving.function);
  bucketId = id(stack.finals.bucket);
  const body = Object.values(built.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody;
  dashboardText = flattenCfnString(body);
  dashboardSource = JSON.stringify(body);
  dashboard = JSON.parse(dashboardText);
});

/** Properties of an alarm of a stack, failing if the stack has no such alarm. */
function alarmPropsOf(b: Pick<Built, 'stack' | 'template'>, key: AlarmKey): Record<string, unknown> {
  const alarm = b.stack.monitoring.alarms[key];
  if (alarm === undefined) throw new Error(`no ${key} alarm`);
  return b.template.toJSON().Resources[b.stack.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties;
}

const alarmProps = (key: AlarmKey): Record<string, unknown> => alarmPropsOf(built, key);

describe('alarms', () => {
  it('has one alarm per runbook entry, each notifying the topic on alarm and on recovery', () => {
    // The estimate's alarms only with their thresholds in the spec, which the example's leaves out.
    const keys = (Object.keys(ALARM_RUNBOOK) as AlarmKey[]).filter((k) => !ESTIMATE_ALARMS.includes(k));
    built.template.resourceCountIs('AWS::CloudWatch::Alarm', keys.length);
    for (const key of keys) {
      const p = alarmProps(key);
      expect(p.AlarmActions, key).toEqual([{ Ref: topicId }]);
      expect(p.OKActions, key).toEqual([{ Ref: topicId }]);
      expect(p.TreatMissingData, key).toBe('notBreaching');
      expect(p.AlarmDescription, key).toContain(ALARM_RUNBOOK[key].firstStep);
    }
  });

  it('consumer lag: IteratorAge Maximum by FunctionName above 60 s for 3 of 3 minutes', () => {
    expect(alarmProps('ConsumerLag')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('freshness: p99 of the shared FeatureFreshnessMs metric above the 10 s SLO', () => {
    const p = alarmProps('FeatureFreshness');
    expect(p).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: MetricName.FeatureFreshnessMs,
      ExtendedStatistic: 'p99',
      Dimensions: [{ Name: PIPELINE_DIMENSION, Value: 'fraud' }],
      Threshold: 10_000,
      EvaluationPeriods: 3,
    });
    expect(p.Statistic).toBeUndefined();
  });

  it('watermark lag: Maximum of WatermarkLagMs above allowed lateness + 5 minutes by default', () => {
    expect(alarmProps('WatermarkLag')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: MetricName.WatermarkLagMs,
      Statistic: 'Maximum',
      Dimensions: [{ Name: PIPELINE_DIMENSION, Value: 'fraud' }],
      Threshold: 30_000 + 300_000,
    });
  });

  it('consumer errors and throttles: Lambda Sum by FunctionName', () => {
    for (const [key, metric] of [
      ['ConsumerErrors', 'Errors'],
      ['ConsumerThrottles', 'Throttles'],
    ] as const) {
      expect(alarmProps(key)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Statistic: 'Sum',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('dead-letter queue: depth and age of the oldest message', () => {
    const dim = [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }];
    expect(alarmProps('DeadLetterQueueDepth')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: dim,
      Threshold: 100,
    });
    expect(alarmProps('DeadLetterQueueAge')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: dim,
      Threshold: Duration.days(3).toSeconds(),
    });
  });

  it('on-failure queue: alarms on the first message', () => {
    expect(alarmProps('OnFailureQueueNotEmpty')).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [onFailureId, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('DynamoDB: read plus write throttle events of the state table, the only table', () => {
    const p = alarmProps('StateTableThrottles');
    const metrics = p.Metrics as Array<{ MetricStat?: { Metric: Record<string, unknown>; Stat: string } }>;
    const names = metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
    expect(names.sort()).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
    for (const m of metrics.filter((x) => x.MetricStat)) {
      expect(m.MetricStat?.Metric.Dimensions).toEqual([{ Name: 'TableName', Value: { Ref: tableId } }]);
      expect(m.MetricStat?.Stat).toBe('Sum');
    }
    expect(Object.keys(ALARM_RUNBOOK).filter((k) => k.includes('FeatureTable'))).toEqual([]);
  });

  it('serving errors: Url5xxCount Sum by the serving FunctionName, at least 1 in 5 minutes', () => {
    expect(alarmProps('ServingErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Url5xxCount',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: servingId } }],
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('serving latency: p99 of UrlRequestLatency above 1 s for 3 of 3 five-minute periods', () => {
    const p = alarmProps('ServingLatency');
    expect(p).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'UrlRequestLatency',
      ExtendedStatistic: 'p99',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: servingId } }],
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(p.Statistic).toBeUndefined();
  });

  it('Kinesis: read and write provisioned throughput exceeded by StreamName', () => {
    for (const [key, metric] of [
      ['StreamReadThroughputExceeded', 'ReadProvisionedThroughputExceeded'],
      ['StreamWriteThroughputExceeded', 'WriteProvisionedThroughputExceeded'],
    ] as const) {
      expect(alarmProps(key)).toMatchObject({
        Namespace: 'AWS/Kinesis',
        MetricName: metric,
        Statistic: 'Sum',
        Dimensions: [{ Name: 'StreamName', Value: { Ref: streamId } }],
      });
    }
  });

  it('takes thresholds from props', () => {
    const { stack, template } = buildPipeline({
      monitoring: {
        iteratorAgeThreshold: Duration.minutes(5),
        freshnessSlo: Duration.seconds(30),
        watermarkLagThreshold: Duration.minutes(2),
        deadLetterQueueDepthThreshold: 7,
        servingErrorsThreshold: 3,
        servingLatencyP99Threshold: Duration.millis(250),
      },
    });
    const props = (key: AlarmKey) => alarmPropsOf({ stack, template }, key);
    expect(props('ConsumerLag').Threshold).toBe(300_000);
    expect(props('FeatureFreshness').Threshold).toBe(30_000);
    expect(props('WatermarkLag').Threshold).toBe(120_000);
    expect(props('DeadLetterQueueDepth').Threshold).toBe(7);
    expect(props('ServingErrors').Threshold).toBe(3);
    expect(props('ServingLatency').Threshold).toBe(250);
  });
});

describe('alarm topic', () => {
  it('has no subscription unless an email is given', () => {
    built.template.resourceCountIs('AWS::SNS::Subscription', 0);
    const { template } = buildPipeline({ monitoring: { alarmEmail: 'oncall@example.com' } });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('lets CloudWatch use the topic key and publish, from this account only', () => {
    built.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
  });
});

describe('dashboard', () => {
  type MetricRow = unknown[];
  const metricRows = (): MetricRow[] =>
    dashboard.widgets.flatMap((w) => ((w.properties.metrics as MetricRow[] | undefined) ?? []));

  it.each(Object.values(MetricName).filter((n) => !FEATURE_METRICS.includes(n)))('shows the %s metric the consumer emits, with its Pipeline dimension', (name) => {
    const row = metricRows().find((r) => r[0] === METRICS_NAMESPACE && r[1] === name);
    expect(row, name).toBeDefined();
    expect(row?.slice(2, 4)).toEqual([PIPELINE_DIMENSION, 'fraud']);
  });

  it('shows freshness at p50 and p99', () => {
    const stats = metricRows()
      .filter((r) => r[1] === MetricName.FeatureFreshnessMs)
      .map((r) => (r[r.length - 1] as { stat?: string }).stat);
    expect(stats).toEqual(expect.arrayContaining(['p50', 'p99']));
  });

  it('shows iterator age, errors, throttles, queue depths and DynamoDB capacity and throttles', () => {
    const names = new Set(metricRows().map((r) => r[1]));
    for (const n of [
      'IteratorAge',
      'Errors',
      'Throttles',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'ConsumedReadCapacityUnits',
      'ConsumedWriteCapacityUnits',
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      'ThrottledRequests',
      'ReadProvisionedThroughputExceeded',
      'WriteProvisionedThroughputExceeded',
    ]) {
      expect(names, n).toContain(n);
    }
  });

  it('has a row for the features endpoint: requests, 4xx, 5xx, throttles, URL latency p50/p99 and Lambda duration p99', () => {
    const titles = ['Features endpoint requests', 'Features endpoint latency (ms)'];
    const serving = dashboard.widgets
      .filter((w) => titles.includes(w.properties.title as string))
      .flatMap((w) => w.properties.metrics as MetricRow[]);
    expect(serving.map((r) => r[1]).sort()).toEqual(
      ['Duration', 'Throttles', 'Url4xxCount', 'Url5xxCount', 'UrlRequestCount', 'UrlRequestLatency', 'UrlRequestLatency'].sort(),
    );
    for (const r of serving) expect(r.slice(0, 3)).toEqual(['AWS/Lambda', r[1], 'FunctionName']);
    expect(dashboardSource).toContain(JSON.stringify({ Ref: servingId }));
    const latencyStats = serving.filter((r) => r[1] === 'UrlRequestLatency').map((r) => (r[r.length - 1] as { stat?: string }).stat);
    expect(latencyStats.sort()).toEqual(['p50', 'p99']);
    const latency = dashboard.widgets.find((w) => w.properties.title === 'Features endpoint latency (ms)');
    expect(JSON.stringify(latency?.properties.annotations)).toContain('"value":1000');
  });

  it('has a row for the finals bucket: request metrics of its whole-bucket filter and daily storage', () => {
    const s3 = metricRows().filter((r) => r[0] === 'AWS/S3');
    expect(s3.map((r) => r[1])).toEqual(
      expect.arrayContaining(['PutRequests', 'GetRequests', '4xxErrors', '5xxErrors', 'BytesUploaded', 'BucketSizeBytes', 'NumberOfObjects']),
    );
    for (const r of s3) expect(r[2]).toBe('BucketName');
    expect(dashboardSource).toContain(JSON.stringify({ Ref: bucketId }));
    const puts = s3.find((r) => r[1] === 'PutRequests');
    expect(puts).toContain('FilterId');
    expect(puts).toContain('EntireBucket');
  });

  it('explains every alarm and its first step in a text widget', () => {
    const text = dashboard.widgets
      .filter((w) => w.type === 'text')
      .map((w) => w.properties.markdown as string)
      .join('\n');
    for (const [key, entry] of Object.entries(ALARM_RUNBOOK).filter(([k]) => !ESTIMATE_ALARMS.includes(k as AlarmKey))) {
      expect(text).toContain(key);
      expect(text).toContain(entry.meaning.replace(/\|/g, '\\|'));
      expect(text).toContain(entry.firstStep.replace(/\|/g, '\\|'));
    }
  });

  it('shows the status of every alarm', () => {
    const status = dashboard.widgets.find((w) => w.type === 'alarm');
    expect((status?.properties.alarms as unknown[]).length).toBe(Object.keys(ALARM_RUNBOOK).length - ESTIMATE_ALARMS.length);
    expect(dashboardText.length).toBeGreaterThan(0);
  });
});
