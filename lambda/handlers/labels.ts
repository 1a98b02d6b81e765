/**
 * Labels consumer (streaming evaluation): parse → join → count → finalize → metrics. Failures throw, so Lambda
 * retries (or bisects) the batch; counts are conditional on per-shard checkpoints, so a retry counts nothing twice.
 * Bad, late, unmatched and conflicting labels go to the dead-letter queue and the batch proceeds.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { type ClientHook, dynamoClient, hooked, sqsClient } from '../adapters/aws-clients';
import { DeadLetterSender } from '../adapters/dead-letters';
import { evaluationMetrics, publishFinalWindowMetrics, publishLabelMetrics } from '../adapters/evaluation-metrics';
import { EvaluationStore } from '../adapters/evaluation-store';
import { type ArrivalClock, toInputRecords } from '../adapters/kinesis-records';
import { type LabelsConfig, labelsConfigFromEnv } from '../adapters/labels-config';
import { type LabelsOutcome, processLabels } from '../adapters/labels-processor';
import type { WriteGate } from '../adapters/state-store';

export { publishClosedWindowMetrics } from '../adapters/evaluation-metrics';

export interface CreateLabelsConsumerOptions {
  readonly config: LabelsConfig;
  /** Called before every write (fault injection). */
  readonly writeGate?: WriteGate;
  /** Receives each batch's outcome (the local sandbox's figures). */
  readonly onOutcome?: (o: LabelsOutcome) => void;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Recorded arrival times replacing approximateArrivalTimestamp (the sandbox replaying a file). */
  readonly arrivalClock?: ArrivalClock;
  readonly clientHook?: ClientHook;
}

export function createLabelsConsumer(opts: CreateLabelsConsumerOptions): (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse> {
  const { config } = opts;
  const logger = opts.logger ?? new Logger({ serviceName: config.pipelineName });
  const metrics = opts.metrics ?? evaluationMetrics(config.pipelineName);
  const dynamo = hooked(dynamoClient({ maxAttempts: 8 }), opts.clientHook);
  const sqs = hooked(sqsClient({ maxAttempts: 8 }), opts.clientHook);
  const gate = opts.writeGate ? { writeGate: opts.writeGate } : {};
  return async (event) => {
    const records = event.Records.flatMap((r) => toInputRecords(r, opts.arrivalClock));
    const outcome = await processLabels(records, {
      spec: config.spec,
      store: new EvaluationStore({ client: dynamo, tableName: config.predictionsTable, evaluation: config.evaluation, ...gate }),
      deadLetters: new DeadLetterSender({ client: sqs, queueUrl: config.deadLetterQueueUrl, source: 'labels', ...gate }),
      onFinal: (final) => publishFinalWindowMetrics(metrics, final),
    });
    publishLabelMetrics(metrics, outcome);
    logger.info('labels batch processed', { shard: records[0]?.shard, firstSeq: records[0]?.seq, ...outcome.counters, finalWindows: outcome.final.map((w) => ({ windowStart: w.windowStart, ...w.metrics })) });
    opts.onOutcome?.(outcome);
    return { batchItemFailures: [] };
  };
}

let consumer: ReturnType<typeof createLabelsConsumer> | undefined;

/** Lambda entry point: configuration comes from the environment the stack sets, read on first use. */
export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  consumer ??= createLabelsConsumer({ config: labelsConfigFromEnv() });
  return consumer(event);
};
