/**
 * The usage recorder against the real emulators: requests of known number and size through hooked clients must
 * come out as exactly those requests and the capacity units DynamoDB's rules give them; clients without the hook
 * are not counted. Then a file run: its summary.json carries the usage, equal to what the run's own counters saw.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchGetItemCommand, CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_SPEC, generateWorkload, writeWorkload } from '../../../bin/bench/workload';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { UsageRecorder, emptyUsage } from '../../../bin/local/usage';
import { SUMMARY_FILE, runFile } from '../../../bin/sandbox/file-run';
import { dynamoClient, hooked, sqsClient } from '../../../lambda/adapters/aws-clients';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { STATE_TABLE, createTableInput } from '../../../lambda/contract/resources';

describe('usage recorder', () => {
  const saved = { ...process.env };
  let emulators: Emulators;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'usage-'));
    emulators = await startEmulators({ services: ['kinesis', 'dynamodb', 'sqs', 's3'] });
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts DynamoDB requests and the capacity units the emulator reports, reads included', async () => {
    const usage = new UsageRecorder();
    const plain = dynamoClient();
    const client = hooked(dynamoClient(), usage.hook);
    await plain.send(new CreateTableCommand(createTableInput(STATE_TABLE, 'usage-t')));
    const item = (sk: string, bytes: number) => ({ pk: { S: 'k' }, sk: { S: sk }, v: { S: 'x'.repeat(bytes) } });
    // Writes: 1 unit per started KB of item; 100 B → 1, 2,500 B → 3.
    await client.send(new PutItemCommand({ TableName: 'usage-t', Item: item('a', 100) }));
    await client.send(new PutItemCommand({ TableName: 'usage-t', Item: item('b', 100) }));
    await client.send(new PutItemCommand({ TableName: 'usage-t', Item: item('c', 2500) }));
    // Reads: 1 unit per started 4 KB, strongly consistent; half that eventually consistent.
    await client.send(new GetItemCommand({ TableName: 'usage-t', Key: { pk: { S: 'k' }, sk: { S: 'a' } }, ConsistentRead: true }));
    await client.send(new GetItemCommand({ TableName: 'usage-t', Key: { pk: { S: 'k' }, sk: { S: 'b' } } }));
    await client.send(new BatchGetItemCommand({ RequestItems: { 'usage-t': { Keys: [{ pk: { S: 'k' }, sk: { S: 'a' } }, { pk: { S: 'k' }, sk: { S: 'c' } }], ConsistentRead: true } } }));
    // A refused conditional write: a request, no reported units.
    await expect(client.send(new PutItemCommand({ TableName: 'usage-t', Item: item('a', 100), ConditionExpression: 'attribute_not_exists(pk)' }))).rejects.toThrow();
    // Not hooked: not counted.
    await plain.send(new PutItemCommand({ TableName: 'usage-t', Item: item('d', 100) }));
    expect(usage.usage()).toEqual({
      ...emptyUsage(),
      dynamodbWriteRequests: 4,
      dynamodbWriteUnits: 5,
      dynamodbReadRequests: 3,
      dynamodbReadUnits: 1 + 0.5 + 2,
      dynamodbFailedRequests: 1,
    });
  });

  it('counts SQS requests, billed per 64 KB chunk of payload', async () => {
    const usage = new UsageRecorder();
    const client = hooked(sqsClient(), usage.hook);
    const { QueueUrl } = await sqsClient().send(new CreateQueueCommand({ QueueName: 'usage-q' }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'small' }));
    // 100,000 + 40,000 bytes in one batch request: three 64 KB chunks.
    await client.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'a'.repeat(100_000) }, { Id: 'b', MessageBody: 'b'.repeat(40_000) }] }));
    expect(usage.usage()).toEqual({ ...emptyUsage(), sqsRequests: 2, sqsBilledRequests: 1 + 3 });
  });

  it('counts S3 PUT, GET and LIST requests apart', async () => {
    const usage = new UsageRecorder();
    const plain = s3Client();
    const client = hooked(s3Client(), usage.hook);
    await plain.send(new CreateBucketCommand({ Bucket: 'usage-b' }));
    await client.send(new PutObjectCommand({ Bucket: 'usage-b', Key: 'a', Body: 'x' }));
    await client.send(new PutObjectCommand({ Bucket: 'usage-b', Key: 'b', Body: 'y' }));
    await (await client.send(new GetObjectCommand({ Bucket: 'usage-b', Key: 'a' }))).Body?.transformToString();
    await client.send(new ListObjectsV2Command({ Bucket: 'usage-b' }));
    expect(usage.usage()).toEqual({ ...emptyUsage(), s3PutRequests: 2, s3GetRequests: 1, s3ListRequests: 1, s3Requests: 4 });
  });

  it('counts Kinesis requests with the bytes read, and the records put in their billing units', async () => {
    const usage = new UsageRecorder();
    const plain = kinesisClient();
    const client = hooked(kinesisClient(), usage.hook);
    await plain.send(new CreateStreamCommand({ StreamName: 'usage-s', ShardCount: 1 }));
    for (let i = 0; i < 100; i++) {
      const d = await plain.send(new DescribeStreamSummaryCommand({ StreamName: 'usage-s' }));
      if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const payloads = ['x'.repeat(100), 'y'.repeat(30_000)];
    usage.put(payloads);
    await plain.send(new PutRecordsCommand({ StreamName: 'usage-s', Records: payloads.map((p) => ({ PartitionKey: 'k', Data: Buffer.from(p) })) }));
    const { ShardIterator } = await client.send(new GetShardIteratorCommand({ StreamName: 'usage-s', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
    const got = await client.send(new GetRecordsCommand({ ShardIterator }));
    expect(got.Records).toHaveLength(2);
    expect(usage.usage()).toEqual({
      ...emptyUsage(),
      kinesisRequests: 2,
      kinesisBytesRead: 30_100,
      kinesisRecordsPut: 2,
      kinesisBytesPut: 30_100,
      // 25 KB units: 1 + 2; 1 KB units: 1 + 30.
      kinesisPutPayloadUnits: 3,
      kinesisBilledKbPut: 31,
    });
  });

  it('a file run writes summary.json: the summary plus the consumer usage its own counters agree with', async () => {
    const input = path.join(dir, 'records.jsonl');
    await writeWorkload(input, generateWorkload({ records: 600, keys: 30, spacingMs: 1000, malformedRate: 0.01, seed: 4 }));
    const out = path.join(dir, 'run');
    const { summary, usage, stats } = await runFile({ spec: BENCH_SPEC, inputPath: input, outDir: out, batchSize: 200, name: 'usage-run' });
    expect(existsSync(path.join(out, SUMMARY_FILE))).toBe(true);
    const written = JSON.parse(readFileSync(path.join(out, SUMMARY_FILE), 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({ ...summary, usage });
    // Full batches of 200: three invocations, as the event source mapping counted them.
    expect(usage.invocations).toBe(3);
    expect(usage.invocations).toBe(stats.esm.invocations);
    expect(usage.consumerMs).toBeGreaterThan(0);
    expect(usage.consumerMs).toBeLessThanOrEqual(stats.esm.handlerMs + 50);
    // The stores' own sums of the capacity DynamoDB reported on their writes.
    expect(usage.dynamodbWriteUnits).toBe(stats.writeUnits);
    expect(usage.dynamodbWriteRequests).toBeGreaterThanOrEqual(stats.stateWrites);
    expect(usage.dynamodbReadRequests).toBeGreaterThan(0);
    expect(usage.dynamodbReadUnits).toBeGreaterThan(0);
    // Invalid records go to the dead-letter queue: at least one SendMessageBatch.
    expect(summary.invalid).toBeGreaterThan(0);
    expect(usage.sqsRequests).toBeGreaterThan(0);
    expect(usage.kinesisRecordsPut).toBe(600);
    expect(usage.kinesisPutPayloadUnits).toBe(600);
    // Every record read once (no failures), by at least one GetRecords per batch.
    expect(usage.kinesisBytesRead).toBe(usage.kinesisBytesPut);
    expect(usage.kinesisRequests).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
