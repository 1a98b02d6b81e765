/**
 * The deployed code path (Kinesis → event source mapping → consumer → DynamoDB/SQS, on emulators) against the
 * replay CLI's engine-only path, on a generated file with every kind of awkward record, while a fifth of the
 * invocations crash part-way through their writes. The outputs must be the same sets of lines.
 */
import { FAST_RETRY_BACKOFF } from '../../bin/local/esm-runner';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKETCH_SPEC, generateWorkload, writeWorkload } from '../../bin/bench/workload';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { loadSpecFile } from '../../bin/cli/spec-file';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { SDK_NODE_WARNING_SWITCH } from '../../bin/cli/node-support';
import { runFile } from '../../bin/sandbox/file-run';
import type { ReplaySummary } from '../../lambda/core/output';

const ROOT = path.join(__dirname, '..', '..');
const SPEC_PATH = path.join(ROOT, 'bin', 'specs', 'fraud.json');

describe('sandbox against replay', () => {
  const saved = { ...process.env };
  let dir: string;
  let input: string;
  let emulators: Emulators;
  let expected: ReplaySummary;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sandbox-e2e-'));
    input = path.join(dir, 'records.jsonl');
    // ~70 minutes of event time over 50 keys: the 12-minute delays of the workload's mix make late records.
    const lines = generateWorkload({ records: 2000, keys: 50, spacingMs: 2000, duplicateRate: 0.02, malformedRate: 0.005, futureRate: 0.004, seed: 11 });
    await writeWorkload(input, lines);
    [emulators, expected] = await Promise.all([
      workerEmulators(),
      replay({ spec: loadSpecFile(SPEC_PATH), inputPath: input, outDir: path.join(dir, 'replay') }),
    ]);
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the generated file holds late, duplicate, malformed and future records', () => {
    expect(expected.records).toBe(2000);
    expect(expected.late).toBeGreaterThan(0);
    expect(expected.duplicates).toBeGreaterThan(0);
    expect(expected.invalid).toBeGreaterThan(0);
    expect(expected.future).toBeGreaterThan(0);
  });

  it('with one shard and injected crashes, writes exactly what the replay writes', async () => {
    const out = path.join(dir, 'sandbox');
    // Batches of 100 give the fault injector more invocations to break than the deployed 500.
    const { summary, stats } = await runFile({ spec: loadSpecFile(SPEC_PATH), inputPath: input, outDir: out, shards: 1, chaos: 0.2, seed: 5, batchSize: 100, name: 'e2e', retryBackoffMs: FAST_RETRY_BACKOFF });
    console.log('sandbox run:', JSON.stringify(stats));
    expect(stats.chaos.faults).toBeGreaterThan(0);
    expect(stats.esm.onFailureBatches).toBe(0);
    // Every window read back became final either while the stream was consumed or at the end of the input.
    expect(stats.windows).toBe(summary.finalWindows);
    expect(stats.windowsFinalAtEndOfInput).toBeGreaterThan(0);
    expect(stats.windowsFinalWhileStreaming).toBe(stats.windows - stats.windowsFinalAtEndOfInput);
    // Windows fired by an invocation that failed afterwards are stored but reported by no successful invocation.
    expect(stats.invocationCounters.finalWindows).toBeLessThanOrEqual(stats.windowsFinalWhileStreaming);
    expect(stats.rejected).toBe(summary.invalid + summary.future + summary.late);
    const comparison = compareOutputs(path.join(dir, 'replay'), out);
    expect(comparison.equal, describeComparison(comparison, ['replay', 'sandbox'])).toBe(true);
    expect(comparison.files.filter((f) => f.file !== 'corrections.jsonl').every((f) => f.linesA > 0)).toBe(true);
    expect(summary).toEqual(expected);
  }, 150_000); // starts processes and runs the pipeline end to end: minutes on a loaded 2-core machine

  it('puts the whole file before consuming, so every invocation gets a full batch', async () => {
    const small = path.join(dir, 'small.jsonl');
    await writeWorkload(small, generateWorkload({ records: 250, keys: 20, spacingMs: 2000, seed: 3 }));
    const progress: string[] = [];
    const { stats } = await runFile({ spec: loadSpecFile(SPEC_PATH), inputPath: small, outDir: path.join(dir, 'small'), shards: 1, batchSize: 100, name: 'full-batches', progress: (l) => progress.push(l), progressEveryMs: 1 });
    // Progress lines while it ran: records put, then records consumed out of the total.
    expect(progress.some((l) => / records put$/.test(l)) || progress.some((l) => /of 250 records consumed/.test(l))).toBe(true);
    expect(progress.every((l) => /^\d+ s: /.test(l))).toBe(true);
    expect(stats.esm.invocations).toBe(3); // 100, 100, 50
    expect(stats.esm.reads).toBe(3);
    expect(stats.esm.recordsDelivered).toBe(250);
    expect(stats.recordsPerSecond).toBeGreaterThan(0);
  });

  it('with distinct, percentile, last and a global window, with injected crashes, writes exactly what the replay writes', async () => {
    const sketchInput = path.join(dir, 'sketch-records.jsonl');
    const lines = generateWorkload({ records: 1500, keys: 30, spacingMs: 2000, duplicateRate: 0.02, malformedRate: 0.005, futureRate: 0.004, seed: 12, merchants: 200 });
    await writeWorkload(sketchInput, lines);
    const replayOut = path.join(dir, 'sketch-replay');
    const replayed = await replay({ spec: SKETCH_SPEC, inputPath: sketchInput, outDir: replayOut });
    const out = path.join(dir, 'sketch-sandbox');
    const { summary, stats } = await runFile({ spec: SKETCH_SPEC, inputPath: sketchInput, outDir: out, shards: 1, chaos: 0.2, seed: 6, batchSize: 100, name: 'e2e-sketch', retryBackoffMs: FAST_RETRY_BACKOFF });
    expect(stats.chaos.faults).toBeGreaterThan(0);
    const comparison = compareOutputs(replayOut, out);
    expect(comparison.equal, describeComparison(comparison, ['replay', 'sandbox'])).toBe(true);
    expect(comparison.files.map((f) => f.file)).toContain('firings.jsonl');
    expect(comparison.files.filter((f) => f.file !== 'corrections.jsonl').every((f) => f.linesA > 0)).toBe(true);
    expect(summary).toEqual(replayed);
  }, 150_000);

  it('npm start plays the story and exits 0, without the AWS SDK notice about Node versions', async () => {
    // As a user runs it: without the switch the test runner sets.
    const env = { ...process.env };
    delete env[SDK_NODE_WARNING_SWITCH];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'sandbox.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('acct_fraudster');
    // 8 payments (late, future, invalid) and the chargeback that came after the label window.
    expect(stdout).toMatch(/Dead-letter queue .*: 9 messages/);
    expect(stdout).toMatch(/^  late +acct_fraudster .*\+35d .*beyond labelWindowMs 2592000000$/m);
    // Chargebacks days later: every window of predictions final, with its precision and recall; the new shop's
    // customers' window waits for both shards' watermarks.
    const windows = [...stdout.matchAll(/^  \d\d:\d\d–\d\d:\d\d +(\d+) +(\d+)\/(\d+)\/(\d+)\/(\d+) +([\d.]+) +([\d.]+) /gm)];
    expect(windows.length, stdout).toBeGreaterThanOrEqual(4);
    expect(windows.reduce((n, w) => n + Number(w[1]), 0)).toBe(75);
    expect(windows.reduce((n, w) => n + Number(w[2]) + Number(w[4]), 0)).toBe(21); // every chargeback joined but the late one
    // Within the story PSI is provisional (final an hour after each window); the new shop's window waits for the
    // shard whose watermark has not passed its end.
    expect(stdout).toMatch(/EvaluationPsi once final \(provisional [\d.]+ > 0\.2, window \d\d:\d\d\)/);
    expect(stdout).toMatch(/Window \d\d:\d\d \(12 of the new shop's customers\) has no PSI yet: watermark of shardId-\d+ at \d\d:\d\d:\d\d, before its end/);
    for (const reason of ['late', 'future', 'invalid']) expect(stdout).toMatch(new RegExp(`^  ${reason} `, 'm'));
    expect(stdout).toMatch(/record put → feature visible .* ms/);
    // The consumer's scoring flags the fraudster within minutes of its first payment; not the commuter, not the
    // newcomers paying a new shop $260–$380 once (the customers it does flag are the evaluation's false positives).
    const flagged = /It flagged acct_fraudster at \d\d:\d\d, ([\d.]+) min after its first payment \(payment \d+ of 22, score [\d.]+\); other users flagged: ([^(]*) \(of 32\)/.exec(stdout);
    expect(flagged?.[2], stdout).not.toMatch(/new_|user_07/);
    expect(stdout).toMatch(/record put → prediction written \(wall clock\) +\d+ ms/);
    expect(flagged, stdout).not.toBeNull();
    expect(Number(flagged![1])).toBeLessThanOrEqual(6);
    // Served as of 65 minutes after the story, with nothing rewritten since: the fraudster's counts are back at 0.
    expect(stdout).toMatch(/^\s+\d\d:\d\d\s+0\s+0\s+0\.00\s.*\(read 65 min after the story\)$/m);
    expect(stdout).not.toContain('sk=current');
    expect(stderr).not.toContain('NodeVersionSupportWarning');
    expect(stdout).toMatch(/^On-failure queue \(sandbox-on-failure\): 0 message\(s\), OnFailureQueueNotEmpty stays OK$/m);
    // Every wave waits for the deployed mapping's 1 s batching window, as on AWS.
  }, 150_000); // starts processes and runs the pipeline end to end: minutes on a loaded 2-core machine
});
