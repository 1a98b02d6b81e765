/**
 * Consumer configuration from the environment the CDK stack sets; a missing or bad value fails loudly at start.
 */
import { type PipelineSpec, parseSpecJson } from '../core/spec';

export class ConfigError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConsumerConfig {
  readonly spec: PipelineSpec;
  readonly pipelineName: string;
  readonly stateTable: string;
  readonly featureTable: string;
  readonly deadLetterQueueUrl: string;
  readonly parallelizationFactor: number;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`environment variable ${name} is required`);
  return v;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConsumerConfig {
  const pf = Number(env.PARALLELIZATION_FACTOR ?? '1');
  if (!Number.isInteger(pf) || pf < 1 || pf > 10) throw new ConfigError(`PARALLELIZATION_FACTOR must be an integer from 1 to 10, got "${env.PARALLELIZATION_FACTOR}"`);
  return {
    spec: parseSpecJson(required(env, 'PIPELINE_SPEC')),
    pipelineName: env.PIPELINE_NAME ?? 'default',
    stateTable: required(env, 'STATE_TABLE_NAME'),
    featureTable: required(env, 'FEATURE_TABLE_NAME'),
    deadLetterQueueUrl: required(env, 'DEAD_LETTER_QUEUE_URL'),
    parallelizationFactor: pf,
  };
}
