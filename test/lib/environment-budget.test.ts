/**
 * Lambda allows 4 KB for a function's environment (names and values). The spec loader lets the minified spec, plus
 * the model document with scoring, take documentBudgetBytes(spec); this checks on synthesized stacks that
 * everything else in each function's environment fits in the rest, with every name only known at deploy time
 * counted at the longest the service allows and the pipeline name at its longest.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_ENV, LABELS_ENV } from '../../lambda/contract/resources';
import { parseSpecJson } from '../../lambda/core/spec';
import { LAMBDA_ENVIRONMENT_BYTES, MAX_SPEC_BYTES, SCORING_ENV_RESERVE_BYTES, documentBudgetBytes } from '../../lib/spec-loader';
import { FEATURES_ONLY, FRAUD_SPEC_JSON, buildPipeline } from './fixtures';

/** Longest value a deploy-time reference can take, by the type of resource it refers to. */
const LONGEST_REF: Record<string, number> = {
  // DynamoDB table names: up to 255 characters.
  'AWS::DynamoDB::Table': 255,
  // Kinesis stream names: up to 128.
  'AWS::Kinesis::Stream': 128,
  // Bucket names: up to 63.
  'AWS::S3::Bucket': 63,
  // Queue URLs: https://sqs.<region, up to 14>.amazonaws.com[.cn]/<12-digit account>/<name, up to 80>.
  'AWS::SQS::Queue': 'https://sqs.'.length + 14 + '.amazonaws.com.cn/'.length + 12 + 1 + 80,
};

const LONGEST_PIPELINE_NAME = `p${'x'.repeat(63)}`;

/** Bytes of a function's environment besides the documents, references at their longest. */
function otherBytes(built: ReturnType<typeof buildPipeline>, fn: { node: { defaultChild?: unknown } }, documents: readonly string[]): number {
  const resources = built.template.toJSON().Resources as Record<string, { Type: string; Properties: { Environment: { Variables: Record<string, unknown> } } }>;
  const vars = resources[built.stack.getLogicalId(fn.node.defaultChild as CfnElement)]?.Properties.Environment.Variables ?? {};
  let bytes = 0;
  for (const [name, value] of Object.entries(vars)) {
    bytes += Buffer.byteLength(name);
    if (documents.includes(name)) continue;
    if (typeof value === 'string') {
      bytes += Buffer.byteLength(value);
      continue;
    }
    const ref = (value as { Ref?: string }).Ref;
    const longest = ref === undefined ? undefined : LONGEST_REF[resources[ref]?.Type ?? ''];
    if (longest === undefined) throw new Error(`${name}: no bound for ${JSON.stringify(value)}`);
    bytes += longest;
  }
  return bytes;
}

describe('function environments fit in 4 KB', () => {
  let features: ReturnType<typeof buildPipeline>;
  let built: ReturnType<typeof buildPipeline>;
  beforeAll(() => {
    features = buildPipeline({ ...FEATURES_ONLY, pipelineName: LONGEST_PIPELINE_NAME });
    built = buildPipeline({ pipelineName: LONGEST_PIPELINE_NAME });
  });

  it('the consumer without scoring: the spec budget plus everything else', () => {
    const rest = otherBytes(features, features.stack.consumer.function, [CONSUMER_ENV.spec]);
    expect(rest).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES - MAX_SPEC_BYTES);
    // The figure docs/semantics.md §1 quotes.
    expect(rest).toBe(845);
  });

  it('the consumer with scoring: spec and model budget plus everything else, the scoring variables included', () => {
    const budget = documentBudgetBytes(parseSpecJson(FRAUD_SPEC_JSON));
    expect(budget).toBe(MAX_SPEC_BYTES - SCORING_ENV_RESERVE_BYTES);
    const rest = otherBytes(built, built.stack.consumer.function, [CONSUMER_ENV.spec, CONSUMER_ENV.modelDocument]);
    expect(rest).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES - budget);
    expect(rest).toBe(1287);
    // The reserve is exactly what the three scoring variables add at their longest.
    expect(rest - otherBytes(features, features.stack.consumer.function, [CONSUMER_ENV.spec])).toBe(SCORING_ENV_RESERVE_BYTES);
  });

  it('the labels consumer: the spec budget plus everything else', () => {
    const fn = built.stack.labelsConsumer?.function;
    expect(fn).toBeDefined();
    const rest = otherBytes(built, fn as NonNullable<typeof fn>, [LABELS_ENV.spec]);
    expect(rest).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES - documentBudgetBytes(parseSpecJson(FRAUD_SPEC_JSON)));
  });
});
