import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../lambda/core/spec';
import type { PipelineConsumerOptions } from '../../lib/consumer';
import { PipelinePropsError } from '../../lib/errors';
import { type FinalsBucketOptions, type FinalsStorageClass, validateFinalsBucketOptions } from '../../lib/finals-bucket';
import type { MonitoringOptions } from '../../lib/monitoring';
import { PipelineStack, type PipelineStackProps } from '../../lib/pipeline-stack';
import type { ServingApiOptions } from '../../lib/serving-api';
import { MAX_SPEC_BYTES, SCORING_ENV_RESERVE_BYTES, SpecFileError, documentBudgetBytes, loadSpec, pipelineNameFromSpecPath, readSpecFile } from '../../lib/spec-loader';
import { EventStream } from '../../lib/stream';
import { FEATURES_ONLY_SPEC_JSON, FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING } from './fixtures';

/** Builds the stack without synthesizing: every check under test happens in constructors. */
function construct(overrides: Partial<PipelineStackProps>): PipelineStack {
  return new PipelineStack(new App({ context: NO_BUNDLING }), 'Props', {
    specJson: FRAUD_SPEC_JSON,
    modelJson: FRAUD_MODEL_JSON,
    pipelineName: 'fraud',
    ...overrides,
  });
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('spec', () => {
  it('a bad spec makes the stack constructor throw the engine error naming the field', () => {
    const bad = JSON.parse(FRAUD_SPEC_JSON) as { features: Array<{ window: { sizeMs: number } }> };
    (bad.features[0] as { window: { sizeMs: number } }).window.sizeMs = -5;
    const err = thrown(() => construct({ specJson: JSON.stringify(bad) }));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.name).toBe('SpecError');
    expect(err.message).toContain('features[0].window.sizeMs');
  });

  it('reports every problem and JSON syntax errors', () => {
    const err = thrown(() => construct({ specJson: '{"source": {}, "watermark": {}}' })) as SpecError;
    expect(err.problems).toEqual(
      expect.arrayContaining([
        'source.keyField must be a non-empty string; it is missing',
        'watermark.allowedLatenessMs must be a non-negative integer (milliseconds); it is missing',
      ]),
    );
    expect(thrown(() => construct({ specJson: '{ nope' })).message).toContain('spec is not valid JSON');
  });

  it('refuses a spec too large for the function environment', () => {
    const spec = JSON.parse(FEATURES_ONLY_SPEC_JSON) as { features: unknown[] };
    const template = { window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' };
    spec.features = Array.from({ length: 80 }, (_, i) => ({ name: `feature_number_${i}`, ...template }));
    const err = thrown(() => loadSpec(JSON.stringify(spec)));
    expect(err).toBeInstanceOf(SpecFileError);
    expect(err.message).toContain(String(MAX_SPEC_BYTES));
  });

  it('counts the model document in the budget, and leaves room for the scoring variables', () => {
    const budget = MAX_SPEC_BYTES - SCORING_ENV_RESERVE_BYTES;
    const { json, modelJson } = loadSpec(FRAUD_SPEC_JSON, FRAUD_MODEL_JSON);
    expect(documentBudgetBytes(JSON.parse(json))).toBe(budget);
    // A spec that fits alone, padded (with an unused feature name) until spec plus model is one byte over.
    const spec = JSON.parse(FRAUD_SPEC_JSON) as { features: Array<Record<string, unknown>> };
    const pad = budget + 1 - json.length - (modelJson ?? '').length - ',{"name":"","window":{"type":"tumbling","sizeMs":60000},"aggregate":"count"}'.length;
    spec.features.push({ name: 'p'.repeat(pad), window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' });
    const err = thrown(() => loadSpec(JSON.stringify(spec), FRAUD_MODEL_JSON));
    expect(err).toBeInstanceOf(SpecFileError);
    expect(err.message).toMatch(new RegExp(`^spec and model are \\d+ \\+ ${(modelJson ?? '').length} bytes once minified; at most ${budget} fit`));
    spec.features.at(-1)!.name = 'p'.repeat(pad - 1);
    expect(() => loadSpec(JSON.stringify(spec), FRAUD_MODEL_JSON)).not.toThrow();
  });

  it('ships the validated spec minified, with defaults applied', () => {
    const { json, spec } = loadSpec(JSON.stringify({ ...JSON.parse(FRAUD_SPEC_JSON), latePolicy: undefined }, null, 2));
    expect(json).not.toContain('\n');
    expect(spec.latePolicy).toBe('dlq');
    expect(JSON.parse(json)).toEqual(spec);
  });

  it('reads spec files relative to the working directory and names missing ones', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spec-'));
    writeFileSync(path.join(dir, 'mine.json'), FRAUD_SPEC_JSON);
    expect(readSpecFile('mine.json', dir)).toBe(FRAUD_SPEC_JSON);
    const err = thrown(() => readSpecFile('absent.json', dir));
    expect(err.name).toBe('SpecFileError');
    expect(err.message).toContain('absent.json');
    expect(pipelineNameFromSpecPath('bin/specs/fraud.json')).toBe('fraud');
  });
});

describe('bad props are refused before anything is built', () => {
  const consumerCases: Array<[string, PipelineConsumerOptions]> = [
    ['batchSize', { batchSize: 10_001 }],
    ['batchSize', { batchSize: 0 }],
    ['parallelizationFactor', { parallelizationFactor: 0 }],
    ['parallelizationFactor', { parallelizationFactor: 11 }],
    ['retryAttempts', { retryAttempts: -1 }],
    ['retryAttempts', { retryAttempts: 10_001 }],
    ['maxRecordAgeSeconds', { maxRecordAgeSeconds: 59 }],
    ['maxRecordAgeSeconds', { maxRecordAgeSeconds: 604_801 }],
    ['maxRecordAgeSeconds', { maxRecordAgeSeconds: -2 }],
    ['maxBatchingWindow', { maxBatchingWindow: Duration.seconds(301) }],
    ['memorySize', { memorySize: 64 }],
    ['timeout', { timeout: Duration.minutes(16) }],
    ['reservedConcurrentExecutions', { reservedConcurrentExecutions: 0 }],
    ['startingPositionTimestamp', { startingPosition: lambda.StartingPosition.AT_TIMESTAMP }],
    ['startingPositionTimestamp', { startingPositionTimestamp: 1_700_000_000 }],
  ];
  it.each(consumerCases)('consumer %s: %j', (prop, consumer) => {
    const err = thrown(() => construct({ consumer }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.name).toBe('PipelinePropsError');
    expect(err.message).toContain(prop);
  });

  it('refuses a parallelization factor above 1 with an evaluation section, naming it', () => {
    const err = thrown(() => construct({ consumer: { parallelizationFactor: 2 } }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toBe(
      "PipelineStack: consumer.parallelizationFactor must be 1 with an evaluation section (got 2): evaluation windows count each shard's predictions in sequence order",
    );
  });

  it('accepts the boundaries', () => {
    expect(() =>
      construct({
        specJson: FEATURES_ONLY_SPEC_JSON,
        modelJson: undefined,
        consumer: {
          batchSize: 10_000,
          parallelizationFactor: 10,
          retryAttempts: 0,
          maxRecordAgeSeconds: 604_800,
          maxBatchingWindow: Duration.seconds(0),
        },
        stream: { retentionPeriod: Duration.hours(8760) },
      }),
    ).not.toThrow();
    expect(() => construct({ consumer: { maxRecordAgeSeconds: -1 } })).not.toThrow();
  });

  const monitoringCases: Array<[string, MonitoringOptions]> = [
    ['iteratorAgeThreshold', { iteratorAgeThreshold: Duration.seconds(0) }],
    ['freshnessSlo', { freshnessSlo: Duration.millis(0) }],
    ['watermarkLagThreshold', { watermarkLagThreshold: Duration.seconds(0) }],
    ['deadLetterQueueDepthThreshold', { deadLetterQueueDepthThreshold: 0 }],
    ['deadLetterQueueAgeThreshold', { deadLetterQueueAgeThreshold: Duration.days(15) }],
    ['consumerErrorsThreshold', { consumerErrorsThreshold: -1 }],
    ['consumerThrottlesThreshold', { consumerThrottlesThreshold: 0 }],
    ['tableThrottlesThreshold', { tableThrottlesThreshold: 0 }],
    ['streamThroughputExceededThreshold', { streamThroughputExceededThreshold: Number.NaN }],
    ['servingErrorsThreshold', { servingErrorsThreshold: 0 }],
    ['servingLatencyP99Threshold', { servingLatencyP99Threshold: Duration.millis(0) }],
    ['alarmEmail', { alarmEmail: 'not-an-address' }],
  ];
  it.each(monitoringCases)('monitoring %s: %j', (prop, monitoring) => {
    const err = thrown(() => construct({ monitoring }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toContain(prop);
  });

  it.each([
    ['shardCount', { shardCount: 2 }],
    ['shardCount', { streamMode: kinesis.StreamMode.PROVISIONED, shardCount: 0 }],
    ['retentionPeriod', { retentionPeriod: Duration.hours(23) }],
    ['retentionPeriod', { retentionPeriod: Duration.hours(8761) }],
    ['retentionPeriod', { retentionPeriod: Duration.minutes(24 * 60 + 30) }],
  ] as const)('stream %s: %j', (prop, stream) => {
    const err = thrown(() => construct({ stream }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toContain(prop);
  });

  const finalsCases: Array<[string, FinalsBucketOptions]> = [
    ['transitionAfter', { transitionAfter: Duration.days(29) }],
    ['transitionAfter', { transitionAfter: Duration.days(10), transitionStorageClass: 'INFREQUENT_ACCESS' }],
    ['transitionAfter', { transitionAfter: Duration.hours(36), transitionStorageClass: 'GLACIER' }],
    ['transitionAfter', { transitionAfter: Duration.hours(12), transitionStorageClass: 'GLACIER' }],
    ['expireAfter', { expireAfter: Duration.days(30) }],
    ['expireAfter', { transitionAfter: Duration.days(90), expireAfter: Duration.days(60) }],
    ['accessLogRetention', { accessLogRetention: Duration.hours(1) }],
    ['transitionStorageClass', { transitionStorageClass: 'STANDARD' as FinalsStorageClass }],
  ];
  it.each(finalsCases)('finals %s: %j', (prop, finals) => {
    const err = thrown(() => construct({ finals }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toContain(prop);
  });

  it('accepts early transitions to classes without a 30-day minimum, and expiry after the transition', () => {
    expect(() => validateFinalsBucketOptions({ transitionAfter: Duration.days(1), transitionStorageClass: 'GLACIER_INSTANT_RETRIEVAL' })).not.toThrow();
    expect(() => validateFinalsBucketOptions({ expireAfter: Duration.days(31) })).not.toThrow();
  });

  const servingCases: Array<[string, ServingApiOptions]> = [
    ['memorySize', { memorySize: 100 }],
    ['timeout', { timeout: Duration.seconds(31) }],
    ['timeout', { timeout: Duration.seconds(0) }],
    ['reservedConcurrentExecutions', { reservedConcurrentExecutions: 0 }],
    ['servedSampleRate', { servedSampleRate: 1.5 }],
  ];
  it.each(servingCases)('serving %s: %j', (prop, serving) => {
    const err = thrown(() => construct({ serving }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toContain(prop);
  });

  it('refuses a serving latency alarm at or above the serving timeout (it could never fire)', () => {
    const explicit = thrown(() => construct({ serving: { timeout: Duration.seconds(5) }, monitoring: { servingLatencyP99Threshold: Duration.seconds(5) } }));
    expect(explicit).toBeInstanceOf(PipelinePropsError);
    expect(explicit.message).toContain('servingLatencyP99Threshold');
    expect(explicit.message).toContain('serving.timeout');
    // The default threshold (1 s) against a shorter timeout.
    expect(thrown(() => construct({ serving: { timeout: Duration.millis(800) } })).message).toContain('servingLatencyP99Threshold');
  });

  it('refuses a pipeline name that cannot be a dimension and resource name', () => {
    const err = thrown(() => construct({ pipelineName: 'has space' }));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toContain('pipelineName');
  });

  it('EventStream checks on its own too', () => {
    expect(() => new EventStream(new Stack(), 'S', { shardCount: 3 })).toThrow(/shardCount/);
  });
});
