import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateTableCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import {
  FAST_RETRY_BACKOFF,
  InvocationStoppedError,
  LocalEventSourceMapping,
  MAX_INVOCATION_PAYLOAD_BYTES,
  invocationStopped,
  readBatchResponse,
  stopAtTimeout,
  type KinesisOnFailureMessage,
  type LocalEventSourceMappingOptions,
} from '../../../bin/local/esm-runner';

let emulators: Emulators;
let kinesis: KinesisClient;
const savedEnv = { ...process.env };
const mappings: LocalEventSourceMapping[] = [];
let streamCount = 0;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  kinesis = kinesisClient();
});

afterEach(async () => {
  await Promise.all(mappings.splice(0).map((m) => m.stop()));
});

afterAll(async () => {
  process.env = savedEnv;
  await emulators?.stop();
});

async function createStream(shards: number): Promise<string> {
  const name = `esm-test-${++streamCount}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (;;) {
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForOpenShards(stream: string, open: number): Promise<void> {
  for (;;) {
    const { StreamDescriptionSummary: d } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d?.StreamStatus === 'ACTIVE' && d.OpenShardCount === open) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Puts records `{ i }` for i in [from, to), spread over all hash keys so every shard gets some. */
async function put(stream: string, from: number, to: number): Promise<void> {
  const entries = [];
  for (let i = from; i < to; i++) {
    const hashKey = ((2n ** 128n - 1n) * BigInt(i % 4)) / 3n; // 0, 1/3, 2/3 and the top of the key space
    entries.push({ Data: Buffer.from(JSON.stringify({ i })), PartitionKey: `k${i}`, ExplicitHashKey: hashKey.toString() });
  }
  const res = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: entries }));
  expect(res.FailedRecordCount ?? 0).toBe(0);
}

const payload = (r: KinesisStreamRecord): number =>
  (JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')) as { i: number }).i;

type Handler = (event: KinesisStreamEvent, call: number) => KinesisStreamBatchResponse | void | unknown;

/** Starts a mapping that records every event it receives (copied before the handler may throw). */
async function run(stream: string, behave: Handler = () => undefined, options: Partial<LocalEventSourceMappingOptions> = {}) {
  const events: KinesisStreamEvent[] = [];
  const failures: KinesisOnFailureMessage[] = [];
  const esm = new LocalEventSourceMapping({
    streamName: stream,
    pollIntervalMs: 10,
    retryBackoffMs: FAST_RETRY_BACKOFF,
    maximumRetryAttempts: 2,
    handler: async (event) => {
      events.push(structuredClone(event));
      return behave(event, events.length);
    },
    onFailure: async (message) => {
      failures.push(message);
    },
    ...options,
  });
  mappings.push(esm);
  await esm.start();
  return { esm, events, failures };
}

let tableCount = 0;

/** A DynamoDB table on the emulator (key `pk`), ACTIVE. */
async function createTable(dynamo: DynamoDBClient): Promise<string> {
  const name = `esm-test-${++tableCount}`;
  await dynamo.send(
    new CreateTableCommand({ TableName: name, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
  while ((await dynamo.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus !== 'ACTIVE') await sleep(5);
  return name;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A client whose requests a stopped invocation cannot send, writing items `{ pk }` to `table`. */
function itemWriter(table: string) {
  const client = dynamoClient();
  stopAtTimeout(client);
  return {
    write: async (pk: string) => void (await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk } } }))),
    exists: async (pk: string) => (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item !== undefined,
  };
}

/** Payloads of each invocation, in invocation order. */
const batches = (events: KinesisStreamEvent[]) => events.map((e) => e.Records.map(payload));

describe('LocalEventSourceMapping', () => {
  it('delivers every record of a 1-shard stream once, in order, as real-shaped Kinesis events', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 30);
    const before = Date.now() / 1000;
    const { esm, events } = await run(stream);
    await esm.drain();
    expect(batches(events).flat()).toEqual([...Array(30).keys()]);

    const record = events[0].Records[0];
    const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const shardId = Shards?.[0].ShardId;
    expect(record).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'k0',
        sequenceNumber: expect.stringMatching(/^\d+$/),
        data: Buffer.from(JSON.stringify({ i: 0 })).toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${record.kinesis.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/local-consumer-role',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
    });
    // Epoch seconds with a fraction, not milliseconds.
    expect(record.kinesis.approximateArrivalTimestamp).toBeGreaterThan(before - 60);
    expect(record.kinesis.approximateArrivalTimestamp).toBeLessThanOrEqual(before + 1);
    expect(esm.counters).toMatchObject({ failedInvocations: 0, retries: 0, recordsDelivered: 30 });
  });

  it('times its reads and the handler separately', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 20);
    const { esm } = await run(stream, () => undefined, {
      batchSize: 5,
      handler: () => new Promise<void>((resolve) => setTimeout(resolve, 40)),
    });
    await esm.drain();
    const c = esm.counters;
    expect(c.invocations).toBe(4);
    expect(c.handlerMs).toBeGreaterThanOrEqual(4 * 39); // timers may fire a little early
    expect(c.reads).toBe(4); // 20 records, read 5 at a time
    expect(c.emptyReads).toBeGreaterThanOrEqual(1); // the read at the tip that ended the drain
    expect(c.readMs).toBeGreaterThan(0);
  });

  it('reads the shards of a 2-shard stream in parallel, each in order, each record once', async () => {
    const stream = await createStream(2);
    await put(stream, 0, 40);
    const { esm, events } = await run(stream, () => undefined, { batchSize: 7 });
    await esm.drain();
    await put(stream, 40, 60); // records arriving while running are picked up too
    await esm.drain();

    const byShard = new Map<string, KinesisStreamRecord[]>();
    for (const event of events) {
      const shard = event.Records[0].eventID.split(':')[0];
      expect(event.Records.every((r) => r.eventID.startsWith(`${shard}:`))).toBe(true); // one shard per batch
      byShard.set(shard, [...(byShard.get(shard) ?? []), ...event.Records]);
    }
    expect(byShard.size).toBe(2);
    for (const records of byShard.values()) {
      const seqs = records.map((r) => BigInt(r.kinesis.sequenceNumber));
      expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    expect(batches(events).flat().sort((a, b) => a - b)).toEqual([...Array(60).keys()]);
  });

  it('honours the batch size', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 25);
    const { esm, events } = await run(stream, () => undefined, { batchSize: 10 });
    await esm.drain();
    expect(events.map((e) => e.Records.length)).toEqual([10, 10, 5]);
  });

  it('gathers records for up to the batching window', async () => {
    const stream = await createStream(1);
    const { esm, events } = await run(stream, () => undefined, { maximumBatchingWindowMs: 400 });
    await put(stream, 0, 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await put(stream, 3, 6);
    await esm.drain();
    expect(batches(events)).toEqual([[0, 1, 2, 3, 4, 5]]);
  });

  it('reports a drain that cannot finish with a named error', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 1);
    const { esm } = await run(stream, () => undefined, {
      handler: () => new Promise((resolve) => setTimeout(resolve, 500)),
    });
    await expect(esm.drain({ timeoutMs: 100 })).rejects.toMatchObject({
      name: 'DrainTimeoutError',
      message: expect.stringContaining(stream),
    });
    await expect(run('no-such-stream')).rejects.toThrow(/no-such-stream/);
  });

  it('re-delivers the same batch after the handler throws', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 5);
    const { esm, events, failures } = await run(
      stream,
      (_event, call) => {
        if (call === 1) throw new Error('transient');
      },
      { bisectBatchOnFunctionError: false },
    );
    await esm.drain();
    expect(batches(events)).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ]);
    expect(events[1]).toEqual(events[0]);
    expect(esm.counters).toMatchObject({ invocations: 2, failedInvocations: 1, retries: 1, onFailureBatches: 0 });
    expect(failures).toEqual([]);
  });

  it('bisects around a poison record until it alone exhausts its retries and goes to onFailure', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 8);
    const poison = 5;
    const { esm, events, failures } = await run(stream, (event) => {
      if (event.Records.some((r) => payload(r) === poison)) throw new Error('poison');
    });
    await esm.drain();

    const succeeded = events.filter((e) => !e.Records.some((r) => payload(r) === poison));
    expect(batches(succeeded)).toEqual([[0, 1, 2, 3], [4], [6, 7]]);
    expect(batches(events)).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [4, 5],
      [4],
      [5],
      [5],
      [5], // first try + 2 retries
      [6, 7],
    ]);
    expect(esm.counters).toMatchObject({ bisections: 3, retries: 2, onFailureBatches: 1, invocations: 9 });

    const poisonRecord = events[5].Records[0];
    expect(failures).toEqual([
      {
        requestContext: {
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-consumer',
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        KinesisBatchInfo: {
          shardId: poisonRecord.eventID.split(':')[0],
          startSequenceNumber: poisonRecord.kinesis.sequenceNumber,
          endSequenceNumber: poisonRecord.kinesis.sequenceNumber,
          approximateArrivalOfFirstRecord: new Date(poisonRecord.kinesis.approximateArrivalTimestamp * 1000).toISOString(),
          approximateArrivalOfLastRecord: new Date(poisonRecord.kinesis.approximateArrivalTimestamp * 1000).toISOString(),
          batchSize: 1,
          streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
        },
      },
    ]);
  });

  it('sends a whole batch to onFailure when retries run out without bisection', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 3);
    const { esm, events, failures } = await run(
      stream,
      () => {
        throw new Error('always');
      },
      { bisectBatchOnFunctionError: false, maximumRetryAttempts: 1 },
    );
    await esm.drain();
    expect(batches(events)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(failures.map((f) => [f.KinesisBatchInfo.batchSize, f.requestContext.approximateInvokeCount])).toEqual([[3, 2]]);
  });

  it('re-delivers everything from the lowest reported item failure', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 6);
    const { esm, events, failures } = await run(stream, (event, call) => {
      if (call !== 1) return { batchItemFailures: [] };
      const seq = (i: number) => event.Records[i].kinesis.sequenceNumber;
      return { batchItemFailures: [{ itemIdentifier: seq(4) }, { itemIdentifier: seq(2) }] };
    });
    await esm.drain();
    expect(batches(events)).toEqual([
      [0, 1, 2, 3, 4, 5],
      [2, 3, 4, 5],
    ]);
    expect(esm.counters).toMatchObject({ retries: 1, bisections: 0, failedInvocations: 1 });
    expect(failures).toEqual([]);
  });

  it('treats an unknown item identifier as a whole-batch failure, and ignores failures when not enabled', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 4);
    const unknown = await run(stream, (_event, call) =>
      call === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] } : undefined,
    );
    await unknown.esm.drain();
    expect(batches(unknown.events)).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]);

    const ignored = await run(stream, (event) => ({ batchItemFailures: [{ itemIdentifier: event.Records[0].kinesis.sequenceNumber }] }), {
      reportBatchItemFailures: false,
    });
    await ignored.esm.drain();
    expect(batches(ignored.events)).toEqual([[0, 1, 2, 3]]);
  });

  it('discards records older than the maximum record age', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 3);
    // Ages far apart, so that a busy machine cannot make the fresh records expire too: on a loaded machine a
    // fresh record can take a few hundred ms from put to read.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const { esm, events, failures } = await run(stream, () => undefined, { maximumRecordAgeMs: 2_000 });
    await esm.drain();
    await put(stream, 3, 5);
    await esm.drain();
    expect(batches(events)).toEqual([[3, 4]]);
    expect(failures.map((f) => [f.requestContext.condition, f.KinesisBatchInfo.batchSize])).toEqual([['RecordAgeExceeded', 3]]);
    // As Lambda writes it: never invoked, yet an invoke count of 1, and no response context at all.
    expect(failures[0]).not.toHaveProperty('responseContext');
    expect(failures[0]?.requestContext).toEqual({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-consumer',
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 1,
    });
  });

  it('reports records that expire while being retried with their invoke count and no response context', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 2);
    const { esm, events, failures } = await run(
      stream,
      () => {
        throw new Error('always');
      },
      // Long enough for a first invocation even on a busy machine; retried without limit until the age runs out.
      { maximumRetryAttempts: -1, bisectBatchOnFunctionError: false, maximumRecordAgeMs: 2_500 },
    );
    await esm.drain();
    expect(events.length).toBeGreaterThan(0);
    // Usually one batch of both records; on a busy machine a read may return the first record alone, and then each
    // batch expires on its own. Either way every record is reported once, each batch with the invocations it had.
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.reduce((n, f) => n + f.KinesisBatchInfo.batchSize, 0)).toBe(2);
    // Invocations add up, but for a later batch that expired before its first invocation (reported with a count of 1).
    const counted = failures.reduce((n, f) => n + f.requestContext.approximateInvokeCount, 0);
    expect(counted).toBeGreaterThanOrEqual(events.length);
    expect(counted).toBeLessThanOrEqual(events.length + failures.length - 1);
    for (const f of failures) {
      expect(f.requestContext.condition).toBe('RecordAgeExceeded');
      expect(f).not.toHaveProperty('responseContext');
    }
  });

  it('starts at LATEST when asked', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 3);
    const { esm, events } = await run(stream, () => undefined, { startingPosition: 'LATEST' });
    await esm.drain();
    await put(stream, 3, 5);
    await esm.drain();
    expect(batches(events).flat()).toEqual([3, 4]);
  });

  it('reads a parent shard to its end before its children after a split', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 10);
    const { esm, events } = await run(stream, () => undefined, { batchSize: 4 });
    await esm.drain();
    await put(stream, 10, 14);
    const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    await kinesis.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: Shards?.[0].ShardId,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    // A split completes asynchronously, as in Kinesis: records put before that still land in the parent.
    await waitForOpenShards(stream, 2);
    await put(stream, 14, 30);
    await esm.drain();
    // A second mapping started after the split must also finish the closed parent before the children.
    const late = await run(stream, () => undefined, { batchSize: 4 });
    await late.esm.drain();

    for (const seen of [batches(events).flat(), batches(late.events).flat()]) {
      expect([...seen].sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
      const parentShardRecords = seen.slice(0, 14);
      expect(parentShardRecords).toEqual([...Array(14).keys()]);
    }
    const parent = Shards?.[0].ShardId;
    const shardsSeen = [...new Set(late.events.map((e) => e.Records[0].eventID.split(':')[0]))];
    expect(shardsSeen[0]).toBe(parent);
    expect(shardsSeen).toHaveLength(3);
  });

  it('writes functionError null when retries run out on reported item failures', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 4);
    const { esm, events, failures } = await run(stream, (event) => ({
      batchItemFailures: [{ itemIdentifier: event.Records.at(-1)?.kinesis.sequenceNumber }],
    }));
    await esm.drain();
    // The checkpoint moves to the last record, a new batch with a budget of its own (2 retries), as on AWS.
    expect(batches(events)).toEqual([[0, 1, 2, 3], [3], [3], [3]]);
    expect(esm.counters).toMatchObject({ bisections: 0, retries: 3, failedInvocations: 4, onFailureBatches: 1 });
    const last = events[0]!.Records[3]!;
    expect(failures).toHaveLength(1);
    expect(failures[0]?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 });
    // Present, and null: the function returned; it did not fail.
    expect(failures[0]?.responseContext).toStrictEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: null });
    expect(failures[0]?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: last.kinesis.sequenceNumber,
      endSequenceNumber: last.kinesis.sequenceNumber,
      batchSize: 1,
    });
  });

  const invalidResponses: Array<[string, unknown]> = [
    ['batchItemFailures a string', { batchItemFailures: 'x' }],
    ['batchItemFailures an object', { batchItemFailures: {} }],
    ['an item without itemIdentifier', { batchItemFailures: [{ id: 'x' }] }],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['an itemIdentifier of no record of the batch', { batchItemFailures: [{ itemIdentifier: '1' }] }],
    ['a numeric itemIdentifier', { batchItemFailures: [{ itemIdentifier: 7 }] }],
    ['a null item', { batchItemFailures: [null] }],
    ['a response that is a string', 'ok'],
  ];

  it.each(invalidResponses)('counts a response with %s as a failed invocation against the retry budget', async (_what, response) => {
    const stream = await createStream(1);
    await put(stream, 0, 3);
    const { esm, events, failures } = await run(stream, () => response);
    await esm.drain();
    // The whole batch again each time, not bisected (the function did not fail), until retries run out.
    expect(batches(events)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(esm.counters).toMatchObject({ invocations: 3, failedInvocations: 3, invalidResponses: 3, retries: 2, bisections: 0, onFailureBatches: 1 });
    expect(esm.lastInvalidResponse).toMatch(/^shardId-\d+: (response|batchItemFailures)/);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: null },
      KinesisBatchInfo: { batchSize: 3, startSequenceNumber: events[0]!.Records[0]!.kinesis.sequenceNumber },
    });
  });

  it('treats a null or empty response or failure list as success', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 2);
    for (const response of [null, undefined, {}, [], { batchItemFailures: null }, { batchItemFailures: [] }]) {
      const { esm, events, failures } = await run(stream, () => response);
      await esm.drain();
      expect(batches(events), JSON.stringify(response)).toEqual([[0, 1]]);
      expect(failures).toEqual([]);
      await esm.stop();
    }
  });

  it('names what makes a response invalid', () => {
    const seqs = ['100', '200'];
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: '200' }, { itemIdentifier: '100' }] }, seqs)).toEqual({ kind: 'itemFailures', redoFrom: 0 });
    expect(readBatchResponse({ batchItemFailures: 'x' }, seqs)).toEqual({ kind: 'invalid', reason: 'batchItemFailures is the string "x", not a list' });
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: '200' }, {}] }, seqs)).toEqual({
      kind: 'invalid',
      reason: 'batchItemFailures[1] has itemIdentifier missing, not a sequence number of the batch',
    });
    expect(readBatchResponse([], seqs)).toEqual({ kind: 'success' });
    expect(readBatchResponse([{ itemIdentifier: '100' }], seqs)).toEqual({ kind: 'invalid', reason: 'response is a list, not an object' });
  });

  it('fails an invocation that outlives the function timeout, bisects, and goes on with the shard', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 8);
    const poison = 5;
    const { esm, events, failures } = await run(
      stream,
      (event) => (event.Records.some((r) => payload(r) === poison) ? new Promise(() => undefined) : undefined),
      { functionTimeoutMs: 150 },
    );
    await esm.drain();
    // The same path as a handler that throws: bisect down to the record, retry it, give up, carry on.
    expect(batches(events)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [5], [5], [6, 7]]);
    expect(esm.counters).toMatchObject({ timeouts: 6, failedInvocations: 6, bisections: 3, retries: 2, onFailureBatches: 1 });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { functionError: 'Unhandled' },
      KinesisBatchInfo: { batchSize: 1, startSequenceNumber: events[5]!.Records[0]!.kinesis.sequenceNumber },
    });
    await put(stream, 8, 10);
    await esm.drain();
    expect(batches(events).at(-1)).toEqual([8, 9]);
  });

  it('stops at once while a handler that never settles is in flight', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 1);
    let called = false;
    const { esm } = await run(stream, () => {
      called = true;
      return new Promise(() => undefined);
    }, { functionTimeoutMs: 60_000 });
    while (!called) await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = Date.now();
    await esm.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(esm.counters).toMatchObject({ invocations: 1, timeouts: 0, failedInvocations: 0 });
  });

  it('stops an invocation at its timeout: a write it issues later is not sent, one sent before lands', async () => {
    const stream = await createStream(1);
    const table = await createTable(dynamoClient());
    const items = itemWriter(table);
    await put(stream, 0, 1);
    let lateWrite: unknown = 'not tried';
    let seenStopped: string | undefined;
    let stoppedCallEnded!: () => void;
    const ended = new Promise<void>((resolve) => (stoppedCallEnded = resolve));
    const { esm, events } = await run(stream, async (_event, call) => {
      await items.write(`A${call}`);
      if (call === 1) {
        // Far past the timeout, even on a loaded machine.
        await sleep(1_200);
        seenStopped = invocationStopped();
        try {
          await items.write(`B${call}`);
          lateWrite = 'sent';
        } catch (error) {
          lateWrite = error;
        } finally {
          stoppedCallEnded();
        }
        return;
      }
      await items.write(`B${call}`);
    }, { functionTimeoutMs: 300 });
    await esm.drain();
    expect(events).toHaveLength(2);
    expect(esm.counters).toMatchObject({ timeouts: 1, failedInvocations: 1, onFailureBatches: 0 });
    await ended;
    expect(seenStopped).toMatch(/^invocation [0-9a-f-]{36} stopped at its timeout of 300 ms, as Lambda stops the environment$/);
    expect(lateWrite).toBeInstanceOf(InvocationStoppedError);
    expect((lateWrite as Error).message).toMatch(/^invocation [0-9a-f-]{36} stopped at its timeout of 300 ms, as Lambda stops the environment: DynamoDB PutItem not sent$/);
    expect(await items.exists('A1')).toBe(true);
    expect(await items.exists('B1')).toBe(false);
    expect(await items.exists('A2')).toBe(true);
    expect(await items.exists('B2')).toBe(true);
    expect(invocationStopped()).toBeUndefined();
  });

  it('stops only the invocation that timed out, not one running at the same time on another shard', async () => {
    const stream = await createStream(2);
    const table = await createTable(dynamoClient());
    const items = itemWriter(table);
    const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const [slow, fast] = Shards!.map((s) => s.HashKeyRange!.StartingHashKey!);
    // One record on the first shard (its first invocation times out), two on the second.
    const res = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: [
          { Data: Buffer.from(JSON.stringify({ i: 0 })), PartitionKey: 'slow', ExplicitHashKey: slow },
          { Data: Buffer.from(JSON.stringify({ i: 1 })), PartitionKey: 'fast', ExplicitHashKey: fast },
          { Data: Buffer.from(JSON.stringify({ i: 2 })), PartitionKey: 'fast', ExplicitHashKey: fast },
        ],
      }),
    );
    expect(res.FailedRecordCount ?? 0).toBe(0);
    let slowStarted!: () => void;
    const slowStart = new Promise<void>((resolve) => (slowStarted = resolve));
    let slowCallEnded!: () => void;
    const slowEnded = new Promise<void>((resolve) => (slowCallEnded = resolve));
    let slowCalls = 0;
    let lateWrite: unknown = 'not tried';
    const stoppedSeenByRecord2: Array<string | undefined> = [];
    const { esm } = await run(stream, async (event) => {
      const i = payload(event.Records[0]!);
      if (i === 0 && ++slowCalls === 1) {
        slowStarted();
        await items.write('slow-A');
        await sleep(2_500);
        try {
          await items.write('slow-B');
          lateWrite = 'sent';
        } catch (error) {
          lateWrite = error;
        } finally {
          slowCallEnded();
        }
      } else if (i === 1) {
        // Ends half a timeout after the slow call began, so record 2's invocation overlaps its timeout.
        await slowStart;
        await sleep(500);
      } else if (i === 2) {
        // Writes just after the slow invocation was stopped, with half its own timeout to spare.
        while (esm.counters.timeouts === 0) await sleep(5);
        stoppedSeenByRecord2.push(invocationStopped());
        await items.write('fast-C');
        stoppedSeenByRecord2.push(invocationStopped());
      }
    }, { functionTimeoutMs: 1_000, batchSize: 1 });
    await esm.drain();
    await slowEnded;
    expect(lateWrite).toBeInstanceOf(InvocationStoppedError);
    expect(stoppedSeenByRecord2).toEqual([undefined, undefined]);
    expect(esm.counters).toMatchObject({ invocations: 4, timeouts: 1, failedInvocations: 1 });
    expect(await items.exists('slow-A')).toBe(true);
    expect(await items.exists('slow-B')).toBe(false);
    expect(await items.exists('fast-C')).toBe(true);
  });

  it('sends no retry of a request whose first attempt outlived the timeout', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 1);
    let attempts = 0;
    // Every attempt fails as a timed-out connection would (a transient error the SDK retries); the first one
    // fails only after the invocation's timeout.
    const client = dynamoClient({
      maxAttempts: 3,
      requestHandler: {
        handle: async () => {
          if (++attempts === 1) await sleep(900);
          throw Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
        },
      } as never,
    });
    stopAtTimeout(client);
    let outcome!: (error: unknown) => void;
    const failed = new Promise<unknown>((resolve) => (outcome = resolve));
    const { esm } = await run(stream, async (_event, call) => {
      if (call === 1) await client.send(new GetItemCommand({ TableName: 'any', Key: { pk: { S: 'a' } } })).catch(outcome);
    }, { functionTimeoutMs: 300 });
    await esm.drain();
    const error = await failed;
    expect(error).toBeInstanceOf(InvocationStoppedError);
    expect(attempts).toBe(1);
  });

  it('stops a running invocation when the mapping stops', async () => {
    const stream = await createStream(1);
    const table = await createTable(dynamoClient());
    const items = itemWriter(table);
    await put(stream, 0, 1);
    let started!: () => void;
    const start = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let lateWrite: Promise<unknown> | undefined;
    const { esm } = await run(stream, async () => {
      started();
      await released;
      lateWrite = items.write('after-stop').then(() => 'sent', (error: unknown) => error);
      await lateWrite;
    }, { functionTimeoutMs: 60_000 });
    await start;
    await esm.stop();
    release();
    while (lateWrite === undefined) await sleep(5);
    expect(await lateWrite).toBeInstanceOf(InvocationStoppedError);
    expect(await items.exists('after-stop')).toBe(false);
  });

  it('refuses a timeout, batching window or record age that cannot be', () => {
    for (const bad of [{ functionTimeoutMs: 0 }, { maximumBatchingWindowMs: -1 }, { maximumRecordAgeMs: 0 }, { parallelizationFactor: 0 }, { parallelizationFactor: 11 }, { retryBackoffMs: { initialMs: 5, maxMs: 1 } }]) {
      expect(() => new LocalEventSourceMapping({ streamName: 's', handler: async () => undefined, ...bad }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ name: 'EventSourceMappingError' }),
      );
    }
  });

  it('prints what the handler threw, and names a timeout', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 1);
    const thrown = await run(stream, () => {
      throw new RangeError('state item too large');
    }, { maximumRetryAttempts: 0 });
    await thrown.esm.drain();
    expect(thrown.esm.lastFunctionError).toMatch(/^shardId-\d+: RangeError: state item too large$/);
    const hung = await run(stream, () => new Promise(() => undefined), { maximumRetryAttempts: 0, functionTimeoutMs: 100 });
    await hung.esm.drain();
    expect(hung.esm.lastFunctionError).toMatch(/^shardId-\d+: timed out after 100 ms$/);
  });

  it('backs off between retries, doubling up to its maximum', async () => {
    const stream = await createStream(1);
    await put(stream, 0, 1);
    const at: number[] = [];
    const { esm } = await run(stream, () => {
      at.push(Date.now());
      throw new Error('fails');
    }, { maximumRetryAttempts: 4, retryBackoffMs: { initialMs: 100, maxMs: 300 } });
    await esm.drain();
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps).toHaveLength(4);
    // Lower bounds only: a loaded machine can only make the pauses longer.
    [100, 200, 300, 300].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 5));
    expect(new LocalEventSourceMapping({ streamName: 's', handler: async () => undefined }).settings.retryBackoffMs).toEqual({ initialMs: 1000, maxMs: 15_000 });
  });

  it('invokes a batch whose event would exceed 6 MB in parts, in order', async () => {
    const stream = await createStream(1);
    // 9 records of 900 KB: 1.2 MB each in base64, so at most 5 fit one invocation.
    for (let i = 0; i < 9; i++) {
      const data = Buffer.concat([Buffer.from(JSON.stringify({ i })), Buffer.alloc(900_000, 32)]);
      await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: [{ Data: data, PartitionKey: 'k' }] }));
    }
    const sizes: number[] = [];
    const { esm, events } = await run(stream, (event) => {
      sizes.push(Buffer.byteLength(JSON.stringify(event)));
    }, { batchSize: 100 });
    await esm.drain();
    const order = events.flatMap((e) => e.Records.map((r) => (JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8').trimEnd()) as { i: number }).i));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MAX_INVOCATION_PAYLOAD_BYTES);
    expect(esm.counters.payloadSplits).toBeGreaterThan(0);
  });
});
