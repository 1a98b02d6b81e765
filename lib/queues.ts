import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_QUEUE, ON_FAILURE_QUEUE, type QueueDefinition } from '../lambda/contract/resources';

export interface PipelineQueuesProps {
  /**
   * What happens to both queues when they leave the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer-managed key of both queues: senders (the consumers, the event source mappings) then need
   * kms:GenerateDataKey and kms:Decrypt on it, readers kms:Decrypt.
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;
}

/** The dead-letter queue for late and invalid records, and the on-failure queue of the event source mapping. */
export class PipelineQueues extends Construct {
  /** FIFO queue the consumer writes late and invalid records to, one message per record. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Standard queue receiving the metadata of batches the event source mapping gave up on. */
  public readonly onFailureQueue: sqs.Queue;

  public constructor(scope: Construct, id: string, props: PipelineQueuesProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.deadLetterQueue = queue(this, 'DeadLetterQueue', DEAD_LETTER_QUEUE, removalPolicy, props.encryptionKey);
    this.onFailureQueue = queue(this, 'OnFailureQueue', ON_FAILURE_QUEUE, removalPolicy, props.encryptionKey);

    // Both queues are terminal stores read by operators and replay tooling, not by an automatic consumer:
    // a message there has already failed once, and moving it to yet another queue would hide it further.
    Validations.of(this.deadLetterQueue.node.defaultChild as sqs.CfnQueue).acknowledge(
      {
        id: 'AwsSolutions-SQS3',
        reason: 'Terminal store of late and invalid records, inspected and replayed by operators; a further queue would only move them.',
      },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'Terminal store of late and invalid records with no automatic consumer, so no redrive target applies.',
      },
    );
    Validations.of(this.onFailureQueue.node.defaultChild as sqs.CfnQueue).acknowledge(
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter destination of the Kinesis event source mapping (on-failure destination).',
      },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'Terminal on-failure destination with no automatic consumer; an alarm fires on its first message.',
      },
    );
  }
}

function queue(scope: Construct, id: string, def: QueueDefinition, removalPolicy: RemovalPolicy, key: kms.IKey | undefined): sqs.Queue {
  return new sqs.Queue(scope, id, {
    fifo: def.fifo ? true : undefined,
    contentBasedDeduplication: def.fifo ? def.contentBasedDeduplication : undefined,
    retentionPeriod: Duration.seconds(def.retentionSeconds),
    maxMessageSizeBytes: def.maxMessageBytes,
    ...(key === undefined ? { encryption: sqs.QueueEncryption.SQS_MANAGED } : { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }),
    enforceSSL: true,
    removalPolicy,
  });
}
