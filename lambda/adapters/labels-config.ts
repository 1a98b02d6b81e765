/**
 * Labels consumer configuration from the environment the stack sets (LABELS_ENV); a missing or bad value fails
 * loudly at start.
 */
import { LABELS_ENV } from '../contract/resources';
import { type EvaluationSpec, type PipelineSpec, parseSpecJson } from '../core/spec';
import { ConfigError, requiredVariable as required } from './config';

export interface LabelsConfig {
  readonly spec: PipelineSpec;
  /** The spec's evaluation section (required here). */
  readonly evaluation: EvaluationSpec;
  readonly pipelineName: string;
  readonly predictionsTable: string;
  readonly deadLetterQueueUrl: string;
}

export function labelsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LabelsConfig {
  const spec = parseSpecJson(required(env, LABELS_ENV.spec));
  if (spec.evaluation === undefined) throw new ConfigError(`the spec in ${LABELS_ENV.spec} has no evaluation section: the labels consumer needs one`);
  return {
    spec,
    evaluation: spec.evaluation,
    pipelineName: env[LABELS_ENV.pipelineName] ?? 'default',
    predictionsTable: required(env, LABELS_ENV.predictionsTableName),
    deadLetterQueueUrl: required(env, LABELS_ENV.deadLetterQueueUrl),
  };
}
