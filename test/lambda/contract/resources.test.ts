import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_QUEUE,
  ON_FAILURE_QUEUE,
  STATE_TABLE,
  createQueueInput,
  createTableInput,
  updateTimeToLiveInput,
} from '../../../lambda/contract/resources';

describe('resource definitions for emulators', () => {
  it('describe the state table with pk/sk string keys, on-demand billing and the expiresAt TTL', () => {
    for (const def of [STATE_TABLE]) {
      expect(createTableInput(def, 't')).toEqual({
        TableName: 't',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      });
      expect(updateTimeToLiveInput(def, 't').TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    }
  });

  it('make the dead-letter queue FIFO without content-based deduplication', () => {
    expect(createQueueInput(DEAD_LETTER_QUEUE, 'late')).toEqual({
      QueueName: 'late.fifo',
      Attributes: {
        MessageRetentionPeriod: '1209600',
        MaximumMessageSize: '1048576',
        SqsManagedSseEnabled: 'true',
        FifoQueue: 'true',
        ContentBasedDeduplication: 'false',
      },
    });
  });

  it('make the on-failure queue a standard queue', () => {
    const input = createQueueInput(ON_FAILURE_QUEUE, 'failed');
    expect(input.QueueName).toBe('failed');
    expect(input.Attributes).not.toHaveProperty('FifoQueue');
  });
});
