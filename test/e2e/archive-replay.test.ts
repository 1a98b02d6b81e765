/**
 * The stream archive end to end: a file through the local pipeline (Kinesis → event source mapping → consumer,
 * with injected crashes and bisected retries) leaves its archive in the S3 emulator and in DIR/archive; replaying
 * that archive gives exactly what replaying the file gives, whole or over an arrival-time range, and the CLIs
 * read it with --archive.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkload, writeWorkload } from '../../bin/bench/workload';
import { loadSpecFile } from '../../bin/cli/spec-file';
import { FolderArchiveStore, archiveRecordBatches } from '../../bin/history/archive-source';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { ARCHIVE_DIR, runFile } from '../../bin/sandbox/file-run';
import { trainingSet } from '../../bin/training/run';
import { runCli } from '../support/run-cli';

const SPEC_PATH = path.join(__dirname, '..', '..', 'bin', 'specs', 'fraud.json');

describe('the stream archive', () => {
  const saved = { ...process.env };
  let dir: string;
  let input: string;
  let emulators: Emulators;
  let archive: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'archive-e2e-'));
    input = path.join(dir, 'records.jsonl');
    // About 40 minutes of arrivals over two arrival hours, with late, duplicate, malformed and future records.
    await writeWorkload(input, generateWorkload({ records: 800, keys: 30, spacingMs: 3000, duplicateRate: 0.03, malformedRate: 0.01, futureRate: 0.01, seed: 21, startTime: Date.UTC(2026, 0, 1, 9, 40) }));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
    const out = path.join(dir, 'sandbox');
    const { stats } = await runFile({ spec: loadSpecFile(SPEC_PATH), inputPath: input, outDir: out, shards: 1, chaos: 0.3, seed: 4, batchSize: 50, name: 'archive-e2e' });
    expect(stats.chaos.faults).toBeGreaterThan(0);
    expect(stats.archiveObjects).toBeGreaterThan(800 / 50);
    archive = path.join(out, ARCHIVE_DIR);
  }, 150_000); // the pipeline end to end on emulators: a minute on a loaded 2-core machine

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('written under crashes and retries, replays to exactly the outputs of the input file', async () => {
    const spec = loadSpecFile(SPEC_PATH);
    const fromFile = await replay({ spec, inputPath: input, outDir: path.join(dir, 'replay-file') });
    const fromArchive = await replay({ spec, records: archiveRecordBatches(new FolderArchiveStore(archive), {}, spec, 300), outDir: path.join(dir, 'replay-archive') });
    expect(fromFile.late + fromFile.duplicates + fromFile.invalid + fromFile.future).toBeGreaterThan(0);
    expect(fromArchive).toEqual(fromFile);
    const c = compareOutputs(path.join(dir, 'replay-file'), path.join(dir, 'replay-archive'));
    expect(c.equal, describeComparison(c, ['file', 'archive'])).toBe(true);
    // And what the pipeline itself stored.
    const s = compareOutputs(path.join(dir, 'sandbox'), path.join(dir, 'replay-archive'));
    expect(s.equal, describeComparison(s, ['sandbox', 'archive'])).toBe(true);
  });

  it('over an arrival-time range, replays exactly the records that arrived in it', async () => {
    const spec = loadSpecFile(SPEC_PATH);
    const lines = readFileSync(input, 'utf8').trimEnd().split('\n');
    const from = Date.UTC(2026, 0, 1, 9, 55);
    const to = Date.UTC(2026, 0, 1, 10, 10); // across the hour boundary
    const inRange = lines.filter((l) => {
      const t = (JSON.parse(l) as { arrivalTime: number }).arrivalTime;
      return t >= from && t < to;
    });
    expect(inRange.length).toBeGreaterThan(100);
    writeFileSync(path.join(dir, 'range.jsonl'), `${inRange.join('\n')}\n`);
    const fromFile = await replay({ spec, inputPath: path.join(dir, 'range.jsonl'), outDir: path.join(dir, 'range-file') });
    const fromArchive = await replay({ spec, records: archiveRecordBatches(new FolderArchiveStore(archive), { from, to }, spec, 2000), outDir: path.join(dir, 'range-archive') });
    expect(fromArchive).toEqual(fromFile);
    const c = compareOutputs(path.join(dir, 'range-file'), path.join(dir, 'range-archive'));
    expect(c.equal, describeComparison(c, ['file', 'archive'])).toBe(true);
  });

  it('training rows from the archive equal those from the file', async () => {
    const spec = loadSpecFile(SPEC_PATH);
    const labels = path.join(dir, 'labels.jsonl');
    writeFileSync(labels, ['user_1', 'user_2', 'user_3', 'user_4'].map((key, i) => JSON.stringify({ key, time: Date.UTC(2026, 0, 1, 9, 50 + i * 7), label: i % 2 })).join('\n'));
    const a = await trainingSet({ spec, records: archiveRecordBatches(new FolderArchiveStore(archive), {}, spec, 2000), labelsPath: labels, outDir: path.join(dir, 't-archive') });
    const f = await trainingSet({ spec, eventsPath: input, labelsPath: labels, outDir: path.join(dir, 't-file') });
    expect(a).toEqual(f);
    expect(f.rowsAllEmpty).toBeLessThan(4);
    expect(readFileSync(path.join(dir, 't-archive', 'training.jsonl'), 'utf8')).toBe(readFileSync(path.join(dir, 't-file', 'training.jsonl'), 'utf8'));
  });

  it('npm run replay reads --archive; conflicting options, empty ranges and truncated objects are named', async () => {
    const args = (out: string) => ['--config', SPEC_PATH, '--archive', archive, '--out', path.join(dir, out)];
    // A truncated copy of the archive: one object cut short.
    const broken = path.join(dir, 'broken');
    cpSync(archive, broken, { recursive: true });
    const hour = path.join(broken, readdirSync(broken)[0]!, readdirSync(path.join(broken, readdirSync(broken)[0]!))[0]!);
    const victim = path.join(hour, readdirSync(hour)[0]!);
    writeFileSync(victim, readFileSync(victim).subarray(0, -20));
    const [ok, both, empty, reversed, cut] = await Promise.all([
      runCli('bin/replay.ts', args('cli-archive')),
      runCli('bin/replay.ts', [...args('cli-both'), '--input', input]),
      runCli('bin/replay.ts', [...args('cli-empty'), '--from', '2030-01-01T00:00:00Z']),
      runCli('bin/replay.ts', [...args('cli-reversed'), '--from', '2026-01-01T10:00:00Z', '--to', '2026-01-01T09:00:00Z']),
      runCli('bin/replay.ts', ['--config', SPEC_PATH, '--archive', broken, '--out', path.join(dir, 'cli-cut')]),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const c = compareOutputs(path.join(dir, 'replay-file'), path.join(dir, 'cli-archive'));
    expect(c.equal, describeComparison(c, ['file', 'archive'])).toBe(true);
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([64, 'error: give --input or --archive, not both']);
    expect(empty.code).toBe(1);
    expect(empty.stderr.split('\n')[0]).toMatch(`error: archive ${archive}/: no record arrived in the range (2030-01-01T00:00:00.000Z to the end); no output kept`);
    expect(reversed.code).toBe(64);
    expect(reversed.stderr).toMatch(/^error: --from \(2026-01-01T10:00:00.000Z\) must be before --to/);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain(`error: archive object ${victim}: not a complete gzip object`);
    expect(readdirSync(path.join(dir, 'cli-cut'))).not.toContain('windows.jsonl');
  }, 120_000); // five CLI processes at once on a loaded 2-core machine
});
