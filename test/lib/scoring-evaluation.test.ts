/**
 * The example spec's stack with its scoring and evaluation sections: the predictions table and stream, the
 * consumer's scoring environment and grants, the labels stream and consumer with its event source mapping, the
 * evaluation alarms with thresholds from the spec, and the dashboard rows. Least privilege is checked statement
 * by statement.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { App, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../lambda/contract/metric-names';
import {
  CONSUMER_ENV,
  CONSUMER_PREDICTIONS_STREAM_ACTIONS,
  CONSUMER_TABLE_ACTIONS,
  LABELS_ENV,
  LABELS_TABLE_ACTIONS,
  PREDICTIONS_TABLE,
  createTableInput,
} from '../../lambda/contract/resources';
import { parseSpecJson } from '../../lambda/core/spec';
import { CONSUMER_PREDICTIONS_TABLE_ACTIONS, PipelineConsumer } from '../../lib/consumer';
import { PipelinePropsError } from '../../lib/errors';
import { FinalsBucket } from '../../lib/finals-bucket';
import { ALARM_RUNBOOK, type AlarmKey, ESTIMATE_ALARMS, EVALUATION_ALARMS, validateMonitoringOptions } from '../../lib/monitoring';
import { PipelineStack } from '../../lib/pipeline-stack';
import { PredictionStore } from '../../lib/predictions';
import { PipelineQueues } from '../../lib/queues';
import { EventStream } from '../../lib/stream';
import { PipelineTables } from '../../lib/tables';
import { type Built, FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING, allStatements, asArray, buildPipeline, flattenCfnString, policyStatementsOf, resourceTarget } from './fixtures';

/** The example spec with its own evaluation thresholds, so the alarms can be seen to take them from the spec. */
const TUNED_SPEC_JSON = JSON.stringify({
  ...(JSON.parse(FRAUD_SPEC_JSON) as { evaluation: object }),
  evaluation: {
    ...(JSON.parse(FRAUD_SPEC_JSON) as { evaluation: object }).evaluation,
    minPrecision: 0.7,
    minRecall: 0.35,
    maxPsi: 0.25,
    maxFeaturePsi: 0.3,
    maxFeatureEmptyShare: 0.4,
    minEstimatedPrecision: 0.6,
    minEstimatedRocAuc: 0.75,
  },
});

let built: Built;
/** A stack tuned every way this file checks: thresholds from the spec, DESTROY, labels consumer and stream props. */
let tuned: Built;
type Id = 'predictionsTable' | 'predictionsStream' | 'labelsStream' | 'labelsFunction' | 'labelsRole' | 'labelsLogGroup' | 'consumer' | 'consumerRole' | 'stateTable' | 'ingest' | 'deadLetterQueue' | 'onFailureQueue';
let ids: Record<Id, string>;
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

beforeAll(() => {
  // Bundles all three functions for real, the labels consumer included.
  built = buildPipeline({}, { bundle: true });
  tuned = buildPipeline({
    specJson: TUNED_SPEC_JSON,
    removalPolicy: RemovalPolicy.DESTROY,
    labels: { consumer: { memorySize: 256, batchSize: 50, retryAttempts: 2 }, stream: { retentionPeriod: Duration.days(14) } },
  });
  const { stack } = built;
  const id = (c: { node: { defaultChild?: unknown } } | undefined): string => {
    if (c === undefined) throw new Error('construct missing');
    return stack.getLogicalId(c.node.defaultChild as CfnElement);
  };
  ids = {
    predictionsTable: id(stack.predictions?.table),
    predictionsStream: id(stack.predictions?.stream),
    labelsStream: id(stack.labelsStream?.stream),
    labelsFunction: id(stack.labelsConsumer?.function),
    labelsRole: id(stack.labelsConsumer?.role),
    labelsLogGroup: id(stack.labelsConsumer?.logGroup),
    consumer: id(stack.consumer.function),
    consumerRole: id(stack.consumer.role),
    stateTable: id(stack.tables.stateTable),
    ingest: id(stack.eventStream.stream),
    deadLetterQueue: id(stack.queues.deadLetterQueue),
    onFailureQueue: id(stack.queues.onFailureQueue),
  };
  // Four functions bundled with esbuild: on a busy two-core machine this takes more than the default minute.
}, 180_000);

const resource = (logicalId: string) => built.template.toJSON().Resources[logicalId] as { Type: string; DeletionPolicy?: string; Properties: Record<string, unknown> };
const envOf = (logicalId: string) => (resource(logicalId).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

/** Actions a role's policies allow, by the logical id of the resource each names (ARN patterns included). */
function actionsByTarget(roleId: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const st of policyStatementsOf(built.template, roleId)) {
    expect(st.Effect).toBe('Allow');
    for (const res of asArray(st.Resource)) {
      const target = resourceTarget(res);
      expect(target, JSON.stringify(st)).toBeDefined();
      const list = out.get(target as string) ?? [];
      list.push(...asArray(st.Action as string | string[]));
      out.set(target as string, [...new Set(list)].sort());
    }
  }
  return out;
}

describe('predictions table and stream', () => {
  it('the table: keys from the contract, TTL, PITR, encrypted, on demand, retained like the state table', () => {
    const table = resource(ids.predictionsTable);
    const expected = createTableInput(PREDICTIONS_TABLE, 'unused');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      KeySchema: expected.KeySchema,
      AttributeDefinitions: expected.AttributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: PREDICTIONS_TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    built.template.resourceCountIs('AWS::DynamoDB::Table', 2);
  });

  it('three streams (ingest, predictions, labels), each encrypted with the AWS managed Kinesis key', () => {
    const streams = built.template.findResources('AWS::Kinesis::Stream');
    expect(Object.keys(streams).sort()).toEqual([ids.ingest, ids.predictionsStream, ids.labelsStream].sort());
    for (const s of Object.values(streams)) expect(s.Properties.StreamEncryption).toEqual({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
  });

  it('destroys the predictions table with the stack only when asked', () => {
    const { stack, template } = tuned;
    const logicalId = stack.getLogicalId(stack.predictions?.table.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[logicalId].DeletionPolicy).toBe('Delete');
  });
});

describe('consumer with scoring', () => {
  it('receives the checked model document and the predictions table and stream', () => {
    const vars = envOf(ids.consumer);
    for (const name of Object.values(CONSUMER_ENV)) expect(vars, name).toHaveProperty(name);
    expect(JSON.parse(vars[CONSUMER_ENV.modelDocument] as string)).toEqual(JSON.parse(FRAUD_MODEL_JSON));
    expect(vars[CONSUMER_ENV.modelDocument]).not.toContain('\n');
    expect(vars[CONSUMER_ENV.predictionsTableName]).toEqual({ Ref: ids.predictionsTable });
    expect(vars[CONSUMER_ENV.predictionsStreamName]).toEqual({ Ref: ids.predictionsStream });
    expect(JSON.parse(vars[CONSUMER_ENV.spec] as string)).toEqual(parseSpecJson(FRAUD_SPEC_JSON));
  });

  it('may put, read and update prediction items, put records to the predictions stream, and nothing more there', () => {
    const byTarget = actionsByTarget(ids.consumerRole);
    expect(byTarget.get(ids.predictionsTable)).toEqual([...CONSUMER_PREDICTIONS_TABLE_ACTIONS].sort());
    expect(byTarget.get(ids.predictionsTable)).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    for (const a of CONSUMER_PREDICTIONS_TABLE_ACTIONS) expect(CONSUMER_TABLE_ACTIONS).toContain(a);
    expect(byTarget.get(ids.predictionsStream)).toEqual([...CONSUMER_PREDICTIONS_STREAM_ACTIONS]);
    expect(byTarget.get(ids.stateTable)).toEqual([...CONSUMER_TABLE_ACTIONS].sort());
    expect(byTarget.has(ids.labelsStream)).toBe(false);
    // The predictions table's actions are granted on that table's ARN alone (no index, no other table).
    const statements = policyStatementsOf(built.template, ids.consumerRole).filter((s) => asArray(s.Resource).some((r) => resourceTarget(r) === ids.predictionsTable));
    expect(statements.flatMap((s) => asArray(s.Resource))).toEqual([arnOf(ids.predictionsTable)]);
  });
});

describe('labels consumer', () => {
  it('is bundled from lambda/handlers/labels.ts like the other functions', () => {
    const assembly = built.app.synth();
    const bundles = readdirSync(assembly.directory)
      .filter((f) => f.startsWith('asset.'))
      .filter((d) => existsSync(path.join(assembly.directory, d, 'index.js')));
    expect(bundles).toHaveLength(5);
    expect(resource(ids.labelsFunction).Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', MemorySize: 512, Timeout: 60 });
  });

  it('receives the spec, the predictions table, the dead-letter queue and its service name', () => {
    const vars = envOf(ids.labelsFunction);
    expect(Object.keys(vars).sort()).toEqual([...Object.values(LABELS_ENV), 'NODE_OPTIONS'].sort());
    expect(JSON.parse(vars[LABELS_ENV.spec] as string)).toEqual(parseSpecJson(FRAUD_SPEC_JSON));
    expect(vars[LABELS_ENV.pipelineName]).toBe('fraud');
    expect(vars[LABELS_ENV.predictionsTableName]).toEqual({ Ref: ids.predictionsTable });
    expect(vars[LABELS_ENV.deadLetterQueueUrl]).toEqual({ Ref: ids.deadLetterQueue });
    expect(vars[LABELS_ENV.serviceName]).toBe('labels-consumer');
    expect(vars[LABELS_ENV.metricsNamespace]).toBe(METRICS_NAMESPACE);
  });

  it('has its own event source mapping on the labels stream: bisect, item failures, bounded retries, the on-failure queue', () => {
    const esms = Object.values(built.template.findResources('AWS::Lambda::EventSourceMapping')).map((r) => r.Properties as Record<string, unknown>);
    expect(esms).toHaveLength(2);
    const labels = esms.filter((p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: ids.labelsFunction }));
    expect(labels).toHaveLength(1);
    expect(labels[0]).toMatchObject({
      EventSourceArn: arnOf(ids.labelsStream),
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: arnOf(ids.onFailureQueue) } },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      ParallelizationFactor: 1,
    });
    const feature = esms.find((p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: ids.consumer }));
    expect(feature?.EventSourceArn).toEqual(arnOf(ids.ingest));
  });

  it('may read and update the predictions table, send to the dead-letter queue, read its stream, and nothing more', () => {
    const byTarget = actionsByTarget(ids.labelsRole);
    expect(byTarget.get(ids.predictionsTable)).toEqual([...LABELS_TABLE_ACTIONS].sort());
    expect(byTarget.get(ids.deadLetterQueue)).toEqual(['sqs:SendMessage']);
    // What the mapping grants itself: its stream's reads and its on-failure destination.
    expect(byTarget.get(ids.labelsStream)).toEqual([
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamConsumer',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'kinesis:ListStreams',
      'kinesis:SubscribeToShard',
    ]);
    // The same reads the feature consumer's mapping takes on the ingest stream, and no write.
    expect(byTarget.get(ids.labelsStream)).toEqual(actionsByTarget(ids.consumerRole).get(ids.ingest));
    expect(byTarget.get(ids.onFailureQueue)).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    expect(byTarget.get(ids.labelsLogGroup)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect([...byTarget.keys()].sort()).toEqual([ids.predictionsTable, ids.deadLetterQueue, ids.labelsStream, ids.onFailureQueue, ids.labelsLogGroup].sort());
    const role = resource(ids.labelsRole);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('refuses concurrent batches per shard (each window keeps one label checkpoint per shard) and bad tuning', () => {
    const build = (consumer: object) => () =>
      new PipelineStack(new App({ context: NO_BUNDLING }), 'Labels', { specJson: FRAUD_SPEC_JSON, modelJson: FRAUD_MODEL_JSON, pipelineName: 'fraud', labels: { consumer } });
    expect(build({ parallelizationFactor: 2 })).toThrow(new PipelinePropsError('LabelsConsumer: parallelizationFactor must be 1 (got 2); each evaluation window keeps one label checkpoint per shard, which concurrent batches of a shard would race on'));
    expect(build({ retryAttempts: -1 })).toThrow(/^LabelsConsumer: retryAttempts must be bounded/);
    expect(build({ batchSize: 0 })).toThrow(/^LabelsConsumer: batchSize must be an integer from 1 to 10000/);
  });

  it('takes its tuning from props', () => {
    const { stack, template } = tuned;
    const fn = stack.getLogicalId(stack.labelsConsumer?.function.node.defaultChild as CfnElement);
    const labelsStream = stack.getLogicalId(stack.labelsStream?.stream.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[fn].Properties.MemorySize).toBe(256);
    expect(template.toJSON().Resources[labelsStream].Properties.RetentionPeriodHours).toBe(336);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: fn }, BatchSize: 50, MaximumRetryAttempts: 2 });
  });
});

describe('least privilege across the stack', () => {
  it('allows no wildcard action anywhere, and every identity statement names a resource of this stack', () => {
    const wildcard = (a: unknown): boolean => a === '*' || (typeof a === 'string' && a.endsWith(':*'));
    const resources = built.template.toJSON().Resources as Record<string, unknown>;
    for (const st of allStatements(built.template)) {
      if (st.Effect === 'Allow') expect(asArray(st.Action as string | string[]).filter(wildcard), JSON.stringify(st)).toEqual([]);
    }
    const policies = Object.values(built.template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(7);
    for (const p of policies) {
      for (const st of (p.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } }).PolicyDocument.Statement) {
        for (const res of asArray(st.Resource)) expect(resources, JSON.stringify(st)).toHaveProperty(resourceTarget(res) as string);
      }
    }
  });

  it('grants predictions table actions to the consumer and the labels consumer only, each on that table alone', () => {
    const holders = Object.values(built.template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p).includes(JSON.stringify(arnOf(ids.predictionsTable))))
      .flatMap((p) => asArray((p.Properties as { Roles: unknown[] }).Roles).map((r) => (r as { Ref: string }).Ref))
      .sort();
    expect(holders).toEqual([ids.consumerRole, ids.labelsRole].sort());
  });
});

describe('evaluation alarms', () => {
  const alarmOf = (b: Built, key: AlarmKey): Record<string, unknown> => {
    const alarm = b.stack.monitoring.alarms[key];
    if (alarm === undefined) throw new Error(`no ${key} alarm`);
    return b.template.toJSON().Resources[b.stack.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties;
  };
  const hourly = (metric: string, stat: string) => ({
    Namespace: METRICS_NAMESPACE,
    MetricName: metric,
    Statistic: stat,
    Dimensions: [{ Name: PIPELINE_DIMENSION, Value: 'fraud' }],
    Period: 3600,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    TreatMissingData: 'notBreaching',
  });

  it('precision and recall below the spec\'s minima, PSI above its maximum, one window enough', () => {
    expect(alarmOf(tuned, 'EvaluationPrecision')).toMatchObject({ ...hourly(MetricName.EvaluationPrecision, 'Minimum'), Threshold: 0.7, ComparisonOperator: 'LessThanThreshold' });
    expect(alarmOf(tuned, 'EvaluationRecall')).toMatchObject({ ...hourly(MetricName.EvaluationRecall, 'Minimum'), Threshold: 0.35, ComparisonOperator: 'LessThanThreshold' });
    expect(alarmOf(tuned, 'EvaluationPsi')).toMatchObject({ ...hourly(MetricName.EvaluationPsi, 'Maximum'), Threshold: 0.25, ComparisonOperator: 'GreaterThanThreshold' });
  });

  it('the spec\'s defaults without thresholds of its own: 0.5, 0.5 and 0.2', () => {
    expect(alarmOf(built, 'EvaluationPrecision').Threshold).toBe(0.5);
    expect(alarmOf(built, 'EvaluationRecall').Threshold).toBe(0.5);
    expect(alarmOf(built, 'EvaluationPsi').Threshold).toBe(0.2);
  });

  it('feature drift above evaluation.maxFeaturePsi and features without a value above maxFeatureEmptyShare, on the largest over features', () => {
    const above = { ComparisonOperator: 'GreaterThanThreshold' };
    expect(alarmOf(tuned, 'EvaluationFeaturePsi')).toMatchObject({ ...hourly(MetricName.EvaluationFeaturePsiMax, 'Maximum'), Threshold: 0.3, ...above });
    expect(alarmOf(tuned, 'EvaluationFeatureEmptyShare')).toMatchObject({ ...hourly(MetricName.EvaluationFeatureEmptyShareMax, 'Maximum'), Threshold: 0.4, ...above });
    // Defaults: PSI 0.25 (the usual convention), half the predictions.
    expect(alarmOf(built, 'EvaluationFeaturePsi').Threshold).toBe(0.25);
    expect(alarmOf(built, 'EvaluationFeatureEmptyShare').Threshold).toBe(0.5);
  });

  it('the estimate before labels below evaluation.minEstimatedPrecision and minEstimatedRocAuc, only when the spec sets them', () => {
    const below = { ComparisonOperator: 'LessThanThreshold' };
    expect(alarmOf(tuned, 'EvaluationEstimatedPrecision')).toMatchObject({ ...hourly(MetricName.EvaluationEstimatedPrecision, 'Minimum'), Threshold: 0.6, ...below });
    expect(alarmOf(tuned, 'EvaluationEstimatedRocAuc')).toMatchObject({ ...hourly(MetricName.EvaluationEstimatedRocAuc, 'Minimum'), Threshold: 0.75, ...below });
    const topic = tuned.stack.getLogicalId(tuned.stack.monitoring.alarmTopic.node.defaultChild as CfnElement);
    for (const key of ESTIMATE_ALARMS) {
      expect(alarmOf(tuned, key).AlarmDescription, key).toContain(ALARM_RUNBOOK[key].firstStep);
      expect(alarmOf(tuned, key).AlarmActions, key).toEqual([{ Ref: topic }]);
      expect(built.stack.monitoring.alarms[key], key).toBeUndefined();
    }
  });

  it('the dashboard draws each new threshold at its alarm\'s own', () => {
    const body = Object.values(tuned.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody;
    const widgets = (JSON.parse(flattenCfnString(body)) as { widgets: Array<{ properties: { title?: string; annotations?: { horizontal?: Array<{ value: number; label: string }> } } }> }).widgets;
    const linesOf = (title: string) => (widgets.find((w) => w.properties.title === title)?.properties.annotations?.horizontal ?? []).map((h) => [h.label, h.value]);
    expect(linesOf('Precision and recall of final windows')).toEqual([['min precision', 0.7], ['min recall', 0.35], ['min estimated precision', 0.6]]);
    expect(linesOf('Score drift (PSI) and positive rate of closed windows')).toEqual([['max PSI', 0.25], ['max feature PSI', 0.3]]);
    expect(linesOf('Threshold-free measures of final windows')).toEqual([['min estimated ROC AUC', 0.75]]);
    expect(linesOf('Share of predictions reading a feature with no value (largest over features)')).toEqual([['max share without a value', 0.4]]);
  });

  it('the labels consumer\'s lag and errors, by its function name, with the consumer\'s thresholds', () => {
    const dims = [{ Name: 'FunctionName', Value: { Ref: ids.labelsFunction } }];
    expect(alarmOf(built, 'LabelsConsumerLag')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Statistic: 'Maximum', Dimensions: dims, Threshold: 60_000, EvaluationPeriods: 3 });
    expect(alarmOf(built, 'LabelsConsumerErrors')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Dimensions: dims, Threshold: 1, Period: 300 });
  });

  it('every evaluation alarm has a runbook entry and notifies the topic', () => {
    const topic = built.stack.getLogicalId(built.stack.monitoring.alarmTopic.node.defaultChild as CfnElement);
    for (const key of EVALUATION_ALARMS) {
      expect(ALARM_RUNBOOK[key].firstStep.length, key).toBeGreaterThan(40);
      expect(alarmOf(built, key).AlarmActions, key).toEqual([{ Ref: topic }]);
      expect(alarmOf(built, key).AlarmDescription, key).toContain(ALARM_RUNBOOK[key].firstStep);
    }
  });

  it('a spec without an evaluation section has none of them', () => {
    const keys = Object.keys(buildPipeline({ specJson: JSON.stringify({ ...JSON.parse(FRAUD_SPEC_JSON), evaluation: undefined }) }).stack.monitoring.alarms);
    expect(keys).toHaveLength(Object.keys(ALARM_RUNBOOK).length - EVALUATION_ALARMS.length - ESTIMATE_ALARMS.length);
    for (const key of [...EVALUATION_ALARMS, ...ESTIMATE_ALARMS]) expect(keys).not.toContain(key);
  });
});

describe('dashboard', () => {
  let widgets: Array<{ type: string; properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: Array<{ value: number; label: string }> }; markdown?: string } }>;
  beforeAll(() => {
    const body = Object.values(built.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody;
    widgets = (JSON.parse(flattenCfnString(body)) as { widgets: typeof widgets }).widgets;
  });
  const widget = (title: string) => {
    const w = widgets.find((x) => x.properties.title === title);
    if (w === undefined) throw new Error(`no widget ${title}`);
    return w.properties;
  };
  /** [metric name, stat] of each metric line of a widget. */
  const lines = (title: string) =>
    (widget(title).metrics ?? []).map((m) => [m.find((x) => typeof x === 'string' && (Object.values(MetricName) as string[]).includes(x)) ?? m[1], (m.at(-1) as { stat?: string }).stat ?? 'Average']);

  it('has a scoring row: predictions, arrival to prediction p50/p99, age of the features scored p50/p99', () => {
    expect(lines('Predictions')).toEqual([[MetricName.Predictions, 'Sum'], [MetricName.PositivePredictions, 'Sum']]);
    expect(lines('Arrival to prediction written (ms)')).toEqual([[MetricName.PredictionLatencyMs, 'p50'], [MetricName.PredictionLatencyMs, 'p99']]);
    expect(lines('Age of the features scored (ms)')).toEqual([[MetricName.ScoringFeatureAgeMs, 'p50'], [MetricName.ScoringFeatureAgeMs, 'p99']]);
  });

  it('has an evaluation row: precision, recall, PSI with its threshold line, positive rate, label delay, labels', () => {
    expect(lines('Precision and recall of final windows')).toEqual([
      [MetricName.EvaluationPrecision, 'Minimum'],
      [MetricName.EvaluationRecall, 'Minimum'],
      [MetricName.EvaluationEstimatedPrecision, 'Minimum'],
      [MetricName.EvaluationEstimatedRecall, 'Minimum'],
    ]);
    const drift = widget('Score drift (PSI) and positive rate of closed windows');
    expect(lines('Score drift (PSI) and positive rate of closed windows')).toEqual([
      [MetricName.EvaluationPsi, 'Maximum'],
      [MetricName.EvaluationPsiProvisional, 'Maximum'],
      [MetricName.EvaluationFeaturePsiMax, 'Maximum'],
      [MetricName.EvaluationPositiveRate, 'Average'],
      [MetricName.EvaluationPositiveRateProvisional, 'Average'],
    ]);
    expect(drift.annotations?.horizontal).toEqual([expect.objectContaining({ value: 0.2, label: 'max PSI' }), expect.objectContaining({ value: 0.25, label: 'max feature PSI' })]);
    expect(lines('Label delay of final windows (ms)').slice(0, 2)).toEqual([[MetricName.LabelDelayP50Ms, 'Maximum'], [MetricName.LabelDelayP99Ms, 'Maximum']]);
    expect(lines('Labels').map(([n]) => n)).toEqual(expect.arrayContaining([MetricName.LabelsJoined, MetricName.LateLabels, MetricName.UnmatchedLabels]));
    const guide = widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown ?? '').join('\n');
    for (const key of EVALUATION_ALARMS) expect(guide).toContain(`| ${key} |`);
  });
});

describe('constructs on their own refuse what the stack never passes', () => {
  it('monitoring: evaluation needs scoring and the labels consumer, and the labels consumer needs evaluation', () => {
    const thresholds = { minPrecision: 0.5, minRecall: 0.5, maxPsi: 0.2 };
    const labelsConsumer = built.stack.labelsConsumer?.function;
    expect(() => validateMonitoringOptions({ evaluation: thresholds, scoring: true })).toThrow('PipelineMonitoring: evaluation needs scoring: true and the labelsConsumer');
    expect(() => validateMonitoringOptions({ evaluation: thresholds, labelsConsumer })).toThrow('PipelineMonitoring: evaluation needs scoring: true and the labelsConsumer');
    expect(() => validateMonitoringOptions({ labelsConsumer })).toThrow('PipelineMonitoring: labelsConsumer is only watched with evaluation thresholds');
    expect(() => validateMonitoringOptions({ evaluation: thresholds, scoring: true, labelsConsumer })).not.toThrow();
  });

  it('consumer: an empty model document', () => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'Bare');
    const predictions = new PredictionStore(stack, 'Predictions');
    const queues = new PipelineQueues(stack, 'Queues');
    expect(
      () =>
        new PipelineConsumer(stack, 'Consumer', {
          pipelineName: 'fraud',
          specJson: FRAUD_SPEC_JSON,
          stream: new EventStream(stack, 'Ingest').stream,
          stateTable: new PipelineTables(stack, 'Store').stateTable,
          finalsBucket: new FinalsBucket(stack, 'Finals'),
          deadLetterQueue: queues.deadLetterQueue,
          onFailureQueue: queues.onFailureQueue,
          scoring: { modelJson: ' ', predictionsTable: predictions.table, predictionsStream: predictions.stream },
        }),
    ).toThrow(new PipelinePropsError('PipelineConsumer: scoring.modelJson must be the model document (JSON), not empty'));
  });
});
