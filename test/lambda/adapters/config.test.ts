import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../../lambda/adapters/config';
import { CONSUMER_ENV } from '../../../lambda/contract/resources';

const env = (): NodeJS.ProcessEnv => ({
  [CONSUMER_ENV.spec]: readFileSync('bin/specs/fraud.json', 'utf8'),
  [CONSUMER_ENV.pipelineName]: 'fraud',
  [CONSUMER_ENV.stateTableName]: 'state',
  [CONSUMER_ENV.featureTableName]: 'features',
  [CONSUMER_ENV.resultsBucketName]: 'results',
  [CONSUMER_ENV.deadLetterQueueUrl]: 'https://sqs.example/dlq.fifo',
  [CONSUMER_ENV.parallelizationFactor]: '2',
});

describe('consumer configuration', () => {
  it('reads the variables the stack sets', () => {
    expect(configFromEnv(env())).toMatchObject({ pipelineName: 'fraud', stateTable: 'state', resultsBucket: 'results', parallelizationFactor: 2 });
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
