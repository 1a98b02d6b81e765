/**
 * A parallelization factor above 1: the local event source mapping runs up to N batches of one shard at once (one
 * partition key's records in one of them, in order), the consumer is told so (it then skips re-deliveries by
 * per-key sequence numbers only), and under injected faults every record still counts once and the results
 * equal the replay's. The input keeps every verdict independent of how the batches interleave: records arrive in
 * event-time order with an allowed lateness above the event-time span of what is read at once, and the late
 * records are an hour behind, late under any interleaving (docs/sandbox.md, "Parallelization factor").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { FAST_RETRY_BACKOFF } from '../../bin/local/esm-runner';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { runFile } from '../../bin/sandbox/file-run';
import { parseSpec } from '../../lambda/core/spec';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const BATCH = 10;
const FACTOR = 4;

const spec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  // Over the 40 s of event time one read (BATCH × FACTOR records, 1 s apart) spans.
  watermark: { allowedLatenessMs: 60_000 },
  latePolicy: 'dlq',
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_2m', window: { type: 'sliding', sizeMs: 120_000, slideMs: 60_000 }, aggregate: 'sum', field: 'amount' },
  ],
});

describe(`parallelization factor ${FACTOR}`, () => {
  const saved = { ...process.env };
  let dir: string;
  let emulators: Emulators;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'parallel-'));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs batches of one shard concurrently, each key in order, and under faults counts every record once, as the replay does', async () => {
    const lines: string[] = [];
    const data: string[] = [];
    for (let i = 0; i < 400; i++) {
      const late = i % 37 === 36;
      const ts = T0 + i * 1000 - (late ? 3_600_000 : 0);
      // Every 50th record is a producer retry of the one before: a duplicate.
      data.push(i % 50 === 49 ? data[i - 1]! : JSON.stringify({ user: `u${i % 23}`, ts, amount: i % 7, id: `e${i}` }));
      lines.push(JSON.stringify({ data: data[i], arrivalTime: T0 + i * 1000 }));
    }
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const replayed = await replay({ spec, inputPath: input, outDir: path.join(dir, 'replay') });
    const { summary, stats } = await runFile({
      spec,
      inputPath: input,
      outDir: path.join(dir, 'sandbox'),
      name: 'parallel',
      batchSize: BATCH,
      parallelizationFactor: FACTOR,
      chaos: 0.2,
      seed: 4,
      retryBackoffMs: FAST_RETRY_BACKOFF,
    });
    expect(stats.esm.maxInFlightPerShard).toBeGreaterThan(1);
    expect(stats.esm.maxInFlightPerShard).toBeLessThanOrEqual(FACTOR);
    expect(stats.chaos.faults).toBeGreaterThan(0);
    expect(stats.esm.onFailureBatches).toBe(0);
    // The verdicts agree; the watermark a dead letter records (and its message quotes, or the key's windows fired
    // through another batch's watermark that its message names instead) is the one its batch saw, which depends on
    // the interleaving, so it is left out of the comparison.
    for (const side of ['replay', 'sandbox']) {
      const file = path.join(dir, side, 'rejected.jsonl');
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
      const unwatermarked = (l: string): string => {
        const r = JSON.parse(l) as { message: string };
        return JSON.stringify({ ...r, watermark: null, message: r.message.replace(/\((?:watermark -?\d+|the key's windows are final through -?\d+ by another shard's watermark; this shard has -?\d+)\)/, '(watermark W)') });
      };
      writeFileSync(file, lines.map((l) => `${unwatermarked(l)}\n`).join(''));
    }
    const comparison = compareOutputs(path.join(dir, 'replay'), path.join(dir, 'sandbox'));
    expect(comparison.equal, describeComparison(comparison, ['replay', 'sandbox'])).toBe(true);
    expect(summary).toEqual(replayed);
    expect(replayed).toMatchObject({ duplicates: 8, lateRecords: 10 });
  });
});
