import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambda/contract/metric-names';
import { CONSUMER_QUEUE_ACTIONS, LABELS_ENV, LABELS_TABLE_ACTIONS } from '../lambda/contract/resources';
import { type PipelineConsumerOptions, acknowledgeStreamFunction, streamEventSource, validatePipelineConsumerOptions } from './consumer';
import { grantKeyUse } from './encryption';
import { PipelinePropsError } from './errors';
import { type FunctionPlacement, placeFunction } from './network';
import { SOURCE_MAP_ENV, functionIdentity, handlerEntry, nodeFunctionBase } from './node-function';

/** Source of the labels consumer's handler. */
export const LABELS_ENTRY = handlerEntry('labels');

/** Powertools service name of the labels consumer. */
export const LABELS_SERVICE_NAME = 'labels-consumer';

/** Defaults of the labels consumer: a batch of labels is a few reads and conditional updates per label. */
export const LABELS_FUNCTION_DEFAULTS = { memorySizeMb: 512, timeoutSeconds: 60 } as const;

/**
 * Tuning of the labels consumer and its event source mapping; the same settings as the feature consumer's, but
 * one batch per shard at a time: each evaluation window keeps one label checkpoint per shard, which concurrent
 * batches of a shard would keep moving under each other.
 */
export interface LabelsConsumerOptions extends Omit<PipelineConsumerOptions, 'parallelizationFactor' | 'memorySize'> {
  /**
   * Memory of the function in MB.
   * @default 512
   */
  readonly memorySize?: number;
}

export interface LabelsConsumerProps extends LabelsConsumerOptions {
  readonly pipelineName: string;
  /** The validated spec as minified JSON (with its evaluation section), shipped in PIPELINE_SPEC. */
  readonly specJson: string;
  /** The labels stream producers write labels (chargebacks, reviews) to. */
  readonly stream: kinesis.IStream;
  /** Where predictions and evaluation windows are; labels are joined there. */
  readonly predictionsTable: dynamodb.ITable;
  /** FIFO queue of late, unmatched, conflicting and invalid labels, with their reason. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Standard queue the event source mapping sends abandoned batches to. */
  readonly onFailureQueue: sqs.IQueue;
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
 * The evaluation pattern's consumer: reads the labels stream, joins each label to its prediction exactly once,
 * counts it in its evaluation window, and emits a window's precision and recall once its label window has passed.
 */
export class LabelsConsumer extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly eventSource: KinesisEventSource;

  public constructor(scope: Construct, id: string, props: LabelsConsumerProps) {
    super(scope, id);
    validateLabelsConsumerOptions(props);

    ({ logGroup: this.logGroup, role: this.role } = functionIdentity(this, {
      description: `Labels consumer of feature pipeline ${props.pipelineName}`,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    }));

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodeFunctionBase(LABELS_ENTRY),
      memorySize: props.memorySize ?? LABELS_FUNCTION_DEFAULTS.memorySizeMb,
      timeout: props.timeout ?? Duration.seconds(LABELS_FUNCTION_DEFAULTS.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      ...placeFunction(this.role, props.placement),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      description: `Labels consumer (evaluation) of pipeline ${props.pipelineName}`,
      environment: {
        [LABELS_ENV.spec]: props.specJson,
        [LABELS_ENV.pipelineName]: props.pipelineName,
        [LABELS_ENV.predictionsTableName]: props.predictionsTable.tableName,
        [LABELS_ENV.deadLetterQueueUrl]: props.deadLetterQueue.queueUrl,
        [LABELS_ENV.serviceName]: LABELS_SERVICE_NAME,
        [LABELS_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [LABELS_ENV.logLevel]: props.logLevel ?? 'INFO',
        ...SOURCE_MAP_ENV,
      },
    });

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PredictionsTableLabelJoin',
        actions: [...LABELS_TABLE_ACTIONS],
        resources: [props.predictionsTable.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeadLetterQueueSend',
        actions: [...CONSUMER_QUEUE_ACTIONS],
        resources: [props.deadLetterQueue.queueArn],
      }),
    );

    grantKeyUse(this.role, [
      [props.predictionsTable.encryptionKey, 'tableReadWrite'],
      [props.deadLetterQueue.encryptionMasterKey, 'messagesSend'],
      [props.onFailureQueue.encryptionMasterKey, 'messagesSend'],
      [props.stream.encryptionKey, 'recordsRead'],
    ]);

    this.eventSource = streamEventSource(props.stream, props.onFailureQueue, props, 1);
    this.function.addEventSource(this.eventSource);
    acknowledgeStreamFunction(this.function);
  }
}

/** Refuses what the service would reject, and concurrent batches per shard. */
export function validateLabelsConsumerOptions(props: LabelsConsumerOptions): void {
  const pf = (props as PipelineConsumerOptions).parallelizationFactor;
  if (pf !== undefined && pf !== 1) {
    throw new PipelinePropsError(
      `LabelsConsumer: parallelizationFactor must be 1 (got ${pf}); each evaluation window keeps one label checkpoint per shard, which concurrent batches of a shard would race on`,
    );
  }
  validatePipelineConsumerOptions(props, 'LabelsConsumer');
}
