import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { PipelinePropsError } from './errors';

/** The customer-managed key the pipeline's data is encrypted with (tables, streams, queues, buckets). */
export interface PipelineEncryptionOptions {
  /**
   * The key. Its policy must let IAM policies of this account use it (the default key policy does): the stack
   * grants each function role only the actions it needs, in the role's own policy.
   * @default - a new symmetric key with yearly rotation, kept with the stack's removal policy
   */
  readonly key?: kms.IKey;
  /**
   * The ARN of an existing key (`arn:<partition>:kms:<region>:<account>:key/<id>`), instead of `key`; the same
   * conditions on its policy. Alias ARNs are refused: an IAM policy naming an alias grants nothing on the key.
   * @default - see `key`
   */
  readonly keyArn?: string;
}

const KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Refuses both a key and a key ARN, and what is not the ARN of a key. */
export function validateEncryptionOptions(o: PipelineEncryptionOptions, owner = 'PipelineKey'): void {
  if (o.key !== undefined && o.keyArn !== undefined) {
    throw new PipelinePropsError(`${owner}: encryption.key and encryption.keyArn are exclusive: give the key or its ARN`);
  }
  if (o.keyArn !== undefined && !Token.isUnresolved(o.keyArn) && !KEY_ARN_PATTERN.test(o.keyArn)) {
    throw new PipelinePropsError(
      `${owner}: encryption.keyArn must be the ARN of a KMS key, arn:<partition>:kms:<region>:<account>:key/<id> (got "${o.keyArn}"); an alias ARN grants nothing in an IAM policy`,
    );
  }
}

/**
 * KMS actions each way a pipeline role uses an encrypted resource needs; the services call KMS on the caller's
 * behalf. No wildcard actions and no `kms:ReEncrypt*`: nothing in the pipeline re-encrypts.
 */
export const KEY_USE_ACTIONS = {
  /** DynamoDB reads of a table under the key. */
  tableRead: ['kms:Decrypt'],
  /** DynamoDB reads and writes of a table under the key. */
  tableReadWrite: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
  /** Kinesis GetRecords on a stream under the key. */
  recordsRead: ['kms:Decrypt'],
  /** Kinesis PutRecords to a stream under the key. */
  recordsWrite: ['kms:GenerateDataKey'],
  /** S3 GetObject of an object under the key (with or without a bucket key). */
  objectRead: ['kms:Decrypt'],
  /** S3 PutObject (single request, no multipart upload) into a bucket under the key. */
  objectWrite: ['kms:GenerateDataKey'],
  /** SQS SendMessage to a queue under the key: SQS generates and decrypts the data key with the sender's rights. */
  messagesSend: ['kms:Decrypt', 'kms:GenerateDataKey'],
} as const satisfies Record<string, readonly string[]>;

export type KeyUse = keyof typeof KEY_USE_ACTIONS;

/** Statement id of a role's grant on the pipeline key. */
export const KEY_USE_SID = 'PipelineKeyUse';

/**
 * Grants `role` the KMS actions of each use on the key of the resource it concerns (`undefined`: the resource
 * has no customer-managed key, nothing to grant): one statement per key, on that key only.
 */
export function grantKeyUse(role: iam.IRole, uses: ReadonlyArray<readonly [kms.IKey | undefined, KeyUse]>): void {
  const byKey = new Map<string, { key: kms.IKey; actions: Set<string> }>();
  for (const [key, use] of uses) {
    if (key === undefined) continue;
    const entry = byKey.get(key.keyArn) ?? { key, actions: new Set<string>() };
    for (const action of KEY_USE_ACTIONS[use]) entry.actions.add(action);
    byKey.set(key.keyArn, entry);
  }
  let n = 0;
  for (const { key, actions } of byKey.values()) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: n === 0 ? KEY_USE_SID : `${KEY_USE_SID}${n}`, actions: [...actions].sort(), resources: [key.keyArn] }),
    );
    n++;
  }
}

export interface PipelineKeyProps extends PipelineEncryptionOptions {
  readonly pipelineName: string;
  /**
   * What happens to a key created here when it leaves the stack. It must outlive everything encrypted under
   * it: retained tables and buckets are unreadable without it.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The given key (or key ARN), or a new one with rotation on. */
export class PipelineKey extends Construct {
  public readonly key: kms.IKey;

  public constructor(scope: Construct, id: string, props: PipelineKeyProps) {
    super(scope, id);
    validateEncryptionOptions(props);
    this.key =
      props.key ??
      (props.keyArn === undefined ? undefined : kms.Key.fromKeyArn(this, 'Imported', props.keyArn)) ??
      new kms.Key(this, 'Key', {
        description: `Encrypts the tables, streams, queues and buckets of feature pipeline ${props.pipelineName}`,
        enableKeyRotation: true,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        pendingWindow: Duration.days(30),
      });
  }
}
