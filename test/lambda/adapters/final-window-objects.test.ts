import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import { s3Client } from '../../../lambda/adapters/s3-client';
import {
  type FinalWindowBatch,
  FinalWindowObjectError,
  FinalWindowObjectReader,
  FinalWindowObjectWriter,
  finalWindowObjectKey,
} from '../../../lambda/adapters/final-window-objects';
import type { WindowLine } from '../../../lambda/core/output';

const SEQ_A = '49650000000000000000000000000000000000000000000000000001';
const SEQ_B = '49650000000000000000000000000000000000000000000000000500';
const SEQ_C = '49650000000000000000000000000000000000000000000000000900';
const AT = Date.UTC(2026, 0, 2, 9, 59, 59, 999);

const w = (key: string, windowStart: number, value: number, feature = 'txn_count_5m'): WindowLine => ({
  feature,
  key,
  windowStart,
  windowEnd: windowStart + 300_000,
  value,
  count: 2,
});

const batch = (over: Partial<FinalWindowBatch> = {}): FinalWindowBatch => ({
  pipeline: 'fraud',
  shardId: 'shardId-000000000000',
  firstSeq: SEQ_A,
  lastSeq: SEQ_B,
  arrivalTime: AT,
  windows: [w('u1', 0, 3), w('u2', 0, 1.5)],
  ...over,
});

describe('finalWindowObjectKey', () => {
  it('names a batch by pipeline, UTC hour of its first arrival, shard and sequence range', () => {
    expect(finalWindowObjectKey(batch())).toBe(`finals/fraud/2026/01/02/09/shardId-000000000000-${SEQ_A}-${SEQ_B}.jsonl`);
    expect(finalWindowObjectKey(batch())).toBe(finalWindowObjectKey(batch({ windows: [] })));
  });

  it('sorts keys by time across hours, days and years', () => {
    const times = [Date.UTC(2026, 11, 31, 23, 30), Date.UTC(2026, 0, 2, 10), Date.UTC(2027, 0, 1, 0), AT, Date.UTC(2026, 0, 10, 0)];
    const keys = times.map((arrivalTime) => finalWindowObjectKey(batch({ arrivalTime })));
    expect([...keys].sort()).toEqual([...times].sort((a, b) => a - b).map((arrivalTime) => finalWindowObjectKey(batch({ arrivalTime }))));
  });

  it('refuses names that could escape their path level, sequence numbers that are not decimal, and bad times', () => {
    for (const pipeline of ['a/b', '..', '', 'x'.repeat(129), 'a b']) {
      expect(() => finalWindowObjectKey(batch({ pipeline }))).toThrow(FinalWindowObjectError);
    }
    expect(() => finalWindowObjectKey(batch({ shardId: '../x' }))).toThrow(/shard id/);
    expect(() => finalWindowObjectKey(batch({ firstSeq: '12a' }))).toThrow(/first sequence number/);
    expect(() => finalWindowObjectKey(batch({ lastSeq: '012' }))).toThrow(/last sequence number/);
    expect(() => finalWindowObjectKey(batch({ arrivalTime: NaN }))).toThrow(/arrival time/);
    expect(() => finalWindowObjectKey(batch({ arrivalTime: -1 }))).toThrow(/arrival time/);
  });
});

describe('final-window objects on the S3 emulator', () => {
  let emulators: Emulators;
  let s3: S3Client;
  const bucket = 'finals-test';

  beforeAll(async () => {
    emulators = await startEmulators({ services: ['s3'] });
    s3 = s3Client({ endpoint: emulators.endpoints.s3, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    s3?.destroy();
    await emulators?.stop();
  });

  it('writes a batch as one JSON-lines object in the windows.jsonl format and reads it back', async () => {
    const writer = new FinalWindowObjectWriter({ client: s3, bucket });
    const awkward = w('ü "quoted" \\ key\n', 600_000, -0.1, 'f/ü');
    const key = await writer.putBatch(batch({ pipeline: 'roundtrip', windows: [w('u1', 0, 3), awkward] }));
    expect(writer.puts).toBe(1);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await got.Body!.transformToString();
    expect(text).toBe(`${JSON.stringify(w('u1', 0, 3))}\n${JSON.stringify(awkward)}\n`);
    expect(writer.bytes).toBe(Buffer.byteLength(text));
    const reader = new FinalWindowObjectReader({ client: s3, bucket });
    expect(await reader.readAll('roundtrip')).toEqual([w('u1', 0, 3), awkward]);
  });

  it('puts nothing for a batch without final windows', async () => {
    const writer = new FinalWindowObjectWriter({ client: s3, bucket });
    expect(await writer.putBatch(batch({ pipeline: 'empty', windows: [] }))).toBeUndefined();
    expect(writer.puts).toBe(0);
    expect(await new FinalWindowObjectReader({ client: s3, bucket }).keys('empty')).toEqual([]);
  });

  it('is idempotent: a retried batch overwrites its object, and a bisected retry does not duplicate windows', async () => {
    const writer = new FinalWindowObjectWriter({ client: s3, bucket });
    const reader = new FinalWindowObjectReader({ client: s3, bucket });
    const windows = [w('u1', 0, 3), w('u2', 0, 1.5), w('u3', 0, 7)];
    const first = await writer.putBatch(batch({ pipeline: 'retry', windows }));
    const again = await writer.putBatch(batch({ pipeline: 'retry', windows }));
    expect(again).toBe(first);
    expect(await reader.keys('retry')).toEqual([first]);
    // The retry of the first half after a bisection: a shorter range, so a second object with the same windows.
    await writer.putBatch(batch({ pipeline: 'retry', lastSeq: SEQ_A, windows: windows.slice(0, 2) }));
    expect(await reader.keys('retry')).toHaveLength(2);
    const all = await reader.readAll('retry');
    expect(all).toHaveLength(3);
    expect(new Set(all.map((x) => x.key))).toEqual(new Set(['u1', 'u2', 'u3']));
  });

  it('lists across pages in time order, and reads incrementally after a key', async () => {
    const writer = new FinalWindowObjectWriter({ client: s3, bucket });
    const hours = [5, 1, 3, 2, 4];
    for (const h of hours) {
      await writer.putBatch(batch({ pipeline: 'paged', arrivalTime: Date.UTC(2026, 0, 2, h), firstSeq: SEQ_B, lastSeq: SEQ_C, windows: [w(`u${h}`, h * 3_600_000, h)] }));
    }
    const reader = new FinalWindowObjectReader({ client: s3, bucket });
    const keys = await reader.keys('paged', { pageSize: 2 });
    expect(keys.map((k) => k.split('/')[5])).toEqual(['01', '02', '03', '04', '05']);
    // Another pipeline's objects share the bucket but never its listing.
    expect(keys.every((k) => k.startsWith('finals/paged/'))).toBe(true);
    const later = await reader.readAll('paged', { startAfter: keys[2], pageSize: 2 });
    expect(later.map((x) => x.key)).toEqual(['u4', 'u5']);
  });

  it('rejects an object that is not final-window lines, naming the key and line', async () => {
    const key = 'finals/corrupt/2026/01/02/09/shardId-000000000000-1-2.jsonl';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(w('u1', 0, 1))}\n{"feature":"f"}\n` }));
    const reader = new FinalWindowObjectReader({ client: s3, bucket });
    await expect(reader.readAll('corrupt')).rejects.toThrow(`${key} line 2: not a final window line`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'not json\n' }));
    await expect(reader.readAll('corrupt')).rejects.toThrow(FinalWindowObjectError);
  });
});
