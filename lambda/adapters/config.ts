/**
 * Consumer configuration from the environment the CDK stack sets (variable names from the definitions the stack
 * uses too); a missing or bad value fails loudly at start.
 */
import { CONSUMER_ENV, EVENT_SOURCE_LIMITS } from '../contract/resources';
import { type Model, ModelError, parseModel } from '../core/model';
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
  /** Bucket of the stream archive; absent: records are not archived. */
  readonly archiveBucket?: string;
  readonly deadLetterQueueUrl: string;
  readonly parallelizationFactor: number;
  /** With the spec's scoring section: the model and where predictions go. */
  readonly scoring?: ScoringConfig;
}

export interface ScoringConfig {
  readonly model: Model;
  readonly predictionsTable: string;
  readonly predictionsStream: string;
}

/** The variable's value; a ConfigError naming it when missing or blank. */
export function requiredVariable(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`environment variable ${name} is required`);
  return v;
}

/** `scoring: false` reads no scoring variables even when the spec has a scoring section (a function that scores nothing). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env, o: { readonly scoring?: boolean } = {}): ConsumerConfig {
  const pfName = CONSUMER_ENV.parallelizationFactor;
  const { min, max } = EVENT_SOURCE_LIMITS.parallelizationFactor;
  const pf = Number(env[pfName] ?? '1');
  if (!Number.isInteger(pf) || pf < min || pf > max) throw new ConfigError(`${pfName} must be an integer from ${min} to ${max}, got "${env[pfName]}"`);
  const spec = parseSpecJson(requiredVariable(env, CONSUMER_ENV.spec));
  if (spec.evaluation !== undefined && pf !== 1) throw new ConfigError(`${pfName} must be 1 with an evaluation section, got ${pf}: evaluation windows count each shard's predictions in sequence order`);
  return {
    spec,
    pipelineName: env[CONSUMER_ENV.pipelineName] ?? 'default',
    stateTable: requiredVariable(env, CONSUMER_ENV.stateTableName),
    resultsBucket: requiredVariable(env, CONSUMER_ENV.finalsBucketName),
    ...(env[CONSUMER_ENV.archiveBucketName]?.trim() ? { archiveBucket: env[CONSUMER_ENV.archiveBucketName]!.trim() } : {}),
    deadLetterQueueUrl: requiredVariable(env, CONSUMER_ENV.deadLetterQueueUrl),
    parallelizationFactor: pf,
    ...(spec.scoring === undefined || o.scoring === false ? {} : { scoring: scoringFromEnv(env, spec) }),
  };
}

function scoringFromEnv(env: NodeJS.ProcessEnv, spec: PipelineSpec): ScoringConfig {
  const name = CONSUMER_ENV.modelDocument;
  let doc: unknown;
  try {
    doc = JSON.parse(requiredVariable(env, name));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`environment variable ${name} is not JSON: ${(e as Error).message}`);
  }
  let model: Model;
  try {
    model = parseModel(doc, spec);
  } catch (e) {
    if (e instanceof ModelError) throw new ConfigError(`environment variable ${name}: ${e.message}`);
    throw e;
  }
  return { model, predictionsTable: requiredVariable(env, CONSUMER_ENV.predictionsTableName), predictionsStream: requiredVariable(env, CONSUMER_ENV.predictionsStreamName) };
}
