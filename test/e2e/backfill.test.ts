/**
 * The backfill state machine, run locally as `npm run backfill` runs it (the stack's synthesized definition in an
 * ASL interpreter, tasks on worker threads, objects in the S3 emulator), writes what `npm run replay` writes:
 * on 1 and 4 shards, under dlq, drop and update, with sessions, sketches and global windows, at 1, 2, 4 and 8
 * partitions, with workers failing before and after writing their objects (retried by the state machine); from a
 * records file and from an archive. Bad archives and inputs fail the run by name and leave no output.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_SPEC, SKETCH_SPEC, generateWorkload, writeWorkload } from '../../bin/bench/workload';
import { runBackfill } from '../../bin/backfill/run';
import { FolderArchiveStore, archiveRecordBatches } from '../../bin/history/archive-source';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../lambda/adapters/s3-client';
import { hash53 } from '../../lambda/core/aggregates/hash';
import { type ArchivedRecord, archiveObjects } from '../../lambda/core/archive';
import type { PipelineSpec } from '../../lambda/core/spec';

const SPECS: Record<'dlq' | 'drop' | 'update', PipelineSpec> = {
  // Sketches (distinct, percentile), sessions and a count-triggered global window.
  dlq: SKETCH_SPEC,
  drop: { ...SKETCH_SPEC, latePolicy: 'drop', features: [...SKETCH_SPEC.features, { name: 'spend_every_10m', window: { type: 'global', trigger: { everyMs: 600_000, purge: true } }, aggregate: 'sum', field: 'amount' }] },
  update: { ...BENCH_SPEC, latePolicy: 'update', features: [...BENCH_SPEC.features, ...SKETCH_SPEC.features.filter((f) => f.aggregate === 'distinct' || f.aggregate === 'percentile')] },
};

/** Every P of 1, 2, 4 and 8 on both 1 and 4 shards, spread over the late policies. */
const CASES: Array<{ policy: keyof typeof SPECS; shards: number; partitions: number }> = [
  { policy: 'dlq', shards: 1, partitions: 1 },
  { policy: 'dlq', shards: 4, partitions: 8 },
  { policy: 'drop', shards: 1, partitions: 2 },
  { policy: 'drop', shards: 4, partitions: 4 },
  { policy: 'update', shards: 1, partitions: 8 },
  { policy: 'update', shards: 4, partitions: 1 },
  { policy: 'dlq', shards: 1, partitions: 4 },
  { policy: 'update', shards: 4, partitions: 2 },
];

/** About a third of the task attempts fail once: before the step, or after it wrote its objects. */
const flaky = (state: string, event: unknown, attempt: number): 'before' | 'after' | undefined => {
  if (attempt > 1) return undefined;
  const h = hash53(`${state} ${JSON.stringify(event)}`);
  return h % 3 !== 0 ? undefined : h % 2 === 0 ? 'before' : 'after';
};

describe('backfill on the state machine', () => {
  const saved = { ...process.env };
  let dir: string;
  let emulators: Emulators;
  const inputs = new Map<number, string>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'backfill-e2e-'));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
    for (const shards of [1, 4]) {
      const input = path.join(dir, `records-${shards}.jsonl`);
      // Over two hours of arrivals with late, duplicate, malformed and future records.
      await writeWorkload(input, generateWorkload({ records: 1600, keys: 50, shards, spacingMs: 4500, duplicateRate: 0.03, malformedRate: 0.01, futureRate: 0.01, seed: 40 + shards, merchants: 80, startTime: Date.UTC(2026, 0, 1, 9, 20) }));
      inputs.set(shards, input);
    }
  }, 60_000);

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const references = new Map<string, string>();
  async function reference(policy: keyof typeof SPECS, shards: number): Promise<string> {
    const id = `${policy}-${shards}`;
    if (!references.has(id)) {
      const out = path.join(dir, `replay-${id}`);
      await replay({ spec: SPECS[policy], inputPath: inputs.get(shards)!, outDir: out });
      references.set(id, out);
    }
    return references.get(id)!;
  }

  it.each(CASES)('$policy on $shards shard(s) at P = $partitions writes what the replay writes, through failed and retried workers', async ({ policy, shards, partitions }) => {
    const replayed = await reference(policy, shards);
    const out = path.join(dir, `backfill-${policy}-${shards}-${partitions}`);
    const report = await runBackfill({ specText: JSON.stringify(SPECS[policy]), source: { kind: 'file', path: inputs.get(shards)! }, partitions, outDir: out, segmentBytes: 40_000, workers: 2, inject: flaky });
    expect(report.segments).toBeGreaterThan(3);
    expect(report.retried).toBeGreaterThan(0);
    expect(report.keysOnSeveralShards).toBe(0);
    const c = compareOutputs(replayed, out);
    expect(c.equal, describeComparison(c, ['replay', 'backfill'])).toBe(true);
    // Rejected records come out in input order, line for line.
    expect(readFileSync(path.join(out, 'rejected.jsonl'), 'utf8')).toBe(readFileSync(path.join(replayed, 'rejected.jsonl'), 'utf8'));
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as Record<string, number>;
    expect(summary.late + summary.duplicates + summary.invalid + summary.future).toBeGreaterThan(0);
    if (policy === 'update') expect(summary.corrections).toBeGreaterThan(0);
    if (policy !== 'update') expect(summary.firings).toBeGreaterThan(0);
  });

  describe('from an archive', () => {
    let archive: string;
    beforeAll(() => {
      archive = path.join(dir, 'archive');
      const lines = readFileSync(inputs.get(4)!, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { shard: string; arrivalTime: number; data: string });
      const seqs = new Map<string, number>();
      const records: ArchivedRecord[] = lines.map((l) => {
        const seq = (seqs.get(l.shard) ?? 0) + 1;
        seqs.set(l.shard, seq);
        return { shard: l.shard, seq: String(seq), partitionKey: 'pk', arrivalTime: l.arrivalTime, data: Buffer.from(l.data, 'utf8') };
      });
      // Batches of 40, and a second, overlapping copy of some (a bisected retry): readers keep each record once.
      const batches: ArchivedRecord[][] = [];
      for (let i = 0; i < records.length; i += 40) batches.push(records.slice(i, i + 40));
      for (let i = 0; i < records.length; i += 400) batches.push(records.slice(i + 5, i + 25));
      for (const b of batches) {
        for (const o of archiveObjects('', b)) {
          mkdirSync(path.join(archive, path.dirname(o.key)), { recursive: true });
          writeFileSync(path.join(archive, o.key), gzipSync(Buffer.from(o.body, 'utf8')));
        }
      }
    });

    it('over a range writes what the replay of that range writes', async () => {
      const spec = SPECS.dlq;
      const range = { from: Date.UTC(2026, 0, 1, 9, 40), to: Date.UTC(2026, 0, 1, 11, 5) };
      const replayed = path.join(dir, 'replay-archive');
      const one = await replay({ spec, records: archiveRecordBatches(new FolderArchiveStore(archive), range, spec, 2000), outDir: replayed });
      const out = path.join(dir, 'backfill-archive');
      const report = await runBackfill({ specText: JSON.stringify(spec), source: { kind: 'folder', path: archive }, range, partitions: 3, outDir: out, workers: 2, inject: flaky });
      expect(report.segments).toBe(3);
      expect(report.summary).toEqual(one);
      const c = compareOutputs(replayed, out);
      expect(c.equal, describeComparison(c, ['replay', 'backfill'])).toBe(true);
      expect(readFileSync(path.join(out, 'rejected.jsonl'), 'utf8')).toBe(readFileSync(path.join(replayed, 'rejected.jsonl'), 'utf8'));
    });

    it('from the archive in S3 (listed folder by folder) writes what it writes from the folder', async () => {
      const s3 = s3Client();
      const bucket = 'backfill-e2e-archive';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const keys = await new FolderArchiveStore(archive).list();
      await Promise.all(keys.map((k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `archive/e2e/${k}`, Body: readFileSync(path.join(archive, k)) }))));
      const spec = JSON.stringify(SPECS.drop);
      const [fromFolder, fromS3] = [path.join(dir, 'archive-folder'), path.join(dir, 'archive-s3')];
      const a = await runBackfill({ specText: spec, source: { kind: 'folder', path: archive }, partitions: 2, outDir: fromFolder, workers: 2 });
      const b = await runBackfill({ specText: spec, source: { kind: 'archive', bucket, prefix: 'archive/e2e/' }, partitions: 5, outDir: fromS3, workers: 2 });
      expect(b.segments).toBe(a.segments);
      expect(b.summary).toEqual(a.summary);
      const c = compareOutputs(fromFolder, fromS3);
      expect(c.equal, describeComparison(c, ['folder', 's3'])).toBe(true);
    });

    it('refuses a corrupt object and an empty range by name, keeping no output', async () => {
      const spec = JSON.stringify(SPECS.dlq);
      const out = path.join(dir, 'backfill-bad');
      await expect(runBackfill({ specText: spec, source: { kind: 'folder', path: archive }, range: { from: Date.UTC(2025, 0, 1), to: Date.UTC(2025, 0, 2) }, partitions: 2, outDir: out, workers: 1 })).rejects.toThrow(
        /no object in the range \(2025-01-01T00:00:00.000Z to 2025-01-02T00:00:00.000Z\)/,
      );
      const bad = path.join(dir, 'archive-bad');
      mkdirSync(path.join(bad, 'dt=2026-01-01', 'hh=10'), { recursive: true });
      const name = 'dt=2026-01-01/hh=10/shardId-000000000000-1-2.jsonl.gz';
      writeFileSync(path.join(bad, name), gzipSync(Buffer.from('{"shard":"shardId-000000000000","seq":"1","pk":"k","at":1767261600000,"data":"e30="}\n')).subarray(0, 30));
      await expect(runBackfill({ specText: spec, source: { kind: 'folder', path: bad }, partitions: 2, outDir: out, workers: 1 })).rejects.toThrow(`archive object ${bad}/${name}: not a complete gzip object`);
      expect(() => readFileSync(path.join(out, 'windows.jsonl'))).toThrow();
    });
  });

  it('refuses a run id that already names a run with other inputs', async () => {
    const spec = JSON.stringify(SPECS.dlq);
    const source = { kind: 'file' as const, path: inputs.get(1)! };
    await runBackfill({ specText: spec, source, partitions: 2, outDir: path.join(dir, 'rerun-a'), workers: 1, runId: 'same-id' });
    // The same inputs again (a retried execution) are the same run.
    await runBackfill({ specText: spec, source, partitions: 2, outDir: path.join(dir, 'rerun-b'), workers: 1, runId: 'same-id' });
    await expect(runBackfill({ specText: spec, source, partitions: 3, outDir: path.join(dir, 'rerun-c'), workers: 1, runId: 'same-id' })).rejects.toThrow(/runId same-id: already names a run with other inputs/);
  });

  it('names an unreadable input line by its line number in the whole file', async () => {
    const lines = readFileSync(inputs.get(1)!, 'utf8').trimEnd().split('\n');
    lines[1700] = '{"data": 7}';
    const bad = path.join(dir, 'bad-line.jsonl');
    writeFileSync(bad, `${lines.join('\n')}\n`);
    await expect(runBackfill({ specText: JSON.stringify(SPECS.dlq), source: { kind: 'file', path: bad }, partitions: 2, outDir: path.join(dir, 'bad-line'), segmentBytes: 60_000, workers: 1 })).rejects.toThrow(
      'input line 1701: "data" must be a string holding the record payload',
    );
  });
});
