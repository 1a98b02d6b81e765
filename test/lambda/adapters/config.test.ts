import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../../lambda/adapters/config';
import { CONSUMER_ENV } from '../../../lambda/contract/resources';

const env = (): NodeJS.ProcessEnv => ({
  [CONSUMER_ENV.spec]: readFileSync('bin/specs/fraud.json', 'utf8'),
  [CONSUMER_ENV.pipelineName]: 'fraud',
  [CONSUMER_ENV.stateTableName]: 'state',
  [CONSUMER_ENV.finalsBucketName]: 'results',
  [CONSUMER_ENV.deadLetterQueueUrl]: 'https://sqs.example/dlq.fifo',
  [CONSUMER_ENV.parallelizationFactor]: '1',
  // The example spec scores with bin/specs/fraud-model.json.
  [CONSUMER_ENV.modelDocument]: readFileSync('bin/specs/fraud-model.json', 'utf8'),
  [CONSUMER_ENV.predictionsTableName]: 'predictions',
  [CONSUMER_ENV.predictionsStreamName]: 'predictions-stream',
});

describe('consumer configuration', () => {
  it('reads the variables the stack sets', () => {
    expect(configFromEnv(env())).toMatchObject({ pipelineName: 'fraud', stateTable: 'state', resultsBucket: 'results', parallelizationFactor: 1 });
    expect(() => configFromEnv({ ...env(), [CONSUMER_ENV.parallelizationFactor]: '2' })).toThrow(
      "PARALLELIZATION_FACTOR must be 1 with an evaluation section, got 2: evaluation windows count each shard's predictions in sequence order",
    );
  });

  it('names a missing variable', () => {
    const e = env();
    delete e[CONSUMER_ENV.stateTableName];
    expect(() => configFromEnv(e)).toThrow(`environment variable ${CONSUMER_ENV.stateTableName} is required`);
  });

  it('refuses a parallelization factor out of range, naming it', () => {
    expect(() => configFromEnv({ ...env(), [CONSUMER_ENV.parallelizationFactor]: '11' })).toThrow(/PARALLELIZATION_FACTOR must be an integer from 1 to 10/);
  });

  it('refuses a bad spec with the field path', () => {
    expect(() => configFromEnv({ ...env(), [CONSUMER_ENV.spec]: '{"source": {}}' })).toThrow(/source\.keyField/);
  });
});

describe('consumer configuration with a scoring section', () => {
  const spec = JSON.stringify({ ...(JSON.parse(readFileSync('bin/specs/fraud.json', 'utf8')) as object), scoring: { model: 'm.json' } });
  const model = { kind: 'logistic', version: 'v7', bias: -3, weights: { txn_count_5m: 0.4 }, threshold: 0.5 };
  const scoringEnv = (): NodeJS.ProcessEnv => ({
    ...env(),
    [CONSUMER_ENV.spec]: spec,
    [CONSUMER_ENV.modelDocument]: JSON.stringify(model),
    [CONSUMER_ENV.predictionsTableName]: 'predictions',
    [CONSUMER_ENV.predictionsStreamName]: 'predictions-stream',
  });

  it('reads the model and where predictions go', () => {
    const c = configFromEnv(scoringEnv());
    expect(c.scoring).toMatchObject({ predictionsTable: 'predictions', predictionsStream: 'predictions-stream' });
    expect(c.scoring!.model.version).toBe('v7');
    expect(c.scoring!.model.score({ txn_count_5m: 10 })).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it('names the missing variable, a model that is not JSON, and each bad model field', () => {
    for (const name of [CONSUMER_ENV.modelDocument, CONSUMER_ENV.predictionsTableName, CONSUMER_ENV.predictionsStreamName]) {
      const e = scoringEnv();
      delete e[name];
      expect(() => configFromEnv(e)).toThrow(`environment variable ${name} is required`);
    }
    expect(() => configFromEnv({ ...scoringEnv(), [CONSUMER_ENV.modelDocument]: '{"kind":' })).toThrow(/MODEL_DOCUMENT is not JSON/);
    expect(() => configFromEnv({ ...scoringEnv(), [CONSUMER_ENV.modelDocument]: JSON.stringify({ ...model, weights: { nope: 1 } }) })).toThrow(
      /MODEL_DOCUMENT: invalid model:\n {2}- model\.weights\.nope is not a feature of the pipeline spec/,
    );
  });
});
