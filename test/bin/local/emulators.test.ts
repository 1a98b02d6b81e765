import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, ListStreamsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { dynamoClient, sqsClient } from '../../../lambda/adapters/aws-clients';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { processUsage, startEmulators, type Emulators } from '../../../bin/local/emulators';

/** Runs startEmulators() in a separate Node process; resolves with that process and the emulator pids. */
function startInChildProcess(then: string) {
  const modulePath = path.resolve(__dirname, '../../../bin/local/emulators.ts');
  const code = `require(${JSON.stringify(modulePath)}).startEmulators().then((e) => {
    console.log('PIDS ' + JSON.stringify(Object.values(e.pids))); ${then} });`;
  const parent = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise<{ parent: typeof parent; pids: number[] }>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PIDS (\[.*\])/.exec(out);
      if (match) resolve({ parent, pids: JSON.parse(match[1]) as number[] });
    });
    parent.on('exit', (code) => reject(new Error(`parent exited (${code}) before reporting: ${out}`)));
  });
}

async function waitUntilGone(pids: number[], timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return pids.filter(isAlive);
}

/** True while the process runs; a zombie (exited, waiting to be reaped by init) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

describe('startEmulators', () => {
  let emulators: Emulators;
  const saved = { ...process.env };

  beforeAll(async () => {
    emulators = await startEmulators();
    console.log('emulator start-up (ms, in parallel):', emulators.startupMs);
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
  });

  it('exposes loopback endpoints and the client environment', () => {
    for (const service of ['kinesis', 'dynamodb', 'sqs'] as const) {
      expect(emulators.endpoints[service]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(emulators.env()).toMatchObject({
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_KINESIS: emulators.endpoints.kinesis,
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: emulators.endpoints.sqs,
    });
  });

  it('answers Kinesis calls through the environment-configured client', async () => {
    const kinesis = kinesisClient();
    await kinesis.send(new CreateStreamCommand({ StreamName: 'emulator-check', ShardCount: 1 }));
    const { StreamNames } = await kinesis.send(new ListStreamsCommand({}));
    expect(StreamNames).toContain('emulator-check');
  });

  it('answers DynamoDB calls', async () => {
    const dynamo = dynamoClient();
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'emulator-check',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const { TableNames } = await dynamo.send(new ListTablesCommand({}));
    expect(TableNames).toContain('emulator-check');
  });

  it('deduplicates FIFO messages by MessageDeduplicationId', async () => {
    const sqs = sqsClient();
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'emulator-check.fifo', Attributes: { FifoQueue: 'true' } }),
    );
    // Queue URLs must point at the emulator itself, so any client can use them as an endpoint.
    expect(QueueUrl).toBe(`${emulators.endpoints.sqs}/000000000000/emulator-check.fifo`);
    for (let i = 0; i < 2; i++) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: 'same',
          MessageGroupId: 'g',
          MessageDeduplicationId: 'dedup-1',
        }),
      );
    }
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('1');
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(Messages?.map((m) => m.Body)).toEqual(['same']);
  });

  it('reports each emulator\'s resident memory (peak at least current) and CPU time, which grows with work', async () => {
    if (process.platform !== 'linux') return;
    const before = emulators.usage();
    expect(Object.keys(before).sort()).toEqual(['dynamodb', 'kinesis', 's3', 'sqs']);
    for (const m of Object.values(before)) {
      expect(m.rssMb).toBeGreaterThan(10);
      expect(m.peakRssMb).toBeGreaterThanOrEqual(m.rssMb);
      expect(m.cpuMs).toBeGreaterThan(0);
    }
    const dynamo = dynamoClient();
    for (let i = 0; i < 300; i++) await dynamo.send(new ListTablesCommand({}));
    expect(emulators.usage().dynamodb!.cpuMs).toBeGreaterThan(before.dynamodb!.cpuMs);
    expect(processUsage(2 ** 22 + 1)).toBeUndefined(); // above Linux's pid limit: no such process
  });

  it('stop() leaves no child process behind', async () => {
    const pids = Object.values(emulators.pids);
    expect(pids).toHaveLength(4);
    expect(pids.every(isAlive)).toBe(true);
    await emulators.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('startEmulators with a subset of services', () => {
  it('starts only what was asked for', async () => {
    const only = await startEmulators({ services: ['dynamodb'] });
    try {
      expect(Object.keys(only.endpoints)).toEqual(['dynamodb']);
      expect(only.env().AWS_ENDPOINT_URL_KINESIS).toBeUndefined();
      const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      await dynamoClient({ endpoint: only.endpoints.dynamodb, credentials }).send(new ListTablesCommand({}));
    } finally {
      await only.stop();
    }
    expect(isAlive(only.pids.dynamodb ?? -1)).toBe(false);
  });
});

describe('startEmulators with S3', () => {
  it('serves PutObject, GetObject and ListObjectsV2 through the environment-configured client', async () => {
    const only = await startEmulators({ services: ['s3'] });
    const saved = { ...process.env };
    try {
      expect(only.env().AWS_ENDPOINT_URL_S3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      Object.assign(process.env, only.env());
      const s3 = s3Client();
      await s3.send(new CreateBucketCommand({ Bucket: 'emulator-check' }));
      const body = '{"a":1}\n{"a":2}\n';
      for (const key of ['b/2.jsonl', 'a/1.jsonl', 'b/1.jsonl']) {
        await s3.send(new PutObjectCommand({ Bucket: 'emulator-check', Key: key, Body: `${key}\n${body}` }));
      }
      const got = await s3.send(new GetObjectCommand({ Bucket: 'emulator-check', Key: 'a/1.jsonl' }));
      expect(await got.Body?.transformToString()).toBe(`a/1.jsonl\n${body}`);
      const page1 = await s3.send(new ListObjectsV2Command({ Bucket: 'emulator-check', Prefix: 'b/', MaxKeys: 1 }));
      expect(page1.Contents?.map((o) => o.Key)).toEqual(['b/1.jsonl']);
      expect(page1.IsTruncated).toBe(true);
      const page2 = await s3.send(
        new ListObjectsV2Command({ Bucket: 'emulator-check', Prefix: 'b/', ContinuationToken: page1.NextContinuationToken }),
      );
      expect(page2.Contents?.map((o) => o.Key)).toEqual(['b/2.jsonl']);
    } finally {
      process.env = saved;
      await only.stop();
    }
  });
});

describe('startEmulators with kinesis-mock as the Kinesis emulator', () => {
  it('still starts and takes records on request', async () => {
    const only = await startEmulators({ services: ['kinesis'], kinesisEmulator: 'kinesis-mock' });
    try {
      const kinesis = kinesisClient({ endpoint: only.endpoints.kinesis, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      await kinesis.send(new CreateStreamCommand({ StreamName: 'mock-check', ShardCount: 1 }));
      const put = await kinesis.send(new PutRecordsCommand({ StreamName: 'mock-check', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] }));
      expect(put.FailedRecordCount).toBe(0);
    } finally {
      await only.stop();
    }
  });
});

describe('emulator child processes outlive no parent', () => {
  it('are killed when the parent exits without calling stop()', async () => {
    const { pids } = await startInChildProcess('process.exit(0);');
    expect(pids).toHaveLength(4);
    expect(await waitUntilGone(pids)).toEqual([]);
  });

  it('exit by themselves when the parent is killed with SIGKILL', async () => {
    const { parent, pids } = await startInChildProcess('setInterval(() => {}, 1000);');
    expect(pids.every(isAlive)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitUntilGone(pids)).toEqual([]);
  });

  it('are killed when the parent is stopped with SIGTERM, and the parent still exits', async () => {
    const { parent, pids } = await startInChildProcess('setInterval(() => {}, 1000);');
    const exit = new Promise<NodeJS.Signals | null>((resolve) => parent.on('exit', (_code, signal) => resolve(signal)));
    parent.kill('SIGTERM');
    expect(await exit).toBe('SIGTERM');
    expect(await waitUntilGone(pids)).toEqual([]);
  });
});
