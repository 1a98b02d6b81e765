import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { KEY_USE_SID } from '../../lib/encryption';
import { PipelineStack, type PipelineStackProps } from '../../lib/pipeline-stack';
import { FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING, asArray, examplePipeline, policyStatementsOf } from './fixtures';

type Json = unknown;
type Resources = Record<string, { Type: string; Properties?: Record<string, Json> }>;

const GIVEN_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BASE = { specJson: FRAUD_SPEC_JSON, modelJson: FRAUD_MODEL_JSON, pipelineName: 'fraud' } as const;

interface Synthesized {
  readonly stack: PipelineStack;
  readonly template: Template;
  readonly resources: Resources;
}

let keyed: Synthesized;
let placed: Synthesized;
let both: Synthesized;
let egressVpc: ec2.Vpc;

function synth(stack: PipelineStack): Synthesized {
  const template = Template.fromStack(stack);
  return { stack, template, resources: template.toJSON().Resources as Resources };
}

beforeAll(() => {
  // One app, each configuration synthesized once: a new key; a new VPC; a given key ARN with a VPC whose private
  // subnets have a NAT route (so no endpoints by default).
  const app = new App({ context: NO_BUNDLING });
  egressVpc = new ec2.Vpc(new Stack(app, 'Net'), 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ],
  });
  // Every stack is built before the first synthesis: the app's tree cannot change after it.
  const stacks = [
    new PipelineStack(app, 'Keyed', { ...BASE, encryption: {} }),
    new PipelineStack(app, 'Placed', { ...BASE, network: {} }),
    new PipelineStack(app, 'Both', { ...BASE, encryption: { keyArn: GIVEN_KEY_ARN }, network: { vpc: egressVpc } }),
  ] as const;
  [keyed, placed, both] = stacks.map(synth) as [Synthesized, Synthesized, Synthesized];
}, 120_000);

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);

/** Logical id of the pipeline key (not the alarm topic's). */
function pipelineKeyId(s: Synthesized): string {
  const key = s.stack.encryptionKey as kms.Key;
  return logicalId(s.stack, key);
}

/** Every role of the stack's functions, by a short name. */
function functionRoles(s: Synthesized): Record<string, string> {
  const { stack } = s;
  const roleOf = (fn: { role?: { node: { defaultChild?: unknown } } }): string => logicalId(stack, fn.role!);
  return {
    consumer: roleOf(stack.consumer.function),
    idleTick: roleOf(stack.idleShardTick!.function),
    labels: roleOf(stack.labelsConsumer!.function),
    serving: roleOf(stack.serving.function),
    backfill: roleOf(stack.backfill.function),
    stateMachine: logicalId(stack, stack.backfill.stateMachine.role as unknown as { node: { defaultChild?: unknown } }),
  };
}

function kmsActionsOf(s: Synthesized, roleId: string): string[] {
  const actions = policyStatementsOf(s.template, roleId)
    .filter((st) => asArray(st.Action as string | string[]).some((a) => a.startsWith('kms:')))
    .flatMap((st) => asArray(st.Action as string | string[]));
  return [...new Set(actions)].sort();
}

/** Everything a KMS statement of a role points at. */
function kmsResourcesOf(s: Synthesized, roleId: string): Json[] {
  return policyStatementsOf(s.template, roleId)
    .filter((st) => asArray(st.Action as string | string[]).some((a) => a.startsWith('kms:')))
    .flatMap((st) => asArray(st.Resource));
}

function nagFindings(stack: Stack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack.validateScope(stack).violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
  );
}

describe('default: no customer-managed key, no VPC', () => {
  it('has only the alarm topic key, and no table, stream, queue or bucket names a key', () => {
    const { stack, template } = examplePipeline();
    const resources = template.toJSON().Resources as Resources;
    expect(stack.encryptionKey).toBeUndefined();
    expect(ofType(resources, 'AWS::KMS::Key').map(([id]) => id)).toEqual([logicalId(stack, stack.monitoring.alarmTopic.masterKey as kms.Key)]);
    for (const [, t] of ofType(resources, 'AWS::DynamoDB::Table')) expect(t.Properties?.SSESpecification).toEqual({ SSEEnabled: true });
    for (const [, s] of ofType(resources, 'AWS::Kinesis::Stream')) expect(s.Properties?.StreamEncryption).toEqual({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
    for (const [, q] of ofType(resources, 'AWS::SQS::Queue')) {
      expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
      expect(q.Properties?.KmsMasterKeyId).toBeUndefined();
    }
    for (const [, b] of ofType(resources, 'AWS::S3::Bucket')) {
      expect(b.Properties?.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    }
  });

  it('grants no role any KMS action, and places no function in a VPC', () => {
    const { template } = examplePipeline();
    const resources = template.toJSON().Resources as Resources;
    for (const [id, p] of ofType(resources, 'AWS::IAM::Policy')) {
      const actions = (p.Properties?.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement.flatMap((st) => asArray(st.Action));
      expect(actions.filter((a) => a.startsWith('kms:') || a.startsWith('ec2:')), id).toEqual([]);
    }
    for (const [id, f] of ofType(resources, 'AWS::Lambda::Function')) expect(f.Properties?.VpcConfig, id).toBeUndefined();
    expect(ofType(resources, 'AWS::EC2::VPCEndpoint')).toEqual([]);
  });
});

describe('with a new customer-managed key', () => {
  it('creates one key besides the alarm topic key, rotated yearly and kept with the stack', () => {
    const keys = ofType(keyed.resources, 'AWS::KMS::Key');
    expect(keys).toHaveLength(2);
    const key = keyed.resources[pipelineKeyId(keyed)];
    expect(key?.Properties?.EnableKeyRotation).toBe(true);
    expect((key as unknown as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
  });

  it('encrypts every table, stream, queue and data bucket with it (bucket keys on)', () => {
    const keyArn = { 'Fn::GetAtt': [pipelineKeyId(keyed), 'Arn'] };
    const tables = ofType(keyed.resources, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(2);
    for (const [, t] of tables) expect(t.Properties?.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn });
    const streams = ofType(keyed.resources, 'AWS::Kinesis::Stream');
    expect(streams).toHaveLength(3);
    for (const [, s] of streams) expect(s.Properties?.StreamEncryption).toEqual({ EncryptionType: 'KMS', KeyId: keyArn });
    const queues = ofType(keyed.resources, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(2);
    for (const [, q] of queues) {
      expect(q.Properties?.KmsMasterKeyId).toEqual(keyArn);
      expect(q.Properties?.SqsManagedSseEnabled).toBeUndefined();
    }
    const { stack } = keyed;
    const byId = new Map(ofType(keyed.resources, 'AWS::S3::Bucket'));
    for (const bucket of [stack.finals.bucket, stack.archive.bucket]) {
      expect(byId.get(logicalId(stack, bucket))?.Properties?.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }],
      });
    }
    // Server access log delivery writes with SSE-S3 only.
    expect(byId.get(logicalId(stack, stack.finals.accessLogsBucket))?.Properties?.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('grants each function role exactly the key actions of its uses, on the key only', () => {
    const roles = functionRoles(keyed);
    expect(Object.fromEntries(Object.entries(roles).map(([name, id]) => [name, kmsActionsOf(keyed, id)]))).toEqual({
      // State table reads and writes, puts to the buckets, sends to the queues, reads of the stream; with scoring
      // puts to the predictions stream.
      consumer: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      idleTick: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      labels: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      serving: ['kms:Decrypt'],
      backfill: ['kms:Decrypt', 'kms:GenerateDataKey'],
      stateMachine: [],
    });
    const keyArn = { 'Fn::GetAtt': [pipelineKeyId(keyed), 'Arn'] };
    for (const id of Object.values(roles)) for (const r of kmsResourcesOf(keyed, id)) expect(r).toEqual(keyArn);
    expect(policyStatementsOf(keyed.template, roles.serving).find((st) => st.Sid === KEY_USE_SID)?.Action).toBe('kms:Decrypt');
  });

  it('lets the event source mappings send to the encrypted on-failure queue without wildcard key actions', () => {
    const { stack } = keyed;
    const onFailure = { 'Fn::GetAtt': [logicalId(stack, stack.queues.onFailureQueue), 'Arn'] };
    const roles = functionRoles(keyed);
    for (const role of [roles.consumer, roles.labels] as string[]) {
      const statements = policyStatementsOf(keyed.template, role);
      expect(statements).toContainEqual(
        expect.objectContaining({ Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Resource: onFailure }),
      );
      const kmsActions = kmsActionsOf(keyed, role);
      expect(kmsActions).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
      expect(kmsActions.filter((a) => a.includes('*'))).toEqual([]);
    }
  });

  it('passes cdk-nag (the customer key on streams is acknowledged with its reason)', () => {
    expect(nagFindings(keyed.stack)).toEqual([]);
  });
});

describe('in a new VPC', () => {
  it('places every function in the isolated subnets with the functions\' security group', () => {
    const { stack, resources } = placed;
    const functions = ofType(resources, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(5);
    const sg = { 'Fn::GetAtt': [logicalId(stack, stack.network!.securityGroup), 'GroupId'] };
    const subnets = stack.network!.vpc.isolatedSubnets.map((s) => ({ Ref: logicalId(stack, s) }));
    expect(subnets).toHaveLength(2);
    for (const [id, f] of functions) expect(f.Properties?.VpcConfig, id).toEqual({ SecurityGroupIds: [sg], SubnetIds: subnets });
  });

  it('creates the gateway endpoints (S3, DynamoDB) and the interface endpoints (SQS, Kinesis) the functions call', () => {
    const endpoints = ofType(placed.resources, 'AWS::EC2::VPCEndpoint').map(([, e]) => {
      const name = JSON.stringify(e.Properties?.ServiceName).match(/"\.([a-z0-9-]+)"/)?.[1];
      return `${String(e.Properties?.VpcEndpointType)} ${name}`;
    });
    expect(endpoints.sort()).toEqual(['Gateway dynamodb', 'Gateway s3', 'Interface kinesis-streams', 'Interface sqs']);
    for (const [, e] of ofType(placed.resources, 'AWS::EC2::VPCEndpoint').filter(([, e]) => e.Properties?.VpcEndpointType === 'Interface')) {
      expect(e.Properties?.PrivateDnsEnabled).toBe(true);
    }
  });

  it('lets the functions out on HTTPS only and nothing in; the endpoints in from the functions only', () => {
    const { stack, template } = placed;
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Feature pipeline functions: HTTPS to AWS service endpoints only, no inbound traffic',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'HTTPS to AWS service endpoints' }],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [logicalId(stack, stack.network!.securityGroup), 'GroupId'] },
    });
    expect(ofType(placed.resources, 'AWS::EC2::NatGateway')).toEqual([]);
  });

  it('lets each function role manage its network interfaces, and leaves encryption as by default', () => {
    const roles = functionRoles(placed);
    for (const [name, id] of Object.entries(roles)) {
      const hasEni = policyStatementsOf(placed.template, id).some((st) => st.Sid === 'VpcNetworkInterfaces');
      expect(hasEni, name).toBe(name !== 'stateMachine');
    }
    expect(ofType(placed.resources, 'AWS::KMS::Key')).toHaveLength(1);
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(placed.stack)).toEqual([]);
  });
});

describe('with a given key ARN and a VPC with NAT', () => {
  it('uses the given key everywhere and creates none', () => {
    expect(ofType(both.resources, 'AWS::KMS::Key')).toHaveLength(1);
    for (const [, t] of ofType(both.resources, 'AWS::DynamoDB::Table')) expect((t.Properties?.SSESpecification as { KMSMasterKeyId: string }).KMSMasterKeyId).toBe(GIVEN_KEY_ARN);
    for (const [, s] of ofType(both.resources, 'AWS::Kinesis::Stream')) expect((s.Properties?.StreamEncryption as { KeyId: string }).KeyId).toBe(GIVEN_KEY_ARN);
    for (const [, q] of ofType(both.resources, 'AWS::SQS::Queue')) expect(q.Properties?.KmsMasterKeyId).toBe(GIVEN_KEY_ARN);
    const granted = Object.values(functionRoles(both)).flatMap((id) => kmsResourcesOf(both, id));
    expect(granted.length).toBeGreaterThan(0);
    for (const r of granted) expect(r).toBe(GIVEN_KEY_ARN);
  });

  it('runs the functions in the private subnets and creates no endpoint (the subnets route to the internet)', () => {
    expect(both.stack.network!.endpoints).toBe(false);
    expect(ofType(both.resources, 'AWS::EC2::VPCEndpoint')).toEqual([]);
    for (const [id, f] of ofType(both.resources, 'AWS::Lambda::Function')) {
      expect((f.Properties?.VpcConfig as { SubnetIds: Json[] }).SubnetIds, id).toHaveLength(egressVpc.privateSubnets.length);
    }
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(both.stack)).toEqual([]);
  });
});

describe('refused combinations', () => {
  const refuse = (props: Partial<PipelineStackProps>, message: RegExp): void => {
    const app = new App({ context: NO_BUNDLING });
    let error: unknown;
    try {
      new PipelineStack(app, 'Refused', { ...BASE, ...props });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('PipelinePropsError');
    expect((error as Error).message).toMatch(message);
  };
  const vpcWith = (...types: ec2.SubnetType[]): ec2.Vpc => {
    const stack = new Stack(new App(), 'Net');
    return new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: types.includes(ec2.SubnetType.PRIVATE_WITH_EGRESS) ? 1 : 0,
      subnetConfiguration: types.map((subnetType) => ({ name: subnetType, subnetType })),
    });
  };

  it('a VPC with public subnets only', () => {
    refuse({ network: { vpc: vpcWith(ec2.SubnetType.PUBLIC) } }, /^PipelineStack: network\.vpc has no private or isolated subnets/);
  });

  it('a subnet type the VPC does not have', () => {
    refuse(
      { network: { vpc: vpcWith(ec2.SubnetType.PRIVATE_ISOLATED), subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } },
      /^PipelineStack: network\.subnets selects no subnet of network\.vpc/,
    );
  });

  it('public subnets', () => {
    refuse(
      { network: { vpc: vpcWith(ec2.SubnetType.PUBLIC, ec2.SubnetType.PRIVATE_WITH_EGRESS), subnets: { subnetType: ec2.SubnetType.PUBLIC } } },
      /^PipelineStack: network\.subnets must not select PUBLIC subnets/,
    );
  });

  it('a subnet selection without a VPC', () => {
    refuse({ network: { subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } } }, /^PipelineStack: network\.subnets needs network\.vpc/);
  });

  it('both a key and a key ARN', () => {
    const key = kms.Key.fromKeyArn(new Stack(new App(), 'Keys'), 'Key', GIVEN_KEY_ARN);
    refuse({ encryption: { key, keyArn: GIVEN_KEY_ARN } }, /^PipelineStack: encryption\.key and encryption\.keyArn are exclusive/);
  });

  it('an alias ARN for the key', () => {
    refuse({ encryption: { keyArn: 'arn:aws:kms:us-east-1:111122223333:alias/pipeline' } }, /^PipelineStack: encryption\.keyArn must be the ARN of a KMS key/);
  });
});
