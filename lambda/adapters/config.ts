/**
 * Consumer configuration from the environment the CDK stack sets (variable names from the definitions the stack
 * uses too); a missing or bad value fails loudly at start.
 */
import { CONSUMER_ENV, EVENT_SOURCE_LIMITS } from '../contract/resources';
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
  /** Bucket of the result objects (final windows, firings, corrections). */
  readonly resultsBucket: string;
  readonly deadLetterQueueUrl: string;
  readonly parallelizationFactor: number;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`environment variable ${name} is required`);
  return v;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConsumerConfig {
  const pfName = CONSUMER_ENV.parallelizationFactor;
  const { min, max } = EVENT_SOURCE_LIMITS.parallelizationFactor;
  const pf = Number(env[pfName] ?? '1');
  if (!Number.isInteger(pf) || pf < min || pf > max) throw new ConfigError(`${pfName} must be an integer from ${min} to ${max}, got "${env[pfName]}"`);
  return {
    spec: parseSpecJson(required(env, CONSUMER_ENV.spec)),
    pipelineName: env[CONSUMER_ENV.pipelineName] ?? 'default',
    stateTable: required(env, CONSUMER_ENV.stateTableName),
    resultsBucket: required(env, CONSUMER_ENV.resultsBucketName),
    deadLetterQueueUrl: required(env, CONSUMER_ENV.deadLetterQueueUrl),
    parallelizationFactor: pf,
  };
}
