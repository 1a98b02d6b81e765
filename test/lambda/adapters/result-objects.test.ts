import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { type BatchResults, type ResultBatch, ResultObjectError, ResultObjectReader, ResultObjectWriter, resultObjectKey } from '../../../lambda/adapters/result-objects';
import type { FinalWindow } from '../../../lambda/core/results';

const SEQ_A = '49650000000000000000000000000000000000000000000000000001';
const SEQ_B = '49650000000000000000000000000000000000000000000000000500';
const SEQ_C = '49650000000000000000000000000000000000000000000000000900';
const AT = Date.UTC(2026, 0, 2, 9, 59, 59, 999);

const w = (key: string, windowStart: number, value: number, feature = 'txn_count_5m'): FinalWindow => ({ feature, key, windowStart, windowEnd: windowStart + 300_000, value, count: 2, acc: [] as never });
const line = (x: FinalWindow) => ({ feature: x.feature, key: x.key, windowStart: x.windowStart, windowEnd: x.windowEnd, value: x.value, count: x.count });
const results = (finals: FinalWindow[], more: Partial<BatchResults> = {}): BatchResults => ({ finals, firings: [], corrections: [], ...more });

const batch = (over: Partial<ResultBatch> = {}): ResultBatch => ({ pipeline: 'fraud', shardId: 'shardId-000000000000', firstSeq: SEQ_A, lastSeq: SEQ_B, arrivalTime: AT, ...over });

describe('resultObjectKey', () => {
  it('names a batch by kind, pipeline, UTC hour of its first arrival, shard, sequence range and contents', () => {
    const key = resultObjectKey('finals', batch(), 'a\n');
    expect(key).toMatch(new RegExp(`^finals/fraud/2026/01/02/09/shardId-000000000000-${SEQ_A}-${SEQ_B}-[0-9a-f]{16}\\.jsonl$`));
    expect(resultObjectKey('finals', batch(), 'a\n')).toBe(key);
    expect(resultObjectKey('finals', batch(), 'b\n')).not.toBe(key);
    expect(resultObjectKey('corrections', batch(), 'a\n').startsWith('corrections/fraud/')).toBe(true);
  });

  it('sorts keys by time across hours, days and years', () => {
    const times = [Date.UTC(2026, 11, 31, 23, 30), Date.UTC(2026, 0, 2, 10), Date.UTC(2027, 0, 1, 0), AT, Date.UTC(2026, 0, 10, 0)];
    const keys = times.map((arrivalTime) => resultObjectKey('finals', batch({ arrivalTime }), ''));
    expect([...keys].sort()).toEqual([...times].sort((a, b) => a - b).map((arrivalTime) => resultObjectKey('finals', batch({ arrivalTime }), '')));
  });

  it('refuses names that could escape their path level, sequence numbers that are not decimal, and bad times', () => {
    for (const pipeline of ['a/b', '..', '', 'x'.repeat(129), 'a b']) expect(() => resultObjectKey('finals', batch({ pipeline }), '')).toThrow(ResultObjectError);
    expect(() => resultObjectKey('finals', batch({ shardId: '../x' }), '')).toThrow(/shard id/);
    expect(() => resultObjectKey('finals', batch({ firstSeq: '12a' }), '')).toThrow(/first sequence number/);
    expect(() => resultObjectKey('finals', batch({ lastSeq: '012' }), '')).toThrow(/last sequence number/);
    expect(resultObjectKey('finals', batch({ lastSeq: `${SEQ_B}.0000000003` }), '')).toContain(`${SEQ_B}.0000000003-`);
    expect(() => resultObjectKey('finals', batch({ arrivalTime: NaN }), '')).toThrow(/arrival time/);
    expect(() => resultObjectKey('finals', batch({ arrivalTime: -1 }), '')).toThrow(/arrival time/);
  });
});

describe('result objects on the S3 emulator', () => {
  let emulators: Emulators;
  let s3: S3Client;
  const bucket = 'results-test';

  beforeAll(async () => {
    emulators = await workerEmulators();
    s3 = s3Client({ endpoint: emulators.endpoints.s3, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    s3?.destroy();
    await emulators?.stop();
  });

  it('writes each kind of a batch as one JSON-lines object and reads them back', async () => {
    const writer = new ResultObjectWriter({ client: s3, bucket });
    const awkward = w('ü "quoted" \\ key\n', 600_000, -0.1, 'f/ü');
    const correction = { feature: 'f', key: 'u1', windowStart: 0, windowEnd: 10, old: null, new: { value: 1, count: 1 }, acc: [] as never, corrected: {} };
    const firing = { feature: 'g', key: 'u1', firing: 1, trigger: 'count' as const, firedAt: 5, value: 3, count: 4 };
    const keys = await writer.putBatch(batch({ pipeline: 'roundtrip' }), results([w('u1', 0, 3), awkward], { corrections: [correction], firings: [firing] }));
    expect(writer.puts).toBe(3);
    expect(keys.map((k) => k.split('/')[0]).sort()).toEqual(['corrections', 'finals', 'firings']);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys.find((k) => k.startsWith('finals/'))! }));
    expect(await got.Body!.transformToString()).toBe(`${JSON.stringify(line(w('u1', 0, 3)))}\n${JSON.stringify(line(awkward))}\n`);
    const reader = new ResultObjectReader({ client: s3, bucket });
    expect(await reader.readWindows('roundtrip')).toEqual([line(w('u1', 0, 3)), line(awkward)]);
    expect(await reader.readCorrections('roundtrip')).toEqual([{ feature: 'f', key: 'u1', windowStart: 0, windowEnd: 10, old: null, new: { value: 1, count: 1 } }]);
    expect(await reader.readFirings('roundtrip')).toEqual([firing]);
  });

  it('puts nothing for a batch without results', async () => {
    const writer = new ResultObjectWriter({ client: s3, bucket });
    expect(await writer.putBatch(batch({ pipeline: 'empty' }), results([]))).toEqual([]);
    expect(writer.puts).toBe(0);
  });

  it('never loses a line to a retry: the same lines overwrite, fewer lines go to a second object, a reader keeps one of each', async () => {
    const writer = new ResultObjectWriter({ client: s3, bucket });
    const reader = new ResultObjectReader({ client: s3, bucket });
    const windows = [w('u1', 0, 3), w('u2', 0, 1.5), w('u3', 0, 7)];
    const [first] = await writer.putBatch(batch({ pipeline: 'retry' }), results(windows));
    const [again] = await writer.putBatch(batch({ pipeline: 'retry' }), results(windows));
    expect(again).toBe(first);
    // A retry of the same delivery after a crash that wrote some keys' state: fewer windows, same range.
    await writer.putBatch(batch({ pipeline: 'retry' }), results(windows.slice(2)));
    expect(await reader.keys('finals', 'retry')).toHaveLength(2);
    const all = await reader.readWindows('retry');
    expect(all.map((x) => x.key).sort()).toEqual(['u1', 'u2', 'u3']);
  });

  it('lists across pages in time order, and reads incrementally after a key', async () => {
    const writer = new ResultObjectWriter({ client: s3, bucket });
    for (const h of [5, 1, 3, 2, 4]) {
      await writer.putBatch(batch({ pipeline: 'paged', arrivalTime: Date.UTC(2026, 0, 2, h), firstSeq: SEQ_B, lastSeq: SEQ_C }), results([w(`u${h}`, h * 3_600_000, h)]));
    }
    const reader = new ResultObjectReader({ client: s3, bucket });
    const keys = await reader.keys('finals', 'paged', { pageSize: 2 });
    expect(keys.map((k) => k.split('/')[5])).toEqual(['01', '02', '03', '04', '05']);
    expect(keys.every((k) => k.startsWith('finals/paged/'))).toBe(true);
    const later = await reader.readWindows('paged', { startAfter: keys[2], pageSize: 2 });
    expect(later.map((x) => x.key)).toEqual(['u4', 'u5']);
  });

  it('rejects an object that is not final-window lines, naming the key and line', async () => {
    const key = 'finals/corrupt/2026/01/02/09/shardId-000000000000-1-2-0.jsonl';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(line(w('u1', 0, 1)))}\n{"feature":"f"}\n` }));
    const reader = new ResultObjectReader({ client: s3, bucket });
    await expect(reader.readWindows('corrupt')).rejects.toThrow(`${key} line 2: not a final window line`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'not json\n' }));
    await expect(reader.readWindows('corrupt')).rejects.toThrow(ResultObjectError);
  });
});
