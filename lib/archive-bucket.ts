import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ARCHIVE_OBJECT_PREFIX, BACKFILL_WORK_PREFIX, CONSUMER_BUCKET_ACTIONS } from '../lambda/contract/resources';
import { PipelinePropsError } from './errors';
import { bucketEncryption } from './finals-bucket';

/** Lifecycle of the stream archive (docs/history.md): Standard, then Infrequent Access, then a Glacier class. */
export interface ArchiveBucketOptions {
  /**
   * Days after which a backfill's intermediate objects (under `backfill-work/`) are deleted; a run needs them only
   * while it runs. Whole days, at least 1.
   * @default Duration.days(7)
   */
  readonly backfillWorkExpireAfter?: Duration;
  /**
   * Days after which archive objects move to Standard-Infrequent Access (S3 requires at least 30).
   * @default Duration.days(30)
   */
  readonly infrequentAccessAfter?: Duration;
  /**
   * Days after which archive objects move to `glacierStorageClass`; later than `infrequentAccessAfter`.
   * @default Duration.days(90)
   */
  readonly glacierAfter?: Duration;
  /**
   * The Glacier class. Instant Retrieval keeps millisecond reads, so a backfill or training set over old hours
   * reads them directly; GLACIER and DEEP_ARCHIVE are cheaper to store but need a restore before any read.
   * @default 'GLACIER_INSTANT_RETRIEVAL'
   */
  readonly glacierStorageClass?: 'GLACIER_INSTANT_RETRIEVAL' | 'GLACIER' | 'DEEP_ARCHIVE';
  /**
   * Days after which archive objects are deleted; later than `glacierAfter`. The archive is the only copy of
   * the stream beyond its retention, so it is kept unless asked.
   * @default - never deleted
   */
  readonly expireAfter?: Duration;
}

export interface ArchiveBucketProps extends ArchiveBucketOptions {
  /** Where the bucket's server access logs go (the finals bucket's log bucket). */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * DESTROY also empties the bucket first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer-managed key of the bucket, with an S3 bucket key.
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
}

/** Every record the feature stream delivered, as gzip JSON-lines objects under `archive/<pipeline>/dt=…/hh=…/`. */
export class ArchiveBucket extends Construct {
  public readonly bucket: s3.Bucket;

  public constructor(scope: Construct, id: string, props: ArchiveBucketProps) {
    super(scope, id);
    validateArchiveBucketOptions(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...bucketEncryption(props.encryptionKey),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A retried batch rewrites the same bytes under the same key: versions would only keep duplicates.
      versioned: false,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
      // Archive objects are one batch each, often under 128 KB: transitioning them all costs a request each,
      // which the cheaper class pays back in months for objects over a few KB.
      transitionDefaultMinimumObjectSize: s3.TransitionDefaultMinimumObjectSize.VARIES_BY_STORAGE_CLASS,
      lifecycleRules: [
        {
          id: 'archive-to-cheaper-storage',
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: props.infrequentAccessAfter ?? Duration.days(30) },
            { storageClass: s3.StorageClass[props.glacierStorageClass ?? 'GLACIER_INSTANT_RETRIEVAL'], transitionAfter: props.glacierAfter ?? Duration.days(90) },
          ],
          expiration: props.expireAfter,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // A backfill's intermediate objects (a planned copy of its range) are needed only while it runs.
          id: 'backfill-intermediates-expire',
          prefix: `${BACKFILL_WORK_PREFIX}/`,
          expiration: props.backfillWorkExpireAfter ?? Duration.days(7),
        },
      ],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
  }

  /** Lets `role` put archive objects under its pipeline's prefix, and nothing else. */
  public grantPutArchive(role: iam.Role, pipelineName: string): void {
    const resource = this.bucket.arnForObjects(`${ARCHIVE_OBJECT_PREFIX}/${pipelineName}/*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ArchiveObjectsPut', actions: [...CONSUMER_BUCKET_ACTIONS], resources: [resource] }));
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const policy = role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy;
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${ARCHIVE_OBJECT_PREFIX}/${pipelineName}/*]`,
      reason: `Archive objects are named per batch under ${ARCHIVE_OBJECT_PREFIX}/${pipelineName}/; the role may only put objects there.`,
    });
  }
}

/** Refuses lifecycles S3 would reject at deploy time. */
export function validateArchiveBucketOptions(props: ArchiveBucketOptions): void {
  const owner = 'ArchiveBucket';
  const days = (prop: string, d: Duration | undefined, fallback: number | undefined, min: number): number | undefined => {
    if (d === undefined || d.isUnresolved()) return fallback;
    const n = d.toDays({ integral: false });
    if (!Number.isInteger(n) || n < min) throw new PipelinePropsError(`${owner}: ${prop} must be whole days, at least ${min} (got ${d.toHumanString()})`);
    return n;
  };
  const ia = days('infrequentAccessAfter', props.infrequentAccessAfter, 30, 30)!;
  const glacier = days('glacierAfter', props.glacierAfter, 90, 1)!;
  // S3 keeps objects 30 days in Standard-IA before a transition onwards.
  if (glacier < ia + 30) throw new PipelinePropsError(`${owner}: glacierAfter (${glacier} days) must be at least 30 days after infrequentAccessAfter (${ia} days): S3 keeps objects 30 days in Infrequent Access`);
  const cls = props.glacierStorageClass ?? 'GLACIER_INSTANT_RETRIEVAL';
  if (!['GLACIER_INSTANT_RETRIEVAL', 'GLACIER', 'DEEP_ARCHIVE'].includes(cls)) throw new PipelinePropsError(`${owner}: glacierStorageClass must be GLACIER_INSTANT_RETRIEVAL, GLACIER or DEEP_ARCHIVE (got ${String(cls)})`);
  const expire = days('expireAfter', props.expireAfter, undefined, 1);
  if (expire !== undefined && expire <= glacier) throw new PipelinePropsError(`${owner}: expireAfter (${expire} days) must be later than glacierAfter (${glacier} days)`);
  days('backfillWorkExpireAfter', props.backfillWorkExpireAfter, 7, 1);
}
