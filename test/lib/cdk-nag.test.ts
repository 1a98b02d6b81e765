import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PipelineStack } from '../../lib/pipeline-stack';
import { FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING } from './fixtures';

let app: App;

beforeAll(() => {
  app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  // With an email subscription, so the subscription's finding is covered too.
  new PipelineStack(app, 'NagPipeline', {
    specJson: FRAUD_SPEC_JSON,
    modelJson: FRAUD_MODEL_JSON,
    pipelineName: 'fraud',
    monitoring: { alarmEmail: 'oncall@example.com' },
  });
  // A development stack too: its buckets are emptied by a custom resource on deletion.
  new PipelineStack(app, 'NagDevPipeline', {
    specJson: FRAUD_SPEC_JSON,
    modelJson: FRAUD_MODEL_JSON,
    pipelineName: 'fraud',
    removalPolicy: RemovalPolicy.DESTROY,
  });
});

/** Acknowledged rule ids with their reasons, by construct path. */
function acknowledgments(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  const out: Array<{ path: string; id: string; reason: string }> = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return out;
}

describe('cdk-nag', () => {
  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ] as const)('%s reports no unacknowledged finding, error or warning', (_name, pack) => {
    const report = pack().validateScope(app);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('would report a finding (the check above is not vacuous)', () => {
    const other = new App();
    new sqs.Queue(new Stack(other, 'Plain'), 'Queue');
    const rules = new AwsSolutionsChecks().validateScope(other).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('synthesizes with both packs registered (synthesis fails on any error)', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledges only on resources, never on the stack, each with a reason', () => {
    const acks = acknowledgments(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path.split('/').length, ack.path).toBeGreaterThan(2);
      expect(ack.reason.length, ack.id).toBeGreaterThan(30);
    }
    const of = (stack: string) => acks.filter((a) => a.path.startsWith(`${stack}/`)).map((a) => `${a.path.split('/').slice(1).join('/')} ${a.id}`).sort();
    expect(of('NagDevPipeline')).toEqual(of('NagPipeline').filter((a) => !a.startsWith('Monitoring/AlarmEmail')));
    expect(of('NagPipeline')).toEqual(
      [
        'Backfill/Function/Resource AwsSolutions-L1',
        'Backfill/Function/Resource Serverless-LambdaDLQ',
        'Backfill/Function/Resource Serverless-LambdaLatestVersion',
        'Backfill/Function/Resource Serverless-LambdaTracing',
        'Backfill/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<ArchiveBucket49F1AC64.Arn>/archive/fraud/*]',
        'Backfill/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<ArchiveBucket49F1AC64.Arn>/backfill/fraud/*]',
        'Backfill/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<ArchiveBucket49F1AC64.Arn>/backfill-work/fraud/*]',
        'Backfill/StateMachine/DistributedMapPolicy/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"BackfillStateMachine395F6B27"}]}]}/*:*]',
        'Backfill/StateMachine/DistributedMapPolicy/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"BackfillStateMachine395F6B27"}]}]}:*]',
        'Backfill/StateMachine/Resource AwsSolutions-SF1',
        'Backfill/StateMachine/Resource AwsSolutions-SF2',
        'Backfill/StateMachine/Resource Serverless-StepFunctionStateMachineXray',
        'Backfill/StateMachine/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<BackfillFunction19A2381B.Arn>:*]',
        'Consumer/Function/Resource AwsSolutions-L1',
        'Consumer/Function/Resource Serverless-LambdaDLQ',
        'Consumer/Function/Resource Serverless-LambdaLatestVersion',
        'Consumer/Function/Resource Serverless-LambdaTracing',
        'Consumer/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<ArchiveBucket49F1AC64.Arn>/archive/fraud/*]',
        'Consumer/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/corrections/fraud/*]',
        'Consumer/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/dead-letter-payloads/fraud/*]',
        'Consumer/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/finals/fraud/*]',
        'Consumer/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/firings/fraud/*]',
        'Finals/AccessLogs/Resource AwsSolutions-S1',
        'IdleShards/Function/Resource AwsSolutions-L1',
        'IdleShards/Function/Resource Serverless-LambdaDLQ',
        'IdleShards/Function/Resource Serverless-LambdaLatestVersion',
        'IdleShards/Function/Resource Serverless-LambdaTracing',
        'IdleShards/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/corrections/fraud/*]',
        'IdleShards/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/dead-letter-payloads/fraud/*]',
        'IdleShards/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/finals/fraud/*]',
        'IdleShards/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<FinalsBucket02D98AFB.Arn>/firings/fraud/*]',
        'IdleShards/Schedule/Resource Serverless-EventBusDLQ',
        'LabelsConsumer/Function/Resource AwsSolutions-L1',
        'LabelsConsumer/Function/Resource Serverless-LambdaDLQ',
        'LabelsConsumer/Function/Resource Serverless-LambdaLatestVersion',
        'LabelsConsumer/Function/Resource Serverless-LambdaTracing',
        'Serving/Function/Resource AwsSolutions-L1',
        'Serving/Function/Resource Serverless-LambdaDLQ',
        'Serving/Function/Resource Serverless-LambdaLatestVersion',
        'Serving/Function/Resource Serverless-LambdaTracing',
        'Monitoring/AlarmEmail/Resource Serverless-SNSRedrivePolicy',
        'Queues/DeadLetterQueue/Resource AwsSolutions-SQS3',
        'Queues/DeadLetterQueue/Resource Serverless-SQSRedrivePolicy',
        'Queues/OnFailureQueue/Resource AwsSolutions-SQS3',
        'Queues/OnFailureQueue/Resource Serverless-SQSRedrivePolicy',
      ].sort(),
    );
  });
});
