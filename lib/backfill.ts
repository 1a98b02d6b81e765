import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ARCHIVE_OBJECT_PREFIX, BACKFILL_ENV, BACKFILL_INPUT_ERRORS, BACKFILL_OBJECT_PREFIX, BACKFILL_STATES, BACKFILL_WORK_PREFIX } from '../lambda/contract/resources';
import { grantKeyUse } from './encryption';
import { PipelinePropsError } from './errors';
import { type FunctionPlacement, placeFunction } from './network';
import { SOURCE_MAP_ENV, acknowledgeRuntime, functionIdentity, handlerEntry, nodeFunctionBase } from './node-function';

/** Source of the backfill worker. */
export const BACKFILL_ENTRY = handlerEntry('backfill');

/** The backfill state machine's tuning. */
export interface BackfillOptions {
  /**
   * Memory of each worker, in MB (Lambda's CPU share grows with it): a partition worker holds its open windows
   * and its outputs.
   * @default 3008
   */
  readonly memorySize?: number;
  /**
   * Worker timeout: a segment (an archive hour) or a partition must finish within it; 15 minutes at most.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Children each Distributed Map runs at once (1 to 10,000): bounded by the account's Lambda concurrency.
   * @default 100
   */
  readonly maxConcurrency?: number;
  /**
   * Retries of a failed worker (each rewrites the same objects, so a retry has exactly-once effect), 0 to 10.
   * @default 2
   */
  readonly retries?: number;
}

export interface BackfillProps extends BackfillOptions {
  readonly pipelineName: string;
  readonly specJson: string;
  /** The archive bucket: the source, and where runs write their objects (under `backfill/<pipeline>/`). */
  readonly bucket: s3.IBucket;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Runs the function in a VPC (the stack's network option).
   * @default - outside any VPC
   */
  readonly placement?: FunctionPlacement;
}

export function validateBackfillOptions(o: BackfillOptions, owner = 'Backfill'): void {
  if (o.memorySize !== undefined && (!Number.isInteger(o.memorySize) || o.memorySize < 128 || o.memorySize > 10_240)) {
    throw new PipelinePropsError(`${owner}: memorySize must be an integer from 128 to 10240 MB, got ${o.memorySize}`);
  }
  if (o.timeout !== undefined && !o.timeout.isUnresolved() && (o.timeout.toSeconds() < 1 || o.timeout.toSeconds() > 900)) {
    throw new PipelinePropsError(`${owner}: timeout must be 1 second to 15 minutes, got ${o.timeout.toHumanString()}`);
  }
  if (o.maxConcurrency !== undefined && (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < 1 || o.maxConcurrency > 10_000)) {
    throw new PipelinePropsError(`${owner}: maxConcurrency must be an integer from 1 to 10000, got ${o.maxConcurrency}`);
  }
  if (o.retries !== undefined && (!Number.isInteger(o.retries) || o.retries < 0 || o.retries > 10)) {
    throw new PipelinePropsError(`${owner}: retries must be an integer from 0 to 10, got ${o.retries}`);
  }
}

/**
 * The backfill's state machine over one worker function (docs/history.md, "Backfills"): Plan → a Distributed Map
 * planning each segment → Combine → a Distributed Map running each partition → Finish. States carry object names
 * and indexes, never records. `npm run backfill` runs this same definition locally (bin/backfill/).
 */
export function backfillDefinition(scope: Construct, fn: lambda.IFunction, o: BackfillOptions = {}): sfn.IChainable {
  const maxConcurrency = o.maxConcurrency ?? 100;
  const retries = o.retries ?? 2;
  // A task waits for its worker's whole timeout, and a little more for the invocation itself.
  const taskTimeout = sfn.Timeout.duration(Duration.seconds((o.timeout ?? Duration.minutes(15)).toSeconds() + 30));
  const step = (id: string, payload: Record<string, unknown>, quiet = false): tasks.LambdaInvoke => {
    const t = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      taskTimeout,
      // A fanned-out worker's answer is dropped (its objects are the result), so the Map's array of results stays
      // a word per child, far below the 256 KB state limit.
      ...(quiet ? { resultSelector: { done: true } } : {}),
    });
    // Bad input fails the run at once: a retry would read the same bytes. Throttling and Lambda's own errors are
    // retried longer, with jitter (thousands of workers start together); any other failure `retries` times.
    t.addRetry({ errors: [...BACKFILL_INPUT_ERRORS], maxAttempts: 0 });
    t.addRetry({ errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'], maxAttempts: 8, interval: Duration.seconds(2), backoffRate: 2, maxDelay: Duration.seconds(60), jitterStrategy: sfn.JitterType.FULL });
    if (retries > 0) t.addRetry({ errors: ['States.ALL'], maxAttempts: retries, interval: Duration.seconds(2), backoffRate: 2 });
    return t;
  };
  // A Distributed Map over the indexes at `itemsPath`, each child one worker task: `{action, run, [action]: index}`.
  const fanOut = (mapId: string, workerId: string, action: 'segment' | 'partition', itemsPath: string): sfn.DistributedMap => {
    const map = new sfn.DistributedMap(scope, mapId, {
      itemsPath,
      itemSelector: { run: sfn.JsonPath.objectAt('$.run'), [action]: sfn.JsonPath.numberAt('$$.Map.Item.Value') },
      maxConcurrency,
      // The workers' results are their objects; the state keeps only names.
      resultPath: sfn.JsonPath.DISCARD,
    });
    map.itemProcessor(step(workerId, { action, run: sfn.JsonPath.objectAt('$.run'), [action]: sfn.JsonPath.numberAt(`$.${action}`) }, true));
    return map;
  };
  const plan = step(BACKFILL_STATES.plan, { action: 'plan', request: sfn.JsonPath.objectAt('$') });
  const segments = fanOut(BACKFILL_STATES.segments, BACKFILL_STATES.segment, 'segment', '$.segments');
  const combine = step(BACKFILL_STATES.combine, { action: 'combine', run: sfn.JsonPath.objectAt('$.run') });
  const partitions = fanOut(BACKFILL_STATES.partitions, BACKFILL_STATES.partition, 'partition', '$.partitions');
  const finish = step(BACKFILL_STATES.finish, { action: 'finish', run: sfn.JsonPath.objectAt('$.run') });
  return plan.next(segments).next(combine).next(partitions).next(finish);
}

/** A run stops after a day: Step Functions' own limit is a year, a stuck backfill should not wait that long. */
export const BACKFILL_RUN_TIMEOUT = Duration.hours(24);

/** The backfill worker function and its state machine. */
export class Backfill extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly stateMachine: sfn.StateMachine;

  public constructor(scope: Construct, id: string, props: BackfillProps) {
    super(scope, id);
    validateBackfillOptions(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { logGroup, role } = functionIdentity(this, {
      description: `Backfill worker of feature pipeline ${props.pipelineName}`,
      logRetention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodeFunctionBase(BACKFILL_ENTRY),
      memorySize: props.memorySize ?? 3008,
      timeout: props.timeout ?? Duration.minutes(15),
      role,
      logGroup,
      ...placeFunction(role, props.placement),
      environment: {
        ...SOURCE_MAP_ENV,
        [BACKFILL_ENV.spec]: props.specJson,
        [BACKFILL_ENV.pipelineName]: props.pipelineName,
        [BACKFILL_ENV.bucketName]: props.bucket.bucketName,
        [BACKFILL_ENV.archiveBucketName]: props.bucket.bucketName,
      },
    });
    this.grantObjects(role, props.bucket, props.pipelineName);
    grantKeyUse(role, [
      [props.bucket.encryptionKey, 'objectRead'],
      [props.bucket.encryptionKey, 'objectWrite'],
    ]);
    acknowledgeRuntime(
      this.function,
      { id: 'Serverless-LambdaDLQ', reason: 'The state machine invokes the worker synchronously and retries it; a failed run is the execution\'s failure, with its error.' },
      { id: 'Serverless-LambdaTracing', reason: 'The state machine is traced; a worker is one task of it.' },
    );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(backfillDefinition(this, this.function, props)),
      timeout: BACKFILL_RUN_TIMEOUT,
    });
    const stack = Stack.of(this);
    const machineId = stack.getLogicalId(this.stateMachine.node.defaultChild as sfn.CfnStateMachine);
    const fnId = stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction);
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machineId}"}]}]}`;
    const mapPolicy = this.stateMachine.node.findChild('DistributedMapPolicy').node.defaultChild as iam.CfnPolicy;
    Validations.of(mapPolicy).acknowledge(
      { id: `AwsSolutions-IAM5[Resource::${executions}:*]`, reason: 'A Distributed Map describes and stops the child executions it starts, whose names it makes.' },
      { id: `AwsSolutions-IAM5[Resource::${executions}/*:*]`, reason: 'A Distributed Map describes and stops the child executions it starts, whose names it makes.' },
    );
    const machinePolicy = this.stateMachine.role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy;
    Validations.of(machinePolicy).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`, reason: 'The state machine invokes its one worker function, any of its versions.' });
    Validations.of(this.stateMachine.node.defaultChild as sfn.CfnStateMachine).acknowledge(
      {
        id: 'AwsSolutions-SF1',
        reason: 'Each execution keeps its own history (every state, input, output and error) for 90 days; log delivery would need a grant on every log group (*).',
      },
      { id: 'AwsSolutions-SF2', reason: 'X-Ray needs a grant on * and traces of thousands of Distributed Map children add little to the execution history.' },
      { id: 'Serverless-StepFunctionStateMachineXray', reason: 'X-Ray needs a grant on * and traces of thousands of Distributed Map children add little to the execution history.' },
    );
  }

  /** Reads the pipeline's archive; reads and writes its runs' objects; nothing else in the bucket. */
  private grantObjects(role: iam.Role, bucket: s3.IBucket, pipelineName: string): void {
    const archive = `${ARCHIVE_OBJECT_PREFIX}/${pipelineName}/`;
    const runs = `${BACKFILL_OBJECT_PREFIX}/${pipelineName}/`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ArchiveRead', actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${archive}*`)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ArchiveList', actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${archive}*`] } } }));
    const work = `${BACKFILL_WORK_PREFIX}/${pipelineName}/`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RunObjects', actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects(`${runs}*`), bucket.arnForObjects(`${work}*`)] }));
    const bucketId = Stack.of(this).getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy).acknowledge(
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${archive}*]`, reason: `Archive objects are named per batch under ${archive}; the worker may only read them.` },
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${runs}*]`, reason: `Run objects are named per run under ${runs}; the worker may read and write only there.` },
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${work}*]`, reason: `A run's intermediate objects are named per run under ${work}; the worker may read and write only there.` },
    );
  }
}
