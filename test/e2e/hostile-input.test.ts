/**
 * Hostile records through both paths: the replay (engine only) and the sandbox file run (Kinesis → event source
 * mapping → consumer → DynamoDB/SQS, on emulators). Each file must be judged identically: the same window,
 * rejected and correction lines, the same summary, and no batch abandoned.
 */
import { FAST_RETRY_BACKOFF } from '../../bin/local/esm-runner';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { runFile } from '../../bin/sandbox/file-run';
import type { ReplaySummary } from '../../lambda/core/output';
import { type PipelineSpec, parseSpec } from '../../lambda/core/spec';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

const specOf = (latePolicy: 'dlq' | 'update' = 'dlq'): PipelineSpec =>
  parseSpec({
    source: { keyField: 'user', timeField: 'ts', idField: 'id' },
    watermark: { allowedLatenessMs: 1_000, maxFutureSkewMs: 300_000 },
    latePolicy,
    features: [
      { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
      { name: 'sum_2m_every_1m', window: { type: 'sliding', sizeMs: 120_000, slideMs: 60_000 }, aggregate: 'sum', field: 'amount' },
      { name: 'max_session', window: { type: 'session', gapMs: 30_000 }, aggregate: 'max', field: 'amount' },
    ],
  });

interface Line {
  readonly data: string;
  readonly arrivalTime?: number;
}

const rec = (fields: Record<string, unknown>, arrivalTime?: number): Line => ({ data: JSON.stringify(fields), ...(arrivalTime === undefined ? {} : { arrivalTime }) });
const readLines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

describe('hostile input: replay and sandbox judge alike', () => {
  const saved = { ...process.env };
  let dir: string;
  let emulators: Emulators;
  let run = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hostile-'));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs both paths on the lines and checks they agree; returns the replay's summary and output folder. */
  async function both(lines: readonly Line[], o: { spec?: PipelineSpec; batchSize?: number; chaos?: number } = {}): Promise<{ replayed: ReplaySummary; replayDir: string; sandboxDir: string }> {
    const spec = o.spec ?? specOf();
    const name = `h${++run}`;
    const input = path.join(dir, `${name}.jsonl`);
    writeFileSync(input, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const replayDir = path.join(dir, `${name}-replay`);
    const sandboxDir = path.join(dir, `${name}-sandbox`);
    const replayed = await replay({ spec, inputPath: input, outDir: replayDir });
    const { summary: sandboxed, stats } = await runFile({
      spec,
      inputPath: input,
      outDir: sandboxDir,
      name,
      batchSize: o.batchSize ?? 100,
      retryBackoffMs: FAST_RETRY_BACKOFF,
      ...(o.chaos === undefined ? {} : { chaos: o.chaos, seed: 3 }),
    });
    expect(stats.esm.onFailureBatches).toBe(0);
    const comparison = compareOutputs(replayDir, sandboxDir);
    expect(comparison.equal, describeComparison(comparison, ['replay', 'sandbox'])).toBe(true);
    expect(sandboxed).toEqual(replayed);
    return { replayed, replayDir, sandboxDir };
  }

  it('a producer id "__proto__" is a duplicate the second time, in batches of one', async () => {
    const r = rec({ user: 'u1', ts: T0, amount: 1, id: '__proto__' }, T0);
    const c = rec({ user: 'u1', ts: T0 + 1, amount: 1, id: 'constructor' }, T0);
    const { replayed } = await both([r, r, c, c], { batchSize: 1 });
    expect(replayed.duplicates).toBe(2);
  });

  it('numbers DynamoDB cannot hold: beyond its range refused as invalid, tiny ones and large sums stored', async () => {
    const lines = [
      rec({ user: 'big', ts: T0, amount: 1e126, id: 'a' }, T0),
      rec({ user: 'big', ts: T0, amount: -1e126, id: 'b' }, T0),
      rec({ user: 'big', ts: T0 + 1, amount: 9e125, id: 'c' }, T0),
      rec({ user: 'big', ts: T0 + 2, amount: 9e125, id: 'd' }, T0),
      rec({ user: 'tiny', ts: T0 + 3, amount: 1e-200, id: 'e' }, T0),
      rec({ user: 'tiny', ts: T0 + 4, amount: -5e-324, id: 'f' }, T0),
      rec({ user: 'early', ts: 1e-200, amount: 1, id: 'g' }),
      rec({ user: 'early', ts: -1e-200, amount: 1e-131, id: 'h' }),
    ];
    const { replayed, replayDir } = await both(lines);
    expect(replayed.invalid).toBe(2);
    const rejected = readFileSync(path.join(replayDir, 'rejected.jsonl'), 'utf8');
    expect(rejected).toContain('amount must be a number of magnitude below 1e126');
    const windows = readFileSync(path.join(replayDir, 'windows.jsonl'), 'utf8');
    expect(windows).toContain('"value":1.8e+126');
    expect(windows).toContain('"value":1e-200');
  });

  it('long keys: up to 1,024 bytes applied (timer sort keys included), longer ones refused as invalid', async () => {
    const k1007 = `k${'x'.repeat(1006)}`;
    const k1024 = `${'é'.repeat(511)}ab`;
    const lines = [
      rec({ user: k1007, ts: T0, amount: 1, id: 'a' }, T0),
      rec({ user: k1024, ts: T0, amount: 2, id: 'b' }, T0),
      rec({ user: `${k1024}c`, ts: T0, amount: 3, id: 'c' }, T0),
      rec({ user: 'y'.repeat(2100), ts: T0, amount: 4, id: 'd' }, T0),
      rec({ user: '~sha256:0', ts: T0, amount: 5, id: 'e' }, T0),
      // A later record moves the watermark, so the windows above fire through their timers.
      rec({ user: 'other', ts: T0 + 200_000, amount: 1, id: 'f' }, T0 + 200_000),
    ];
    const { replayed, replayDir } = await both(lines, { batchSize: 1 });
    expect(replayed.invalid).toBe(2);
    const rejected = readFileSync(path.join(replayDir, 'rejected.jsonl'), 'utf8');
    expect(rejected).toContain('user must be at most 1024 bytes of UTF-8, got 1025 bytes');
    expect(rejected).toContain('got 2100 bytes');
  });

  it('lone UTF-16 surrogates: invalid in the payload string and escaped in the key; ids keep them apart', async () => {
    const lines: Line[] = [
      { data: `{"user":"a\\ud800","ts":${T0},"amount":1,"id":"s1"}`, arrivalTime: T0 },
      { data: `{"user":"\ud800","ts":${T0},"amount":1,"id":"s2"}`, arrivalTime: T0 },
      { data: `{"user":"\udc00","ts":${T0},"amount":1,"id":"s3"}`, arrivalTime: T0 },
      { data: `{"user":"ok","ts":${T0},"amount":1,"id":"\\ud800"}`, arrivalTime: T0 },
      { data: `{"user":"ok","ts":${T0},"amount":1,"id":"\\udc00"}`, arrivalTime: T0 },
      { data: `{"user":"ok","ts":${T0},"amount":1,"id":"\\ud800"}`, arrivalTime: T0 },
      { data: `{"user":"\ufffd","ts":${T0},"amount":1,"id":"s4"}`, arrivalTime: T0 },
    ];
    const { replayed, replayDir } = await both(lines, { batchSize: 2 });
    const rejected = readLines(path.join(replayDir, 'rejected.jsonl')).map((l) => JSON.parse(l) as { message: string; line: number; reason: string });
    expect(rejected.filter((r) => r.reason === 'invalid').map((r) => [r.line, r.message])).toEqual([
      [1, 'user must be Unicode text, got a string holding a lone UTF-16 surrogate'],
      [2, 'payload is not valid UTF-8'],
      [3, 'payload is not valid UTF-8'],
    ]);
    expect(replayed.duplicates).toBe(1);
    expect(replayed.applied).toBe(3);
  });

  it('ISO times with a lowercase t or z, with and without offsets, are read alike', async () => {
    const lines = [
      rec({ user: 'u', ts: '2026-01-05t08:00:00', amount: 1, id: 'a' }),
      rec({ user: 'u', ts: '2026-01-05t13:00:10+05', amount: 1, id: 'b' }),
      rec({ user: 'u', ts: '2026-01-05t08:00:20z', amount: 1, id: 'c' }),
      rec({ user: 'u', ts: '2026-01-05T08:00:30', amount: 1, id: 'd' }),
    ];
    const { replayed, replayDir } = await both(lines);
    expect(replayed.applied).toBe(4);
    const windows = readFileSync(path.join(replayDir, 'windows.jsonl'), 'utf8');
    expect(windows).toContain(`{"feature":"count_1m","key":"u","windowStart":${T0},"windowEnd":${T0 + 60_000},"value":4,"count":4}`);
  });

  it('a fractional arrival time is judged exactly: 300,000.5 ms ahead is future', async () => {
    const lines = [
      rec({ user: 'u', ts: T0 + 300_001, amount: 1, id: 'a' }, T0 + 0.5),
      rec({ user: 'u', ts: T0 + 300_000, amount: 1, id: 'b' }, T0 + 0.5),
      rec({ user: 'u', ts: T0 + 300_000.5, amount: 1, id: 'c' }, T0 + 0.25),
    ];
    const { replayed } = await both(lines);
    expect(replayed.future).toBe(2);
  });

  it('latePolicy update: corrections counted once, written by both, windows made by a correction counted as final', async () => {
    const lines: Line[] = [];
    // Two keys, records in order, then stragglers for windows long final: some correct existing windows, some
    // create windows no on-time record had (old: null). Several late records hit one window in one batch.
    for (let i = 0; i < 40; i++) lines.push(rec({ user: `u${i % 2}`, ts: T0 + i * 20_000, amount: i, id: `on${i}` }, T0 + i * 20_000));
    for (let i = 0; i < 30; i++) lines.push(rec({ user: `u${i % 3}`, ts: T0 + (i % 7) * 45_000 + 7, amount: 100 + i, id: `late${i}` }, T0 + 800_000));
    const { replayed, replayDir, sandboxDir } = await both(lines, { spec: specOf('update'), batchSize: 7, chaos: 0.5 });
    const corrections = readLines(path.join(replayDir, 'corrections.jsonl'));
    expect(replayed.corrections).toBe(corrections.length);
    expect(corrections.some((l) => l.includes('"old":null'))).toBe(true);
    expect(replayed.finalWindows).toBe(readLines(path.join(replayDir, 'windows.jsonl')).length);
    expect(readLines(path.join(sandboxDir, 'corrections.jsonl'))).toHaveLength(corrections.length);
  });

  it('dead letters of payloads over the old 256 KB message limit are exported whole', async () => {
    const pad = (fields: Record<string, unknown>, bytes: number): string => {
      const text = JSON.stringify({ ...fields, pad: '' });
      return `${text.slice(0, -2)}${'p'.repeat(bytes - Buffer.byteLength(text))}"}`;
    };
    const lines: Line[] = [
      { data: pad({ user: 'u', ts: T0, amount: 'NaN', id: 'a' }, 200_001), arrivalTime: T0 },
      rec({ user: 'u', ts: T0 + 200_000, amount: 1, id: 'b' }, T0 + 200_000),
      { data: pad({ user: 'u', ts: T0, amount: 1, id: 'c' }, 200_075), arrivalTime: T0 + 100_000 },
      { data: `{"user":"u","ts":${T0},"amount":1,"id":"d","q":"${'\\"'.repeat(65_000)}"}`, arrivalTime: T0 + 100_000 },
      { data: pad({ user: 'u', ts: T0, amount: 1, id: 'e' }, 300_000), arrivalTime: T0 + 100_000 },
    ];
    const { replayed, sandboxDir } = await both(lines);
    expect(replayed, JSON.stringify(replayed)).toMatchObject({ invalid: 2 });
    expect(replayed.lateRecords).toBe(2);
    const exported = readLines(path.join(sandboxDir, 'rejected.jsonl')).map((l) => JSON.parse(l) as { line: number; truncated?: boolean; dataBytes?: number; data: string });
    expect([...new Set(exported.map((r) => r.line))]).toEqual([1, 3, 4, 5]);
    for (const r of exported) {
      expect(r.data === lines[r.line - 1]!.data, `line ${r.line} whole`).toBe(true);
      expect(r.truncated).toBeUndefined();
    }
  });
});
