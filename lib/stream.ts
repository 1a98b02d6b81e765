import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { PipelinePropsError, checkInteger } from './errors';
import { STREAM_RETENTION_HOURS } from '../lambda/contract/resources';

export interface EventStreamOptions {
  /**
   * Capacity mode. On-demand scales by itself and bills per stream-hour; provisioned bills per shard-hour.
   * @default kinesis.StreamMode.ON_DEMAND
   */
  readonly streamMode?: kinesis.StreamMode;
  /**
   * Shard count; only valid with `StreamMode.PROVISIONED`.
   * @default 1 with PROVISIONED, managed by Kinesis with ON_DEMAND
   */
  readonly shardCount?: number;
  /**
   * How long records stay readable. Replaying records through a fixed consumer needs them, so the default is
   * longer than Kinesis's own 24 hours. Whole hours from 24 h to 365 days.
   * @default Duration.days(7)
   */
  readonly retentionPeriod?: Duration;
  /**
   * What happens to the stream when it leaves the stack. A retained stream keeps billing every hour, and its
   * records expire anyway, so it is destroyed by default.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface EventStreamProps extends EventStreamOptions {
  /**
   * Customer-managed key of the stream: producers then need kms:GenerateDataKey on it, readers kms:Decrypt.
   * @default - the AWS managed key alias/aws/kinesis
   */
  readonly encryptionKey?: kms.IKey;
}

/** The ingest stream: encrypted at rest with the AWS managed key `alias/aws/kinesis`, or a customer-managed key. */
export class EventStream extends Construct {
  public readonly stream: kinesis.Stream;
  public readonly retentionPeriod: Duration;

  public constructor(scope: Construct, id: string, props: EventStreamProps = {}) {
    super(scope, id);
    const mode = props.streamMode ?? kinesis.StreamMode.ON_DEMAND;
    if (props.shardCount !== undefined && mode !== kinesis.StreamMode.PROVISIONED) {
      throw new PipelinePropsError(`EventStream: shardCount is only valid with streamMode PROVISIONED (got ${mode})`);
    }
    checkInteger('EventStream', 'shardCount', props.shardCount, 1, 10_000);

    this.retentionPeriod = props.retentionPeriod ?? Duration.hours(STREAM_RETENTION_HOURS.default);
    if (!this.retentionPeriod.isUnresolved()) {
      const hours = this.retentionPeriod.toHours({ integral: false });
      if (!Number.isInteger(hours) || hours < STREAM_RETENTION_HOURS.min || hours > STREAM_RETENTION_HOURS.max) {
        throw new PipelinePropsError(
          `EventStream: retentionPeriod must be whole hours from ${STREAM_RETENTION_HOURS.min} to ${STREAM_RETENTION_HOURS.max} (got ${this.retentionPeriod.toHumanString()})`,
        );
      }
    }

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: mode,
      shardCount: mode === kinesis.StreamMode.PROVISIONED ? (props.shardCount ?? 1) : undefined,
      retentionPeriod: this.retentionPeriod,
      ...(props.encryptionKey === undefined
        ? { encryption: kinesis.StreamEncryption.MANAGED }
        : { encryption: kinesis.StreamEncryption.KMS, encryptionKey: props.encryptionKey }),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    if (props.encryptionKey !== undefined) {
      Validations.of(this.stream.node.defaultChild as kinesis.CfnStream).acknowledge({
        id: 'AwsSolutions-KDS3',
        reason: 'A customer-managed key was asked for (the stack\'s encryption option): its policy, rotation and use are the deployer\'s to control and audit, which alias/aws/kinesis does not allow.',
      });
    }
  }
}
