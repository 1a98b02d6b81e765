/**
 * Resharding mid-run (docs/semantics.md §3, "Resharding"): a file through the local pipeline while its stream
 * splits and merges. The event source mapping reads parents to their end before their children; a child starts
 * from its parents' watermark, and its first archived record says so. The pipeline's outputs then equal the
 * replay of its archive, no window is emitted twice, and a key that moved to a child is judged as on its parent.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkload, writeWorkload } from '../../bin/bench/workload';
import { runBackfill } from '../../bin/backfill/run';
import { FolderArchiveStore, archiveRecordBatches } from '../../bin/history/archive-source';
import type { Emulators } from '../../bin/local/emulators';
import { FAST_RETRY_BACKOFF } from '../../bin/local/esm-runner';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { ARCHIVE_DIR, runFile } from '../../bin/sandbox/file-run';
import { parseReshards } from '../../bin/sandbox/reshard';
import { readArchive } from '../../lambda/adapters/archive-objects';
import { parseSpec } from '../../lambda/core/spec';
import { workerEmulators } from '../support/worker-emulators';

const spec = parseSpec({
  source: { keyField: 'user_id', timeField: 'event_time', idField: 'event_id' },
  watermark: { allowedLatenessMs: 20_000 },
  latePolicy: 'dlq',
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_3m', window: { type: 'sliding', sizeMs: 180_000, slideMs: 60_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session', window: { type: 'session', gapMs: 90_000 }, aggregate: 'count' },
  ],
});

interface Line {
  readonly feature: string;
  readonly key: string;
  readonly windowStart: number;
}

describe('resharding during a run', () => {
  const saved = { ...process.env };
  let dir: string;
  let emulators: Emulators;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'reshard-'));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('splits and merges under faults, and the outputs equal the replay of the archive, each window once', async () => {
    const input = path.join(dir, 'records.jsonl');
    await writeWorkload(input, generateWorkload({ records: 1200, keys: 40, spacingMs: 800, duplicateRate: 0.03, malformedRate: 0.01, seed: 9 }));
    const out = path.join(dir, 'run');
    const reshards = parseReshards('split@250,split@500,merge@800,merge@1000', 2, 1200);
    const { stats } = await runFile({ spec, inputPath: input, outDir: out, shards: 2, reshards, chaos: 0.2, seed: 3, batchSize: 40, retryBackoffMs: FAST_RETRY_BACKOFF, name: 'reshard-e2e' });
    expect(stats.reshards.map((r) => [r.kind, r.parents.length, r.children.length, r.afterRecords])).toEqual([
      ['split', 1, 2, 250],
      ['split', 1, 2, 500],
      ['merge', 2, 1, 800],
      ['merge', 2, 1, 1000],
    ]);
    expect(stats.chaos.faults).toBeGreaterThan(0);
    const fromArchive = await replay({ spec, records: archiveRecordBatches(new FolderArchiveStore(path.join(out, ARCHIVE_DIR)), {}, spec, 100), outDir: path.join(dir, 'replay') });
    expect(fromArchive.records).toBe(1200);
    expect(fromArchive.late).toBeGreaterThan(0);
    const c = compareOutputs(out, path.join(dir, 'replay'));
    expect(c.equal, describeComparison(c, ['pipeline', 'archive replay'])).toBe(true);
    const windows = jsonl<Line>(path.join(out, 'windows.jsonl'));
    const ids = windows.map((w) => `${w.feature}\u0000${w.key}\u0000${w.windowStart}`);
    expect(new Set(ids).size).toBe(ids.length);
    // Children's first records carry their lineage in the archive.
    const archived = (await Promise.all(await collect(readArchive(new FolderArchiveStore(path.join(out, ARCHIVE_DIR)))))).flat();
    const children = new Set(stats.reshards.flatMap((r) => r.children));
    const marked = new Set(archived.filter((r) => r.lineage !== undefined).map((r) => r.shard));
    expect([...marked].sort()).toEqual([...children].filter((c) => archived.some((r) => r.shard === c)).sort());
    // The backfill over the same archive, cut across partitions, decides alike.
    const report = await runBackfill({ specText: JSON.stringify(spec), source: { kind: 'folder', path: path.join(out, ARCHIVE_DIR) }, partitions: 3, outDir: path.join(dir, 'backfill'), workers: 2 });
    expect(report.summary.records).toBe(1200);
    // Keys that moved from a parent to its child are exact: none is counted as spread over shards.
    expect(report.keysOnSeveralShards).toBe(0);
    const b = compareOutputs(path.join(dir, 'backfill'), path.join(dir, 'replay'));
    expect(b.equal, describeComparison(b, ['backfill', 'archive replay'])).toBe(true);
  }, 150_000);

  it("judges a key that moved to a child by its parent's watermark: a record for a window its parent closed is late, not a second window", async () => {
    const T0 = Date.UTC(2026, 0, 6, 12, 0, 0);
    const one = parseSpec({ source: { keyField: 'user_id', timeField: 'event_time' }, watermark: { allowedLatenessMs: 0 }, latePolicy: 'dlq', features: [{ name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }] });
    const rec = (user: string, s: number, at: number) => JSON.stringify({ arrivalTime: T0 + at * 1000, data: JSON.stringify({ user_id: user, event_time: T0 + s * 1000 }) });
    // a's window [0, 60 s) closes on the parent (b reaches 130 s); after the split a's record at 30 s lands on a child.
    const input = path.join(dir, 'moved.jsonl');
    writeFileSync(input, `${[rec('a', 10, 10), rec('a', 20, 20), rec('b', 130, 130), rec('a', 30, 140), rec('a', 150, 150), rec('b', 200, 200)].join('\n')}\n`);
    const out = path.join(dir, 'moved');
    const { stats } = await runFile({ spec: one, inputPath: input, outDir: out, shards: 1, reshards: parseReshards('split@3', 1, 6), batchSize: 10, retryBackoffMs: FAST_RETRY_BACKOFF, name: 'reshard-moved' });
    expect(stats.reshards[0]!.children).toHaveLength(2);
    await replay({ spec: one, records: archiveRecordBatches(new FolderArchiveStore(path.join(out, ARCHIVE_DIR)), {}, one, 2), outDir: path.join(dir, 'moved-replay') });
    const c = compareOutputs(out, path.join(dir, 'moved-replay'));
    expect(c.equal, describeComparison(c, ['pipeline', 'archive replay'])).toBe(true);
    const windows = jsonl<Line & { count: number }>(path.join(out, 'windows.jsonl')).filter((w) => w.key === 'a');
    expect(windows.map((w) => [w.windowStart - T0, w.count])).toEqual([
      [0, 2],
      [120_000, 1],
    ]);
    const rejected = jsonl<{ reason: string; line: number; message: string }>(path.join(out, 'rejected.jsonl'));
    expect(rejected.map((r) => [r.reason, r.line])).toEqual([['late', 4]]);
    expect(rejected[0]!.message).toContain(`(watermark ${T0 + 130_000})`);
  }, 60_000);
});

function jsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
