import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { ArchiveWriter, S3ArchiveStore, archiveHours, archivePrefix, readArchive } from '../../../lambda/adapters/archive-objects';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { ArchiveError, type ArchivedRecord, engineSeq } from '../../../lambda/core/archive';

const SEQ = (n: number): string => `4965${String(n).padStart(52, '0')}`;
const H9 = Date.UTC(2026, 0, 2, 9);
const rec = (n: number, over: Partial<ArchivedRecord> = {}): ArchivedRecord => ({ shard: 'shardId-000000000000', seq: SEQ(n), partitionKey: `k${n}`, arrivalTime: H9 + n * 60_000, data: Buffer.from(`{"n":${n}}`), ...over });
const ids = (rs: readonly ArchivedRecord[]) => rs.map((r) => `${r.shard}/${engineSeq(r)}`);

describe('the stream archive on the S3 emulator', () => {
  let emulators: Emulators;
  let s3: S3Client;
  const bucket = 'archive-test';

  beforeAll(async () => {
    emulators = await workerEmulators();
    s3 = s3Client({ endpoint: emulators.endpoints.s3, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    s3?.destroy();
    await emulators?.stop();
  });

  const store = (pipeline: string) => new S3ArchiveStore(s3, bucket, archivePrefix(pipeline));
  const readAll = async (pipeline: string, range = {}) => {
    const out: ArchivedRecord[] = [];
    for await (const hour of readArchive(store(pipeline), range)) out.push(...hour);
    return out;
  };

  it('a retried batch puts the same objects with the same bytes; a bisected retry adds objects, and readers see each record once', async () => {
    const w = new ArchiveWriter({ client: s3, bucket, pipeline: 'retry' });
    // 70 records over two arrival hours (one a minute from 09:00), on two shards.
    const batch = Array.from({ length: 70 }, (_, i) => rec(i, i % 3 === 0 ? { shard: 'shardId-000000000001' } : {}));
    const keys = await w.putBatch(batch);
    expect(keys).toHaveLength(4);
    const bytes = async (key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    const first = await Promise.all(keys.map(bytes));
    expect(await w.putBatch(batch)).toEqual(keys);
    expect(await Promise.all(keys.map(bytes))).toEqual(first);
    // Lambda bisects a failing batch: each half is archived under names of its own.
    await w.putBatch(batch.slice(0, 35));
    await w.putBatch(batch.slice(35));
    expect((await store('retry').list()).length).toBe(8);
    expect(w.puts).toBe(14); // the second half's hour-10 objects are the first delivery's again
    const read = await readAll('retry');
    expect(read).toHaveLength(70);
    expect(new Set(ids(read))).toEqual(new Set(ids(batch)));
    expect(read.map((r) => Buffer.from(r.data).toString())).toEqual([...batch].sort((a, b) => a.arrivalTime! - b.arrivalTime!).map((r) => Buffer.from(r.data).toString()));
  });

  it('reads only the objects of an arrival-time range, and only its records', async () => {
    const w = new ArchiveWriter({ client: s3, bucket, pipeline: 'range' });
    await w.putBatch(Array.from({ length: 180 }, (_, i) => rec(i))); // 09:00 to 11:59
    const hours = await archiveHours(store('range'), { from: H9 + 61 * 60_000, to: H9 + 90 * 60_000 });
    expect(hours.map((h) => h.hour)).toEqual([H9 + 3_600_000]);
    const read = await readAll('range', { from: H9 + 61 * 60_000, to: H9 + 90 * 60_000 });
    expect(read.map((r) => r.partitionKey)).toEqual(Array.from({ length: 29 }, (_, i) => `k${61 + i}`));
    await expect(readAll('range', { from: H9 + 10, to: H9 })).rejects.toThrow(/empty arrival-time range/);
  });

  it('names a corrupt, truncated or misplaced object, and the line at fault', async () => {
    const w = new ArchiveWriter({ client: s3, bucket, pipeline: 'bad' });
    const [key] = await w.putBatch([rec(1), rec(2)]);
    const good = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key! }))).Body!.transformToByteArray());
    const put = (body: Uint8Array) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key!, Body: body }));
    const where = `archive object s3://${bucket}/archive/bad/${key!.slice('archive/bad/'.length)}`;

    await put(good.subarray(0, good.length - 9));
    await expect(readAll('bad')).rejects.toThrow(new RegExp(`^${where.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a complete gzip object`));
    await put(Buffer.from('not gzip at all'));
    await expect(readAll('bad')).rejects.toThrow(ArchiveError);
    await put(gzipSync('{"shard":"shardId-000000000000"}\n'));
    await expect(readAll('bad')).rejects.toThrow(/line 1: "seq" must be a decimal sequence number string$/);
    await put(gzipSync(`${JSON.stringify({ shard: 'shardId-000000000000', seq: SEQ(1), pk: 'k', at: H9, data: '' })}\n{"shard"`));
    await expect(readAll('bad')).rejects.toThrow(/truncated \(the last line has no newline\)$/);
    await put(gzipSync(`${JSON.stringify({ shard: 'shardId-000000000000', seq: SEQ(1), pk: 'k', at: H9 - 1, data: '' })}\n`));
    await expect(readAll('bad')).rejects.toThrow(/line 1: arrival time \d+ is outside the object's hour$/);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'archive/bad/stray.jsonl.gz', Body: good }));
    await expect(readAll('bad')).rejects.toThrow(/archive\/bad\/stray\.jsonl\.gz: not in the archive layout/);
    await expect(new S3ArchiveStore(s3, bucket, 'archive/bad/').get('dt=2026-01-02/hh=09/missing.jsonl.gz')).rejects.toThrow(/missing\.jsonl\.gz: cannot read \(NoSuchKey/);
  });
});
