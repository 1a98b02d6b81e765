import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { PREDICTIONS_TABLE } from '../lambda/contract/resources';
import { EventStream, type EventStreamOptions } from './stream';
import { type TableCapacity, pipelineTable, validateTableCapacity } from './tables';

/** Settings of where predictions go. */
export interface PredictionStoreOptions {
  /**
   * Capacity mode, shards and retention of the predictions stream (what downstream systems read: blocks, reviews).
   * @default - on-demand, 7 days retention, destroyed with the stack
   */
  readonly stream?: EventStreamOptions;
  /**
   * Capacity of the predictions table: on-demand, or provisioned with auto scaling.
   * @default - on-demand
   */
  readonly tableCapacity?: TableCapacity;
}

export interface PredictionStoreProps extends PredictionStoreOptions {
  /**
   * What happens to the predictions table when it leaves the stack. Its items are what labels join to: once gone,
   * labels still to come for those predictions are unmatched.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer-managed key of the table and the stream.
   * @default - the AWS managed keys
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The scoring pattern's outputs: the predictions table (one item per prediction, the evaluation windows and their
 * registry; items expire by TTL after their label window) and the predictions stream every prediction is put to,
 * both encrypted at rest with AWS managed keys, or both with a customer-managed key.
 */
export class PredictionStore extends Construct {
  public readonly table: dynamodb.Table;
  public readonly stream: kinesis.Stream;

  public constructor(scope: Construct, id: string, props: PredictionStoreProps = {}) {
    super(scope, id);
    if (props.tableCapacity !== undefined) validateTableCapacity(props.tableCapacity, 'PredictionStore', 'tableCapacity');
    this.table = pipelineTable(this, 'Table', PREDICTIONS_TABLE, props.removalPolicy ?? RemovalPolicy.RETAIN, props.encryptionKey, props.tableCapacity);
    this.stream = new EventStream(this, 'Stream', { ...props.stream, encryptionKey: props.encryptionKey }).stream;
  }
}
