import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { STATE_TABLE, type TableDefinition } from '../lambda/contract/resources';

export interface PipelineTablesProps {
  /**
   * What happens to the state table when it leaves the stack. Keep RETAIN for anything holding real features:
   * window state cannot be rebuilt once the stream's retention has passed.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer-managed key of the table.
   * @default - the AWS managed key alias/aws/dynamodb
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The state table: one item per key (its open windows, per-shard progress and what serving reads), shard
 * watermarks, and items that expire by TTL (producer-id pages, timers). Final windows leave DynamoDB for the
 * finals bucket (finals-bucket.ts).
 */
export class PipelineTables extends Construct {
  public readonly stateTable: dynamodb.Table;

  public constructor(scope: Construct, id: string, props: PipelineTablesProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.stateTable = pipelineTable(this, 'StateTable', STATE_TABLE, removalPolicy, props.encryptionKey);
  }
}

/**
 * A table of the pipeline from its contract definition: on demand, point-in-time recovery, encrypted with the AWS
 * managed key (or `key`), expiring items by TTL.
 */
export function pipelineTable(scope: Construct, id: string, def: TableDefinition, removalPolicy: RemovalPolicy, key?: kms.IKey): dynamodb.Table {
  return new dynamodb.Table(scope, id, {
    partitionKey: { name: def.partitionKey.name, type: attributeType(def.partitionKey.type) },
    sortKey: { name: def.sortKey.name, type: attributeType(def.sortKey.type) },
    timeToLiveAttribute: def.ttlAttribute,
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(key === undefined
      ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
      : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }),
    removalPolicy,
  });
}

function attributeType(type: TableDefinition['partitionKey']['type']): dynamodb.AttributeType {
  switch (type) {
    case 'S':
      return dynamodb.AttributeType.STRING;
    case 'N':
      return dynamodb.AttributeType.NUMBER;
    case 'B':
      return dynamodb.AttributeType.BINARY;
  }
}
