import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambda/contract/metric-names';
import { CONSUMER_ENV, CONSUMER_QUEUE_ACTIONS, CONSUMER_TABLE_ACTIONS, IDLE_TICK_ENV, IDLE_TICK_STREAM_ACTIONS } from '../lambda/contract/resources';
import { grantKeyUse } from './encryption';
import { PipelinePropsError } from './errors';
import { type FunctionPlacement, placeFunction } from './network';
import type { FinalsBucket } from './finals-bucket';
import { SOURCE_MAP_ENV, acknowledgeRuntime, functionIdentity, handlerEntry, nodeFunctionBase } from './node-function';

/** Source of the idle-shard tick handler. */
export const IDLE_TICK_ENTRY = handlerEntry('idle-tick');

/** Quiet shards: how often they are checked, and how far behind the clock their watermark is put. */
export interface IdleShardsOptions {
  /**
   * How often the tick runs (EventBridge schedule), 1 to 60 whole minutes.
   * @default Duration.minutes(1)
   */
  readonly every?: Duration;
  /**
   * How far behind the clock a quiet shard's event-time maximum is put: records whose event time lags their
   * arrival by less than this plus the allowed lateness are never made late by a tick.
   * @default Duration.seconds(60)
   */
  readonly margin?: Duration;
}

export interface IdleShardTickProps extends IdleShardsOptions {
  readonly pipelineName: string;
  readonly specJson: string;
  readonly stream: kinesis.IStream;
  readonly stateTable: dynamodb.ITable;
  readonly finalsBucket: FinalsBucket;
  readonly deadLetterQueue: sqs.IQueue;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Runs the function in a VPC (the stack's network option).
   * @default - outside any VPC
   */
  readonly placement?: FunctionPlacement;
}

/** Refuses a schedule EventBridge cannot express or a negative margin. */
export function validateIdleShardsOptions(o: IdleShardsOptions, owner = 'IdleShardTick'): void {
  if (o.every !== undefined && !o.every.isUnresolved()) {
    const m = o.every.toMinutes({ integral: false });
    if (!Number.isInteger(m) || m < 1 || m > 60) throw new PipelinePropsError(`${owner}: every must be 1 to 60 whole minutes (got ${o.every.toHumanString()})`);
  }
  if (o.margin !== undefined && !o.margin.isUnresolved() && o.margin.toMilliseconds() < 0) {
    throw new PipelinePropsError(`${owner}: margin must not be negative (got ${o.margin.toHumanString()})`);
  }
}

/**
 * A scheduled function advancing the watermark of quiet shards whose consumer is verifiably caught up (nothing
 * unread after its checkpoint), so their windows become final (lambda/adapters/idle-shards.ts).
 */
export class IdleShardTick extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: IdleShardTickProps) {
    super(scope, id);
    validateIdleShardsOptions(props);
    const every = props.every ?? Duration.minutes(1);
    const margin = props.margin ?? Duration.seconds(60);
    const { logGroup, role } = functionIdentity(this, {
      description: `Idle-shard tick of feature pipeline ${props.pipelineName}`,
      logRetention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodeFunctionBase(IDLE_TICK_ENTRY),
      memorySize: 512,
      timeout: Duration.seconds(Math.min(50, every.toSeconds() - 10)),
      role,
      logGroup,
      ...placeFunction(role, props.placement),
      // One tick at a time: a slow tick is never overtaken by the next.
      reservedConcurrentExecutions: 1,
      description: `Advances quiet shards of pipeline ${props.pipelineName} by the clock`,
      environment: {
        [CONSUMER_ENV.spec]: props.specJson,
        [CONSUMER_ENV.pipelineName]: props.pipelineName,
        [CONSUMER_ENV.stateTableName]: props.stateTable.tableName,
        [CONSUMER_ENV.finalsBucketName]: props.finalsBucket.bucket.bucketName,
        [CONSUMER_ENV.deadLetterQueueUrl]: props.deadLetterQueue.queueUrl,
        [CONSUMER_ENV.serviceName]: 'idle-shard-tick',
        [CONSUMER_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [IDLE_TICK_ENV.streamName]: props.stream.streamName,
        [IDLE_TICK_ENV.marginMs]: String(margin.toMilliseconds()),
        ...SOURCE_MAP_ENV,
      },
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'StateTableItemAccess', actions: [...CONSUMER_TABLE_ACTIONS], resources: [props.stateTable.tableArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'StreamPositionRead', actions: [...IDLE_TICK_STREAM_ACTIONS], resources: [props.stream.streamArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DeadLetterQueueSend', actions: [...CONSUMER_QUEUE_ACTIONS], resources: [props.deadLetterQueue.queueArn] }));
    props.finalsBucket.grantPutPipelineObjects(role, props.pipelineName);
    grantKeyUse(role, [
      [props.stateTable.encryptionKey, 'tableReadWrite'],
      [props.stream.encryptionKey, 'recordsRead'],
      [props.deadLetterQueue.encryptionMasterKey, 'messagesSend'],
      [props.finalsBucket.bucket.encryptionKey, 'objectWrite'],
    ]);
    this.rule = new events.Rule(this, 'Schedule', { schedule: events.Schedule.rate(every), description: `Idle-shard tick of pipeline ${props.pipelineName}` });
    this.rule.addTarget(new targets.LambdaFunction(this.function, { retryAttempts: 0 }));
    Validations.of(this.rule.node.defaultChild as events.CfnRule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason: 'A schedule event carries no data to keep: a tick that could not be delivered is repeated by the next one.',
    });
    acknowledgeRuntime(
      this.function,
      { id: 'Serverless-LambdaDLQ', reason: 'A failed tick is not retried or kept: the next scheduled tick repeats it with a fresher clock.' },
      { id: 'Serverless-LambdaTracing', reason: 'A scheduled function with no caller to link to; its outcome is the IdleAdvances metric and its log line.' },
    );
  }
}
