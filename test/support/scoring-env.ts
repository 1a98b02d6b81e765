/**
 * The feature consumer's resources with scoring on the emulators (its consumer env plus a predictions table and
 * stream), and one scored delivery through the batch processor, as the handler makes it.
 */
import { createActiveStream } from '../../bin/local/streams';
import { createActiveTable } from '../../bin/local/tables';
import { type BatchOutcome, processBatch } from '../../lambda/adapters/batch-processor';
import { EvaluationStore } from '../../lambda/adapters/evaluation-store';
import { kinesisClient } from '../../lambda/adapters/kinesis-client';
import { PredictionStore } from '../../lambda/adapters/prediction-store';
import type { WriteGate } from '../../lambda/adapters/state-store';
import { PREDICTIONS_TABLE } from '../../lambda/contract/resources';
import type { InputRecord } from '../../lambda/core/engine';
import type { Model } from '../../lambda/core/model';
import type { PipelineSpec } from '../../lambda/core/spec';
import { type ConsumerEnv, consumerStores, freshConsumerEnv } from './consumer-env';

export interface ScoringEnv extends ConsumerEnv {
  predictionsTable: string;
  predictionsStream: string;
}

let n = 0;

export async function freshScoringEnv(prefix: string): Promise<ScoringEnv> {
  const env = await freshConsumerEnv(prefix);
  const id = `${prefix}${++n}x${Date.now() % 100000}`;
  await Promise.all([createActiveTable(env.dynamo, PREDICTIONS_TABLE, `${id}-predictions`), createActiveStream(kinesisClient(), `${id}-predictions`)]);
  return { ...env, predictionsTable: `${id}-predictions`, predictionsStream: `${id}-predictions` };
}

export interface ScoredDelivery {
  readonly spec: PipelineSpec;
  readonly model: Model;
  readonly gate?: WriteGate;
  /** @default 1 */
  readonly parallelizationFactor?: number;
  /** @default a new store on the env's predictions table (with the spec's evaluation section) */
  readonly evaluation?: EvaluationStore;
  /** The consumer's clock. @default the batch's last arrival + 50 ms */
  readonly now?: number;
}

/** One delivery, its clock at the batch's last arrival + 50 ms unless given (deterministic, so retries run alike). */
export function deliverScored(env: ScoringEnv, records: readonly InputRecord[], o: ScoredDelivery): Promise<BatchOutcome> {
  const at = o.now ?? Math.max(...records.map((r) => r.arrivalTime ?? 0)) + 50;
  const gate = o.gate ? { writeGate: o.gate } : {};
  const ev = o.spec.evaluation;
  return processBatch(records, {
    spec: o.spec,
    pipelineName: 'test',
    parallelizationFactor: o.parallelizationFactor ?? 1,
    ...consumerStores(env, o.gate),
    now: () => at,
    scoring: {
      model: o.model,
      predictions: new PredictionStore({
        dynamo: env.dynamo,
        kinesis: kinesisClient(),
        tableName: env.predictionsTable,
        streamName: env.predictionsStream,
        evaluationWindowMs: ev?.windowMs ?? 3_600_000,
        keepMs: ev?.labelWindowMs ?? 0,
        ...gate,
      }),
      ...(ev === undefined ? {} : { evaluation: o.evaluation ?? new EvaluationStore({ client: env.dynamo, tableName: env.predictionsTable, evaluation: ev, ...gate }) }),
    },
  });
}
