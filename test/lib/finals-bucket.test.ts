import { type CfnElement, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ResultKind, resultObjectKey } from '../../lambda/adapters/result-objects';
import { CONSUMER_BUCKET_ACTIONS, CONSUMER_ENV, FINALS_OBJECT_PREFIXES } from '../../lambda/contract/resources';
import { type Built, allStatements, asArray, buildPipeline, flattenCfnString, policyStatementsOf, resourceTarget, examplePipeline } from './fixtures';

let built: Built;
let bucketId: string;
let logsId: string;
let consumerRoleId: string;
let servingRoleId: string;

beforeAll(() => {
  built = examplePipeline();
  const id = (c: { node: { defaultChild?: unknown } }): string => built.stack.getLogicalId(c.node.defaultChild as CfnElement);
  bucketId = id(built.stack.finals.bucket);
  logsId = id(built.stack.finals.accessLogsBucket);
  consumerRoleId = id(built.stack.consumer.role);
  servingRoleId = id(built.stack.serving.role);
});

const resource = (logicalId: string) => built.template.toJSON().Resources[logicalId] as { Properties: Record<string, unknown>; DeletionPolicy?: string };

/** Statements of the bucket policy of a bucket. */
function bucketPolicy(logicalId: string): Array<Record<string, unknown>> {
  const policies = Object.values(built.template.findResources('AWS::S3::BucketPolicy')).filter(
    (p) => JSON.stringify((p.Properties as { Bucket: unknown }).Bucket) === JSON.stringify({ Ref: logicalId }),
  );
  expect(policies).toHaveLength(1);
  return (policies[0]?.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } }).PolicyDocument.Statement;
}

/** Statements of a role's policies that name the bucket (itself or objects in it). */
function bucketStatements(roleId: string): Array<Record<string, unknown>> {
  return policyStatementsOf(built.template, roleId).filter((st) => asArray(st.Resource).some((r) => resourceTarget(r) === bucketId));
}

describe('finals bucket', () => {
  it.each([
    ['finals', () => bucketId],
    ['access logs', () => logsId],
  ])('%s: SSE-S3, every public access blocked, ACLs disabled, retained by default', (_n, id) => {
    const b = resource(id());
    expect(b.DeletionPolicy).toBe('Retain');
    expect(b.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it.each([
    ['finals', () => bucketId],
    ['access logs', () => logsId],
  ])('%s: denies every request without TLS, and below TLS 1.2', (_n, id) => {
    const denies = bucketPolicy(id()).filter((st) => st.Effect === 'Deny');
    expect(denies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]),
    );
    for (const st of denies) {
      expect(asArray(st.Resource).map(flattenCfnString).sort()).toEqual(['<ref>', '<ref>/*']);
    }
  });

  it('is unversioned, moves objects of 128 KB and more to Standard-IA after 30 days and never expires them', () => {
    const p = resource(bucketId).Properties;
    expect(p.VersioningConfiguration).toBeUndefined();
    expect(p.LifecycleConfiguration).toEqual({
      TransitionDefaultMinimumObjectSize: 'all_storage_classes_128K',
      Rules: [
        {
          Id: 'finals-to-cheaper-storage',
          Status: 'Enabled',
          Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        },
      ],
    });
  });

  it('takes the lifecycle from props; a DESTROY stack empties and deletes both buckets', () => {
    // One synthesis for both: each takes seconds.
    const { stack, template } = buildPipeline({
      removalPolicy: RemovalPolicy.DESTROY,
      finals: { transitionAfter: Duration.days(7), transitionStorageClass: 'GLACIER_INSTANT_RETRIEVAL', expireAfter: Duration.days(400) },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 7 }], ExpirationInDays: 400 })],
      },
    });
    for (const b of [stack.finals.bucket, stack.finals.accessLogsBucket]) {
      expect(template.toJSON().Resources[stack.getLogicalId(b.node.defaultChild as CfnElement)].DeletionPolicy).toBe('Delete');
    }
    // The stream archive's bucket too.
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 3);
  });

  it('logs server access to the log bucket, which lets only S3 log delivery for this bucket write, and expires logs after 90 days', () => {
    expect(resource(bucketId).Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'finals-bucket/',
    });
    expect(resource(logsId).Properties.LifecycleConfiguration).toEqual({
      Rules: [{ Id: 'expire-access-logs', Status: 'Enabled', ExpirationInDays: 90 }],
    });
    // One grant per bucket logging here (this one and the stream archive's), each under its own prefix.
    const allows = bucketPolicy(logsId).filter((st) => st.Effect === 'Allow');
    const archiveId = built.stack.getLogicalId(built.stack.archive.bucket.node.defaultChild as CfnElement);
    expect(allows).toHaveLength(2);
    for (const [i, source, prefix] of [[0, bucketId, 'finals-bucket'], [1, archiveId, 'archive-bucket']] as const) {
      expect(allows[i]).toMatchObject({
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [source, 'Arn'] } } },
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logsId, 'Arn'] }, `/${prefix}/*`]] },
      });
    }
  });

  it('publishes request metrics for the whole bucket', () => {
    expect(resource(bucketId).Properties.MetricsConfigurations).toEqual([{ Id: 'EntireBucket' }]);
  });

});

describe('consumer access to the finals bucket', () => {
  it('may only put objects, under its own pipeline prefix of finals/, firings/, corrections/ and dead-letter-payloads/', () => {
    const statements = bucketStatements(consumerRoleId);
    expect(statements).toHaveLength(1);
    expect(asArray(statements[0]?.Action)).toEqual([...CONSUMER_BUCKET_ACTIONS]);
    expect(CONSUMER_BUCKET_ACTIONS).toEqual(['s3:PutObject']);
    expect(asArray(statements[0]?.Resource).map(flattenCfnString).sort()).toEqual(['<ref>/corrections/fraud/*', '<ref>/dead-letter-payloads/fraud/*', '<ref>/finals/fraud/*', '<ref>/firings/fraud/*']);
  });

  it('cannot read, list or delete in the bucket (no s3 action but PutObject anywhere in its policies)', () => {
    const s3Actions = policyStatementsOf(built.template, consumerRoleId)
      .flatMap((st) => asArray(st.Action as string | string[]))
      .filter((a) => a.startsWith('s3:'));
    // Its statements on this bucket and on the stream archive's.
    expect([...new Set(s3Actions)]).toEqual(['s3:PutObject']);
  });

  it('the keys the result writer makes fall under the granted prefixes, each kind under its own', () => {
    const granted = asArray(bucketStatements(consumerRoleId)[0]?.Resource).map((r) => flattenCfnString(r).replace('<ref>/', ''));
    for (const kind of ['finals', 'firings', 'corrections'] as ResultKind[]) {
      const key = resultObjectKey(kind, { pipeline: 'fraud', shardId: 'shardId-000000000000', firstSeq: '1', lastSeq: '2', arrivalTime: Date.UTC(2026, 0, 1) }, 'x\n');
      const matches = granted.filter((pattern) => key.startsWith(pattern.replace(/\*$/, '')));
      expect(matches).toEqual([`${FINALS_OBJECT_PREFIXES[kind]}/fraud/*`]);
    }
    expect(granted.some((pattern) => 'finals/other/2026/01/01/00/x.jsonl'.startsWith(pattern.replace(/\*$/, '')))).toBe(false);
  });

  it('knows the bucket through its environment', () => {
    const fn = built.template.toJSON().Resources[built.stack.getLogicalId(built.stack.consumer.function.node.defaultChild as CfnElement)];
    expect(fn.Properties.Environment.Variables[CONSUMER_ENV.finalsBucketName]).toEqual({ Ref: bucketId });
  });

  it('grants no other principal anything on the bucket, and the serving function nothing', () => {
    expect(bucketStatements(servingRoleId)).toEqual([]);
    const onBucket = allStatements(built.template).filter(
      (st) => st.Effect === 'Allow' && asArray(st.Resource).some((r) => resourceTarget(r) === bucketId),
    );
    // The consumer's and the idle-shard tick's (it fires quiet shards' windows with the consumer's batch step).
    expect(onBucket).toHaveLength(2);
  });
});

describe('stack output', () => {
  it('names the bucket', () => {
    expect(built.template.toJSON().Outputs.FinalsBucketName.Value).toEqual({ Ref: bucketId });
  });
});
