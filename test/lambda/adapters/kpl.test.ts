/**
 * Records aggregated by a Kinesis Producer Library producer (aggregated here by aws-kinesis-agg's own aggregator)
 * through the Kinesis emulator, the local event source mapping and the consumer, with crashes part-way through
 * invocations: each user record is judged on its own, exactly once, as the engine judges the same records sent
 * one by one; dead letters name the sub-sequence number.
 */
import { FAST_RETRY_BACKOFF } from '../../../bin/local/esm-runner';
import { aggregate } from 'aws-kinesis-agg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { FaultInjector } from '../../../bin/sandbox/chaos';
import { subRecordSeq } from '../../../lambda/adapters/kinesis-records';
import { WindowEngine } from '../../../lambda/core/engine';
import { parseSpec } from '../../../lambda/core/spec';
import { compareSeq } from '../../../lambda/core/state';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const spec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 1_000 },
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'sum', field: 'amount' },
  ],
});

/** User records: on time, one invalid, producer retries (same id) and late ones, spread over many aggregates. */
function userRecords(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 120; i++) {
    if (i % 17 === 5) out.push(JSON.stringify({ user: `u${i % 4}`, ts: T0 + i * 3_000, amount: 'twelve', id: `e${i}` }));
    else if (i % 13 === 7) out.push(JSON.stringify({ user: `u${(i - 1) % 4}`, ts: T0 + (i - 1) * 3_000, amount: i - 1, id: `e${i - 1}` }));
    else if (i % 11 === 9) out.push(JSON.stringify({ user: `u${i % 4}`, ts: T0 + i * 3_000 - 200_000, amount: 1, id: `e${i}` }));
    else out.push(JSON.stringify({ user: `u${i % 4}`, ts: T0 + i * 3_000, amount: i, id: `e${i}` }));
  }
  return out;
}

/** Aggregates records in groups of `per` with the library's aggregator, as a KPL producer would. */
async function aggregated(records: readonly string[], per: number): Promise<Array<{ partitionKey: string; data: Buffer }>> {
  const out: Array<{ partitionKey: string; data: Buffer }> = [];
  for (let i = 0; i < records.length; i += per) {
    const group = records.slice(i, i + per).map((data) => ({ partitionKey: 'p', data }));
    await new Promise<void>((resolve, reject) =>
      aggregate(
        group,
        (encoded, done) => {
          out.push({ partitionKey: encoded.partitionKey, data: encoded.data });
          done();
        },
        () => resolve(),
        (e) => reject(e),
      ),
    );
  }
  return out;
}

describe('KPL aggregated records', () => {
  const saved = { ...process.env };
  let emulators: Emulators;

  beforeAll(async () => {
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
  });

  it('orders a sub-record after its record and before the next one', () => {
    const seq = '49650000000000000000000000000000000000000000000000000007';
    const next = '49650000000000000000000000000000000000000000000000000008';
    expect(compareSeq(subRecordSeq(seq, 0), seq)).toBeGreaterThan(0);
    expect(compareSeq(subRecordSeq(seq, 9), subRecordSeq(seq, 10))).toBeLessThan(0);
    expect(compareSeq(subRecordSeq(seq, 4_000), next)).toBeLessThan(0);
    expect(compareSeq(subRecordSeq('9', 3), '10')).toBeLessThan(0);
  });

  it('judges each user record on its own, exactly once under crashes, as the engine judges them one by one', async () => {
    const records = userRecords();
    const chaos = new FaultInjector({ probability: 0.3, seed: 7 });
    const pipeline = await LocalPipeline.start({ spec, name: 'kpl', batchSize: 3, maximumRetryAttempts: 20, retryBackoffMs: FAST_RETRY_BACKOFF, beforeInvoke: chaos.beforeInvoke, writeGate: chaos.writeGate });
    try {
      const puts = await aggregated(records, 7);
      expect(puts.length).toBeGreaterThan(10);
      const landed = await pipeline.put(puts);
      await pipeline.drain(120_000);
      expect(await pipeline.onFailureQueueDepth()).toBe(0);
      await pipeline.flush();

      const engine = new WindowEngine(spec);
      const expected = [engine.processBatch(records.map((data, i) => ({ data, shard: 's', seq: String(i + 1) }))), engine.flush()];
      const windows = expected.flatMap((r) => r.finals).map(({ feature, key, windowStart, windowEnd, value, count }) => ({ feature, key, windowStart, windowEnd, value, count }));
      const sortW = <T extends { feature: string; key: string; windowStart: number }>(xs: T[]) => [...xs].sort((a, b) => `${a.feature}${a.key}${a.windowStart}`.localeCompare(`${b.feature}${b.key}${b.windowStart}`));
      expect(sortW(await pipeline.finalWindows())).toEqual(sortW(windows));

      const letters = await pipeline.takeDeadLetters();
      const rejected = expected.flatMap((r) => r.rejected);
      const brief = (xs: Array<{ reason: string; message: string; feature?: string; data: string }>) => xs.map((x) => `${x.reason} ${x.feature ?? ''} ${x.message} ${x.data}`).sort();
      expect(brief(letters.map((m) => ({ ...m, data: m.payload })))).toEqual(brief(rejected.map((r) => ({ ...r, data: r.data as string }))));
      expect(rejected.some((r) => r.reason === 'invalid') && rejected.some((r) => r.reason === 'late')).toBe(true);
      // Each letter names the Kinesis record that carried it and the user record's place within it.
      const puts7 = new Set(landed.map((l) => l.seq));
      for (const m of letters) {
        expect(puts7.has(m.sequenceNumber)).toBe(true);
        const i = landed.findIndex((l) => l.seq === m.sequenceNumber) * 7 + m.subSequenceNumber!;
        expect(m.payload).toBe(records[i]);
      }
      expect(chaos.faults).toBeGreaterThan(0);
    } finally {
      await pipeline.stop();
    }
  });
});
