import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { STATE_TABLE, type TableDefinition } from '../lambda/contract/resources';
import { PipelinePropsError } from './errors';

/**
 * How a table pays for its reads and writes: on demand (per request unit), or provisioned capacity that auto
 * scaling keeps at `targetUtilization` percent of what is consumed, between the minimum and maximum of each.
 * Provisioned capacity costs less per unit at steady load (docs/cost.md); traffic above the maximum is throttled,
 * and the consumer retries its batch.
 */
export type TableCapacity = { readonly mode: 'on-demand' } | ProvisionedCapacity;

export interface ProvisionedCapacity {
  readonly mode: 'provisioned';
  /**
   * Fewest read capacity units auto scaling keeps (and the table starts with).
   * @default 1
   */
  readonly readMin?: number;
  /**
   * Most read capacity units auto scaling may provision.
   * @default 1000
   */
  readonly readMax?: number;
  /**
   * Fewest write capacity units auto scaling keeps (and the table starts with).
   * @default 1
   */
  readonly writeMin?: number;
  /**
   * Most write capacity units auto scaling may provision.
   * @default 1000
   */
  readonly writeMax?: number;
  /**
   * Consumed capacity as a percentage of provisioned that auto scaling tracks, 20 to 90.
   * @default 70
   */
  readonly targetUtilization?: number;
}

/** The limits of provisioned capacity when not given. */
export const PROVISIONED_DEFAULTS = { readMin: 1, readMax: 1000, writeMin: 1, writeMax: 1000, targetUtilization: 70 } as const;
/** Capacity units a table takes per second at most, for reads and for writes (the account's default table quota). */
const MAX_CAPACITY_UNITS = 40_000;

/** Provisioned capacity with every limit filled in. */
export function provisionedLimits(c: ProvisionedCapacity): Required<ProvisionedCapacity> {
  const d = PROVISIONED_DEFAULTS;
  return {
    mode: 'provisioned',
    readMin: c.readMin ?? d.readMin,
    readMax: c.readMax ?? d.readMax,
    writeMin: c.writeMin ?? d.writeMin,
    writeMax: c.writeMax ?? d.writeMax,
    targetUtilization: c.targetUtilization ?? d.targetUtilization,
  };
}

/** Refuses an unknown mode, limits below 1 or above the table quota, a maximum below its minimum, or a target outside 20-90 %. */
export function validateTableCapacity(c: TableCapacity, owner: string, prop: string): void {
  const mode: unknown = (c as { mode?: unknown }).mode;
  if (mode !== 'on-demand' && mode !== 'provisioned') {
    throw new PipelinePropsError(`${owner}: ${prop}.mode must be "on-demand" or "provisioned" (got ${JSON.stringify(mode)})`);
  }
  if (c.mode === 'on-demand') {
    const extra = Object.keys(c).filter((k) => k !== 'mode');
    if (extra.length > 0) throw new PipelinePropsError(`${owner}: ${prop}.${extra[0]} goes with mode "provisioned" only`);
    return;
  }
  const l = provisionedLimits(c);
  for (const name of ['readMin', 'readMax', 'writeMin', 'writeMax'] as const) {
    const v = l[name];
    if (!Number.isInteger(v) || v < 1 || v > MAX_CAPACITY_UNITS) {
      throw new PipelinePropsError(`${owner}: ${prop}.${name} must be an integer from 1 to ${MAX_CAPACITY_UNITS} capacity units (got ${v})`);
    }
  }
  if (l.readMax < l.readMin) throw new PipelinePropsError(`${owner}: ${prop}.readMax (${l.readMax}) must be at least ${prop}.readMin (${l.readMin})`);
  if (l.writeMax < l.writeMin) throw new PipelinePropsError(`${owner}: ${prop}.writeMax (${l.writeMax}) must be at least ${prop}.writeMin (${l.writeMin})`);
  const t = l.targetUtilization;
  if (!Number.isFinite(t) || t < 20 || t > 90) {
    throw new PipelinePropsError(`${owner}: ${prop}.targetUtilization must be a percentage from 20 to 90 (got ${t})`);
  }
}

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
  /**
   * On-demand, or provisioned capacity with auto scaling.
   * @default - on-demand
   */
  readonly capacity?: TableCapacity;
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
    if (props.capacity !== undefined) validateTableCapacity(props.capacity, 'PipelineTables', 'capacity');
    this.stateTable = pipelineTable(this, 'StateTable', STATE_TABLE, removalPolicy, props.encryptionKey, props.capacity);
  }
}

/**
 * A table of the pipeline from its contract definition: on demand (or provisioned with auto scaling of reads and
 * writes), point-in-time recovery, encrypted with the AWS managed key (or `key`), expiring items by TTL.
 */
export function pipelineTable(scope: Construct, id: string, def: TableDefinition, removalPolicy: RemovalPolicy, key?: kms.IKey, capacity: TableCapacity = { mode: 'on-demand' }): dynamodb.Table {
  const limits = capacity.mode === 'provisioned' ? provisionedLimits(capacity) : undefined;
  const table = new dynamodb.Table(scope, id, {
    partitionKey: { name: def.partitionKey.name, type: attributeType(def.partitionKey.type) },
    sortKey: { name: def.sortKey.name, type: attributeType(def.sortKey.type) },
    timeToLiveAttribute: def.ttlAttribute,
    ...(limits === undefined
      ? { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST }
      : { billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: limits.readMin, writeCapacity: limits.writeMin }),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(key === undefined
      ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
      : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }),
    removalPolicy,
  });
  if (limits !== undefined) {
    // CloudFormation's default, written out so the template says which mode the table bills in.
    (table.node.defaultChild as dynamodb.CfnTable).billingMode = 'PROVISIONED';
    const targetUtilizationPercent = limits.targetUtilization;
    table.autoScaleReadCapacity({ minCapacity: limits.readMin, maxCapacity: limits.readMax }).scaleOnUtilization({ targetUtilizationPercent });
    table.autoScaleWriteCapacity({ minCapacity: limits.writeMin, maxCapacity: limits.writeMax }).scaleOnUtilization({ targetUtilizationPercent });
  }
  return table;
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
