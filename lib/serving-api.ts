import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SERVING_ENV, SERVING_FUNCTION_DEFAULTS, SERVING_TABLE_ACTIONS } from '../lambda/contract/resources';
import type { ConsumerLogLevel } from './consumer';
import { grantKeyUse } from './encryption';
import { PipelinePropsError, checkDuration, checkInteger } from './errors';
import { type FunctionPlacement, placeFunction } from './network';
import { SOURCE_MAP_ENV, acknowledgeRuntime, functionIdentity, handlerEntry, nodeFunctionBase } from './node-function';

/** Source of the features endpoint's handler. */
export const SERVING_ENTRY = handlerEntry('features');

/** Powertools service name of the serving function. */
export const SERVING_SERVICE_NAME = 'feature-serving';

/** A request path's settings: a model server waits on this function. */
export const SERVING_TIMEOUT_MAX = Duration.seconds(30);

/** Tuning of the serving function. */
export interface ServingApiOptions {
  /**
   * Memory of the function in MB; CPU, and so the time to decode up to 100 items, grows with it.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Function timeout, at most 30 seconds: a model server waiting longer for features has given up already.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for serving, so a burst of requests cannot starve the consumer (or the reverse).
   * @default - no reservation
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Level of the function's structured log.
   * @default 'INFO'
   */
  readonly logLevel?: ConsumerLogLevel;
  /**
   * Share of served keys the function logs (key, time, values; one JSON line each) for `npm run consistency`, 0 to 1.
   * @default 0 - none
   */
  readonly servedSampleRate?: number;
}

export interface ServingApiProps extends ServingApiOptions {
  readonly pipelineName: string;
  /** The validated spec as minified JSON, shipped in PIPELINE_SPEC. */
  readonly specJson: string;
  /** Serving reads each key's item here; it may not write. */
  readonly stateTable: dynamodb.ITable;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Runs the function in a VPC (the stack's network option).
   * @default - outside any VPC
   */
  readonly placement?: FunctionPlacement;
}

/**
 * The features endpoint: a Lambda function behind a function URL with IAM authorization. A function URL rather
 * than an API Gateway HTTP API: the same SigV4 authorization, no per-request API Gateway charge and no extra hop
 * on a model server's request path; what an HTTP API adds (custom domains, JWT authorizers, stage throttling)
 * the callers, other services of the same account, do not need.
 */
export class ServingApi extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly functionUrl: lambda.FunctionUrl;

  public constructor(scope: Construct, id: string, props: ServingApiProps) {
    super(scope, id);
    validateServingApiOptions(props);

    ({ logGroup: this.logGroup, role: this.role } = functionIdentity(this, {
      description: `Features endpoint of feature pipeline ${props.pipelineName}`,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    }));

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodeFunctionBase(SERVING_ENTRY),
      memorySize: props.memorySize ?? SERVING_FUNCTION_DEFAULTS.memorySizeMb,
      timeout: props.timeout ?? Duration.seconds(SERVING_FUNCTION_DEFAULTS.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      ...placeFunction(this.role, props.placement),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      description: `Online features of pipeline ${props.pipelineName}, as of request time`,
      environment: {
        [SERVING_ENV.spec]: props.specJson,
        [SERVING_ENV.pipelineName]: props.pipelineName,
        [SERVING_ENV.stateTableName]: props.stateTable.tableName,
        [SERVING_ENV.serviceName]: SERVING_SERVICE_NAME,
        [SERVING_ENV.logLevel]: props.logLevel ?? 'INFO',
        [SERVING_ENV.servedSampleRate]: String(props.servedSampleRate ?? 0),
        ...SOURCE_MAP_ENV,
      },
    });

    // Whole items by key, nothing else: no Query, no Scan, no write.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTableItemRead',
        actions: [...SERVING_TABLE_ACTIONS],
        resources: [props.stateTable.tableArn],
      }),
    );

    grantKeyUse(this.role, [[props.stateTable.encryptionKey, 'tableRead']]);

    // No anonymous access: callers sign with SigV4 and need lambda:InvokeFunctionUrl (see grantInvoke).
    this.functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });

    acknowledgeRuntime(
      this.function,
      {
        id: 'Serverless-LambdaDLQ',
        reason: 'Invoked synchronously through its function URL only; a failed request is answered to its caller, there is no asynchronous event to keep.',
      },
      {
        id: 'Serverless-LambdaTracing',
        reason: 'One DynamoDB read round per 100 keys; the function URL latency and Lambda duration metrics (alarmed at p99) locate slowness without X-Ray.',
      },
    );
  }

  /** The endpoint's address, ending in '/'. */
  public get url(): string {
    return this.functionUrl.url;
  }

  /** Lets `grantee` (a model server's role) call the endpoint. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvokeUrl(grantee);
  }
}

/** Refuses settings Lambda would reject, or that make no sense on a request path. */
export function validateServingApiOptions(props: ServingApiOptions): void {
  const owner = 'ServingApi';
  checkInteger(owner, 'memorySize', props.memorySize, 128, 10_240);
  checkDuration(owner, 'timeout', props.timeout, SERVING_TIMEOUT_MAX);
  checkInteger(owner, 'reservedConcurrentExecutions', props.reservedConcurrentExecutions, 1, 1_000_000);
  const rate = props.servedSampleRate;
  if (rate !== undefined && !Token.isUnresolved(rate) && !(rate >= 0 && rate <= 1)) throw new PipelinePropsError(`${owner}: servedSampleRate must be a number from 0 to 1 (got ${rate})`);
}
