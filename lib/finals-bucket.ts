import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONSUMER_BUCKET_ACTIONS, FINALS_OBJECT_PREFIXES } from '../lambda/contract/resources';
import { PipelinePropsError } from './errors';

/** Storage classes final-window objects may move to; S3 requires 30 days in Standard before the IA classes. */
export type FinalsStorageClass = 'INFREQUENT_ACCESS' | 'INTELLIGENT_TIERING' | 'GLACIER_INSTANT_RETRIEVAL' | 'GLACIER' | 'DEEP_ARCHIVE';

/** Lifecycle of the final-window objects and their access logs. */
export interface FinalsBucketOptions {
  /**
   * Days after which objects move to `transitionStorageClass`. Whole days; at least 30 for INFREQUENT_ACCESS.
   * Objects under 128 KB stay in Standard (S3's default minimum transition size): moving them costs more in
   * transition requests than the cheaper class saves.
   * @default Duration.days(30)
   */
  readonly transitionAfter?: Duration;
  /**
   * The cheaper storage class objects move to. Training jobs read old windows rarely but in bulk; Glacier
   * Instant Retrieval keeps millisecond reads at a lower storage price and a higher read price.
   * @default 'INFREQUENT_ACCESS'
   */
  readonly transitionStorageClass?: FinalsStorageClass;
  /**
   * Days after which objects are deleted; must be later than `transitionAfter`. Final windows are training
   * data and the audit trail of what the pipeline computed, so they are kept unless asked.
   * @default - never deleted
   */
  readonly expireAfter?: Duration;
  /**
   * Days the server access logs (who read or wrote which object) are kept.
   * @default Duration.days(90)
   */
  readonly accessLogRetention?: Duration;
}

export interface FinalsBucketProps extends FinalsBucketOptions {
  /**
   * What happens to the buckets when they leave the stack. DESTROY also empties them first (a custom resource
   * deletes the objects), since CloudFormation cannot delete a bucket that holds objects.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer-managed key of the finals bucket, with an S3 bucket key (one KMS request per bucket key, not per
   * object). The access log bucket stays on SSE-S3: server access log delivery writes nothing else.
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
}

/** Final windows, firings and corrections as JSON-lines objects (`finals/<pipeline>/…`, `firings/…`, `corrections/…`). */
export class FinalsBucket extends Construct {
  public readonly bucket: s3.Bucket;
  /** Server access logs of `bucket`. */
  public readonly accessLogsBucket: s3.Bucket;

  public constructor(scope: Construct, id: string, props: FinalsBucketProps = {}) {
    super(scope, id);
    validateFinalsBucketOptions(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    // Log delivery is allowed by a bucket policy on the log bucket rather than by its ACL, so ACLs can stay
    // disabled (BucketOwnerEnforced). Set here, not in cdk.json, so the construct behaves alike in every app.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access log delivery writes with SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: props.accessLogRetention ?? Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    Validations.of(this.accessLogsBucket.node.defaultChild as s3.CfnBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket holds the server access logs of the finals bucket; logging its own access would log the log deliveries.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      // SSE-S3 by default: no per-request key charge on every put, and readers (training jobs) need no key grant.
      ...bucketEncryption(props.encryptionKey),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Unversioned: keys are deterministic per batch and a retried batch rewrites the same content, so versions
      // would only store duplicates; nothing in the stack may delete objects (the consumer can only put).
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'finals-bucket/',
      transitionDefaultMinimumObjectSize: s3.TransitionDefaultMinimumObjectSize.ALL_STORAGE_CLASSES_128_K,
      lifecycleRules: [
        {
          id: 'finals-to-cheaper-storage',
          transitions: [
            {
              storageClass: storageClass(props.transitionStorageClass ?? 'INFREQUENT_ACCESS'),
              transitionAfter: props.transitionAfter ?? Duration.days(30),
            },
          ],
          expiration: props.expireAfter,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Request metrics (puts, gets, 4xx, 5xx, bytes) for the dashboard; billed as CloudWatch metrics only in
      // hours with requests.
      metrics: [{ id: FINALS_BUCKET_METRICS_FILTER }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
  }

  /** ARNs of the objects a pipeline may write: its own prefix under each top-level prefix. */
  public pipelineObjectArns(pipelineName: string): string[] {
    return Object.values(FINALS_OBJECT_PREFIXES).map((p) => this.bucket.arnForObjects(`${p}/${pipelineName}/*`));
  }

  /** Lets `role` put objects under the pipeline's prefixes, and nothing else in the bucket. */
  public grantPutPipelineObjects(role: iam.Role, pipelineName: string): void {
    const resources = this.pipelineObjectArns(pipelineName);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'FinalWindowObjectsPut', actions: [...CONSUMER_BUCKET_ACTIONS], resources }),
    );
    // Object keys are made per batch, so the grant names key prefixes; cdk-nag wants the evidence per resource.
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const policy = role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy;
    Validations.of(policy).acknowledge(
      ...Object.values(FINALS_OBJECT_PREFIXES).map((p) => ({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${p}/${pipelineName}/*]`,
        reason: `Objects are named per batch under ${p}/${pipelineName}/; the role may only put objects there, in its own pipeline's prefix.`,
      })),
    );
  }
}

/** SSE-S3, or SSE-KMS under `key` with a bucket key (S3 asks KMS for a bucket key, not for every object). */
export function bucketEncryption(key: kms.IKey | undefined): Pick<s3.BucketProps, 'encryption' | 'encryptionKey' | 'bucketKeyEnabled'> {
  return key === undefined
    ? { encryption: s3.BucketEncryption.S3_MANAGED }
    : { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true };
}

/** `FilterId` dimension of the bucket's request metrics (the whole bucket). */
export const FINALS_BUCKET_METRICS_FILTER = 'EntireBucket';

function storageClass(name: FinalsStorageClass): s3.StorageClass {
  return s3.StorageClass[name];
}

/** Days an object must spend in Standard before S3 accepts a transition to the class. */
const MIN_DAYS_BEFORE: Readonly<Record<FinalsStorageClass, number>> = {
  INFREQUENT_ACCESS: 30,
  INTELLIGENT_TIERING: 1,
  GLACIER_INSTANT_RETRIEVAL: 1,
  GLACIER: 1,
  DEEP_ARCHIVE: 1,
};

/** Refuses lifecycles S3 would reject at deploy time. */
export function validateFinalsBucketOptions(props: FinalsBucketOptions): void {
  const owner = 'FinalsBucket';
  const days = (prop: string, d: Duration | undefined, min: number): number | undefined => {
    if (d === undefined || d.isUnresolved()) return undefined;
    const n = d.toDays({ integral: false });
    if (!Number.isInteger(n) || n < min) {
      throw new PipelinePropsError(`${owner}: ${prop} must be whole days, at least ${min} (got ${d.toHumanString()})`);
    }
    return n;
  };
  const cls = props.transitionStorageClass ?? 'INFREQUENT_ACCESS';
  const minTransition = Object.hasOwn(MIN_DAYS_BEFORE, cls) ? MIN_DAYS_BEFORE[cls] : undefined;
  if (minTransition === undefined) {
    throw new PipelinePropsError(`${owner}: transitionStorageClass must be one of ${Object.keys(MIN_DAYS_BEFORE).join(', ')} (got ${String(cls)})`);
  }
  if (props.transitionAfter !== undefined && !props.transitionAfter.isUnresolved()) {
    const n = props.transitionAfter.toDays({ integral: false });
    if (Number.isInteger(n) && n >= 1 && n < minTransition) {
      throw new PipelinePropsError(
        `${owner}: transitionAfter must be at least ${minTransition} days with transitionStorageClass ${cls} (got ${props.transitionAfter.toHumanString()}); S3 refuses earlier transitions to that class`,
      );
    }
  }
  const transition = days('transitionAfter', props.transitionAfter, 1) ?? 30;
  const expire = days('expireAfter', props.expireAfter, 1);
  if (expire !== undefined && expire <= transition) {
    throw new PipelinePropsError(
      `${owner}: expireAfter (${expire} days) must be later than transitionAfter (${transition} days): S3 refuses an expiry at or before the transition`,
    );
  }
  days('accessLogRetention', props.accessLogRetention, 1);
}
