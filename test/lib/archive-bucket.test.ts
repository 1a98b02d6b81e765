import { type CfnElement, Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_OBJECT_PREFIX, CONSUMER_ENV } from '../../lambda/contract/resources';
import { PipelinePropsError } from '../../lib/errors';
import { type Built, asArray, buildPipeline, policyStatementsOf, resourceTarget, examplePipeline } from './fixtures';

let built: Built;
let archiveId: string;

beforeAll(() => {
  built = examplePipeline();
  archiveId = built.stack.getLogicalId(built.stack.archive.bucket.node.defaultChild as CfnElement);
});

const props = (logicalId: string) => (built.template.toJSON().Resources[logicalId] as { Properties: Record<string, unknown> }).Properties;

describe('archive bucket', () => {
  it('moves objects to Infrequent Access after 30 days and Glacier Instant Retrieval after 90, and keeps them', () => {
    const rules = (props(archiveId).LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }).Rules;
    // The archive's rule, and the one deleting backfill intermediates (test/lib/backfill.test.ts).
    expect(rules.map((r) => r.Id)).toEqual(['archive-to-cheaper-storage', 'backfill-intermediates-expire']);
    expect(rules[0]!.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
    ]);
    expect(rules[0]!.ExpirationInDays).toBeUndefined();
    expect(props(archiveId).BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect((props(archiveId).LoggingConfiguration as { LogFilePrefix: string }).LogFilePrefix).toBe('archive-bucket/');
  });

  it('takes its lifecycle from stack props, and refuses ones S3 would reject', () => {
    const b = buildPipeline({ archive: { infrequentAccessAfter: Duration.days(45), glacierAfter: Duration.days(180), glacierStorageClass: 'DEEP_ARCHIVE', expireAfter: Duration.days(730) } });
    const id = b.stack.getLogicalId(b.stack.archive.bucket.node.defaultChild as CfnElement);
    const rule = ((b.template.toJSON().Resources[id] as { Properties: { LifecycleConfiguration: { Rules: Array<Record<string, unknown>> } } }).Properties.LifecycleConfiguration.Rules)[0]!;
    expect(rule.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
      { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 180 },
    ]);
    expect(rule.ExpirationInDays).toBe(730);
    expect(() => buildPipeline({ archive: { infrequentAccessAfter: Duration.days(10) } })).toThrow(new PipelinePropsError('ArchiveBucket: infrequentAccessAfter must be whole days, at least 30 (got 10 days)'));
    expect(() => buildPipeline({ archive: { glacierAfter: Duration.days(40) } })).toThrow(/glacierAfter \(40 days\) must be at least 30 days after infrequentAccessAfter \(30 days\)/);
    expect(() => buildPipeline({ archive: { expireAfter: Duration.days(90) } })).toThrow(/expireAfter \(90 days\) must be later than glacierAfter \(90 days\)/);
  });

  it('the consumer knows the bucket and may only put objects under its pipeline\'s archive prefix', () => {
    const fnId = built.stack.getLogicalId(built.stack.consumer.function.node.defaultChild as CfnElement);
    const vars = (props(fnId).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars[CONSUMER_ENV.archiveBucketName]).toEqual({ Ref: archiveId });
    const roleId = built.stack.getLogicalId(built.stack.consumer.role.node.defaultChild as CfnElement);
    const statements = policyStatementsOf(built.template, roleId).filter((st) => asArray(st.Resource).some((r) => resourceTarget(r) === archiveId));
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Action).toBe('s3:PutObject');
    expect(JSON.stringify(statements[0]!.Resource)).toContain(`/${ARCHIVE_OBJECT_PREFIX}/fraud/*`);
    // Serving reads key items only: nothing of the archive.
    const servingRoleId = built.stack.getLogicalId(built.stack.serving.role.node.defaultChild as CfnElement);
    expect(policyStatementsOf(built.template, servingRoleId).filter((st) => asArray(st.Resource).some((r) => resourceTarget(r) === archiveId))).toEqual([]);
  });
});
