import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type CfnElement, RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../lambda/contract/metric-names';
import { parseSpecJson } from '../../lambda/core/spec';
import {
  CONSUMER_ENV,
  CONSUMER_TABLE_ACTIONS,
  DEAD_LETTER_QUEUE,
  ON_FAILURE_QUEUE,
  STATE_TABLE,
  createQueueInput,
  createTableInput,
} from '../../lambda/contract/resources';
import { type Built, FEATURES_ONLY, FEATURES_ONLY_SPEC_JSON, allStatements, asArray, buildPipeline, policyStatementsOf, resourceTarget } from './fixtures';

let built: Built;
let ids: Record<'stream' | 'stateTable' | 'deadLetterQueue' | 'onFailureQueue' | 'logGroup' | 'role' | 'function', string>;

beforeAll(() => {
  // The features-only stack (test/lib/scoring-evaluation.test.ts covers scoring and evaluation). The one
  // synthesis of this file that bundles the consumer for real.
  built = buildPipeline(FEATURES_ONLY, { bundle: true });
  const { stack } = built;
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);
  ids = {
    stream: id(stack.eventStream.stream),
    stateTable: id(stack.tables.stateTable),
    deadLetterQueue: id(stack.queues.deadLetterQueue),
    onFailureQueue: id(stack.queues.onFailureQueue),
    logGroup: id(stack.consumer.logGroup),
    role: id(stack.consumer.role),
    function: id(stack.consumer.function),
  };
  // Three functions bundled with esbuild (consumer, serving, idle-shard tick): more than a minute on a busy machine.
}, 180_000);

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

describe('event source mapping', () => {
  it('bisects, reports item failures and sends abandoned batches to the on-failure queue', () => {
    built.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(ids.stream),
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: arnOf(ids.onFailureQueue) } },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: 1,
    });
  });

  it('bounds retries and record age', () => {
    const esm = Object.values(built.template.findResources('AWS::Lambda::EventSourceMapping'))[0];
    const { MaximumRetryAttempts, MaximumRecordAgeInSeconds } = esm?.Properties as Record<string, number>;
    expect(MaximumRetryAttempts).toBe(10);
    expect(MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(MaximumRecordAgeInSeconds).toBe(86_400);
  });

  it('passes tuning props through', () => {
    const { template } = buildPipeline({
      ...FEATURES_ONLY,
      consumer: { batchSize: 100, retryAttempts: 3, maxRecordAgeSeconds: -1, parallelizationFactor: 4 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [CONSUMER_ENV.parallelizationFactor]: '4' }) },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 100,
      MaximumRetryAttempts: 3,
      ParallelizationFactor: 4,
      MaximumRecordAgeInSeconds: Match.absent(),
    });
  });
});

describe('consumer function', () => {
  it('runs Node.js 22 on arm64 with the documented memory and timeout', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 60,
      Handler: 'index.handler',
      LoggingConfig: { LogGroup: { Ref: ids.logGroup } },
    });
    built.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('receives the validated spec and every variable of the handler contract', () => {
    const fn = built.template.toJSON().Resources[ids.function];
    const vars = (fn?.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    const scoringOnly: string[] = [CONSUMER_ENV.modelDocument, CONSUMER_ENV.predictionsTableName, CONSUMER_ENV.predictionsStreamName];
    for (const name of Object.values(CONSUMER_ENV)) {
      if (scoringOnly.includes(name)) expect(vars, name).not.toHaveProperty(name);
      else expect(vars, name).toHaveProperty(name);
    }
    expect(JSON.parse(vars[CONSUMER_ENV.spec] as string)).toEqual(parseSpecJson(FEATURES_ONLY_SPEC_JSON));
    expect(vars[CONSUMER_ENV.pipelineName]).toBe('fraud');
    expect(vars[CONSUMER_ENV.metricsNamespace]).toBe(METRICS_NAMESPACE);
    expect(vars[CONSUMER_ENV.stateTableName]).toEqual({ Ref: ids.stateTable });
    expect(vars[CONSUMER_ENV.finalsBucketName]).toEqual({ Ref: built.stack.getLogicalId(built.stack.finals.bucket.node.defaultChild as CfnElement) });
    expect(vars[CONSUMER_ENV.deadLetterQueueUrl]).toEqual({ Ref: ids.deadLetterQueue });
    expect(vars[CONSUMER_ENV.parallelizationFactor]).toBe('1');
  });

  it('is bundled locally into a single minified file with a source map, like the serving function', () => {
    const assembly = built.app.synth();
    const assetDirs = readdirSync(assembly.directory).filter((f) => f.startsWith('asset.'));
    const bundles = assetDirs.map((d) => path.join(assembly.directory, d)).filter((d) => existsSync(path.join(d, 'index.js')));
    // Consumer, serving, the idle-shard tick and the backfill worker.
    expect(bundles).toHaveLength(4);
    for (const bundle of bundles) expect(existsSync(path.join(bundle, 'index.js.map'))).toBe(true);
  });

  it('sets reserved concurrency only when asked', () => {
    // The idle-shard tick always reserves 1 (one tick at a time); the consumer only when asked.
    const reserved = Object.values(built.template.findResources('AWS::Lambda::Function')).filter((f) => (f.Properties as Record<string, unknown>).ReservedConcurrentExecutions !== undefined);
    expect(reserved.map((f) => (f.Properties as Record<string, unknown>).Description)).toEqual([expect.stringMatching(/quiet shards/)]);
    buildPipeline({ ...FEATURES_ONLY, consumer: { reservedConcurrentExecutions: 20 } }).template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 20,
    });
  });
});

describe('encryption', () => {
  it('encrypts the stream with the AWS managed Kinesis key and keeps 7 days by default', () => {
    built.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 168,
      ShardCount: Match.absent(),
    });
  });

  it('encrypts both queues and denies requests without TLS', () => {
    for (const queueId of [ids.deadLetterQueue, ids.onFailureQueue]) {
      const queue = built.template.toJSON().Resources[queueId];
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('encrypts the alarm topic with a rotated key and requires TLS to publish', () => {
    built.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    built.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('tables', () => {
  it('state table: keys from the shared definition, TTL, PITR, SSE, on-demand, retained', () => {
    const table = built.template.toJSON().Resources[ids.stateTable];
    const expected = createTableInput(STATE_TABLE, 'unused');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      KeySchema: expected.KeySchema,
      AttributeDefinitions: expected.AttributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has no feature table: the state table is the only table, and nothing names another', () => {
    built.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const text = JSON.stringify(built.template.toJSON());
    expect(text).not.toContain('FeatureTable');
    expect(text).not.toContain('FEATURE_TABLE_NAME');
    const tableArns = allStatements(built.template)
      .flatMap((st) => asArray(st.Resource))
      .map(resourceTarget)
      .filter((t) => t !== undefined && built.template.toJSON().Resources[t]?.Type === 'AWS::DynamoDB::Table');
    expect(new Set(tableArns)).toEqual(new Set([ids.stateTable]));
  });

  it('is destroyed with the stack only when asked', () => {
    const { template } = buildPipeline({ ...FEATURES_ONLY, removalPolicy: RemovalPolicy.DESTROY });
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(1);
    for (const t of tables) expect(t.DeletionPolicy).toBe('Delete');
  });
});

describe('queues', () => {
  it('dead-letter queue matches the shared definition: FIFO, no content-based dedup, 14 days', () => {
    const props = built.template.toJSON().Resources[ids.deadLetterQueue].Properties;
    const attrs = createQueueInput(DEAD_LETTER_QUEUE, 'x').Attributes;
    expect(props).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
      MessageRetentionPeriod: Number(attrs.MessageRetentionPeriod),
    });
  });

  it('on-failure queue is a standard queue with 14 days retention', () => {
    const props = built.template.toJSON().Resources[ids.onFailureQueue].Properties;
    expect(props.FifoQueue).toBeUndefined();
    expect(props.MessageRetentionPeriod).toBe(ON_FAILURE_QUEUE.retentionSeconds);
  });
});

describe('IAM', () => {
  const wildcardAction = (a: unknown): boolean => a === '*' || (typeof a === 'string' && /^[A-Za-z0-9-]+:\*$/.test(a));

  it('allows no wildcard action anywhere; wildcard denies only refuse non-TLS or pre-TLS-1.2 requests', () => {
    const statements = allStatements(built.template);
    expect(statements.length).toBeGreaterThan(0);
    for (const st of statements) {
      const actions = asArray(st.Action as string | string[]);
      if (st.Effect === 'Allow') {
        expect(actions.filter(wildcardAction), JSON.stringify(st)).toEqual([]);
      } else if (actions.some(wildcardAction)) {
        expect([{ Bool: { 'aws:SecureTransport': 'false' } }, { NumericLessThan: { 's3:TlsVersion': 1.2 } }]).toContainEqual(st.Condition);
      }
    }
  });

  it('scopes every identity policy statement to resources of this stack', () => {
    const resources = built.template.toJSON().Resources as Record<string, unknown>;
    const policies = Object.values(built.template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(6);
    for (const policy of policies) {
      for (const st of (policy.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } }).PolicyDocument.Statement) {
        for (const res of asArray(st.Resource)) {
          const target = resourceTarget(res);
          expect(target, JSON.stringify(st)).toBeDefined();
          expect(resources, JSON.stringify(st)).toHaveProperty(target as string);
        }
      }
    }
  });

  it('grants the consumer exactly its table, queue, stream and log actions', () => {
    const statements = policyStatementsOf(built.template, ids.role);
    const byResource = (logicalId: string) =>
      statements.filter((s) => asArray(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify(arnOf(logicalId))));
    const actionsOn = (logicalId: string) => byResource(logicalId).flatMap((s) => asArray(s.Action as string | string[])).sort();

    expect(actionsOn(ids.stateTable)).toEqual([...CONSUMER_TABLE_ACTIONS].sort());
    expect(actionsOn(ids.deadLetterQueue)).toEqual(['sqs:SendMessage']);
    expect(actionsOn(ids.onFailureQueue)).toContain('sqs:SendMessage');
    // ListShards: a child shard's parents after a split or merge (lambda/adapters/shard-lineage.ts).
    expect(actionsOn(ids.stream)).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards']));
    expect(actionsOn(ids.logGroup)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    const all = statements.flatMap((s) => asArray(s.Action as string | string[]));
    expect(all).not.toContain('cloudwatch:PutMetricData');
    expect(all.filter((a) => a.startsWith('dynamodb:'))).not.toContain('dynamodb:DeleteItem');
  });

  it('uses no AWS managed policy on the consumer role', () => {
    const role = built.template.toJSON().Resources[ids.role];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('outputs', () => {
  it('exports stream, tables, queues and dashboard', () => {
    const outputs = built.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'StreamName',
        'StreamArn',
        'StateTableName',
        'FinalsBucketName',
        'FeaturesUrl',
        'ServingFunctionName',
        'DeadLetterQueueUrl',
        'OnFailureQueueUrl',
        'DashboardUrl',
      ]),
    );
    expect(outputs).not.toHaveProperty('FeatureTableName');
    expect(outputs.StreamArn?.Value).toEqual(arnOf(ids.stream));
    expect(outputs.DeadLetterQueueUrl?.Value).toEqual({ Ref: ids.deadLetterQueue });
    expect(JSON.stringify(outputs.DashboardUrl?.Value)).toContain('#dashboards:name=');
  });
});

describe('stream props', () => {
  it('provisions shards in provisioned mode', () => {
    const { template } = buildPipeline({ ...FEATURES_ONLY, stream: { streamMode: StreamMode.PROVISIONED, shardCount: 4 } });
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 4,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
  });
});

describe('without scoring or evaluation sections', () => {
  it('synthesizes no predictions table or stream, no labels stream or function, no evaluation alarm', () => {
    const t = built.template;
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    t.resourceCountIs('AWS::Kinesis::Stream', 1);
    // Consumer, serving, the idle-shard tick and the backfill worker.
    t.resourceCountIs('AWS::Lambda::Function', 4);
    expect(built.stack.predictions).toBeUndefined();
    expect(built.stack.labelsStream).toBeUndefined();
    expect(built.stack.labelsConsumer).toBeUndefined();
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => (a.Properties as { MetricName?: string }).MetricName);
    expect(alarms.filter((n) => n?.startsWith('Evaluation'))).toEqual([]);
    const outputs = Object.keys(t.toJSON().Outputs as object);
    for (const name of ['PredictionsTableName', 'PredictionsStreamName', 'LabelsStreamName', 'LabelsFunctionName']) expect(outputs).not.toContain(name);
    const text = JSON.stringify(t.toJSON());
    for (const name of ['MODEL_DOCUMENT', 'PREDICTIONS_TABLE_NAME', 'PREDICTIONS_STREAM_NAME', 'kinesis:PutRecords']) expect(text).not.toContain(name);
  });
});
