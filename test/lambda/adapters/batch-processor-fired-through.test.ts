/**
 * Windows skipped by `firedThrough` must have been emitted: a key fired by its timer is not rewritten, so the next
 * load advances its entities silently through their timer shard's `firedThrough`. These cases reach a window that
 * no timer of that shard ever fired, against real emulators (dynalite, fauxqs), and expect it in the results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { type BatchOutcome, flushAll, processBatch } from '../../../lambda/adapters/batch-processor';
import { ResultObjectReader } from '../../../lambda/adapters/result-objects';
import type { WriteGate } from '../../../lambda/adapters/state-store';
import type { InputRecord } from '../../../lambda/core/engine';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { type ConsumerEnv, consumerStores, freshConsumerEnv } from '../../support/consumer-env';

const SHARD_A = 'shardId-000000000000';
const SHARD_B = 'shardId-000000000001';
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MIN = 60_000;

const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 0 },
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: MIN }, aggregate: 'count' },
    { name: 'count_10m', window: { type: 'tumbling', sizeMs: 10 * MIN }, aggregate: 'count' },
  ],
});

type Env = ConsumerEnv;

let emulators: Emulators;

const freshEnv = (): Promise<Env> => freshConsumerEnv('ft');
const stores = consumerStores;

function deliver(env: Env, records: readonly InputRecord[], o: { gate?: WriteGate; parallelizationFactor?: number; timerPageLimit?: number; now?: number } = {}): Promise<BatchOutcome> {
  return processBatch(records, {
    spec,
    pipelineName: 'test',
    ...stores(env, o.gate),
    ...(o.parallelizationFactor === undefined ? {} : { parallelizationFactor: o.parallelizationFactor }),
    ...(o.timerPageLimit === undefined ? {} : { timerPageLimit: o.timerPageLimit }),
    now: () => o.now ?? T0 + 3_600_000,
  });
}

function rec(shard: string, user: string, t: number, seq: number): InputRecord {
  return { data: Buffer.from(JSON.stringify({ user, ts: t, amount: 1, id: `${user}-${shard}-${seq}` })), shard, seq: String(seq), arrivalTime: t };
}

/** Every final window of `user` as `feature@start-offset:count`, after the bounded input is flushed. */
async function windowsOf(env: Env, user: string): Promise<string[]> {
  await flushAll({ spec, pipelineName: 'test', state: stores(env).state, results: stores(env).results, now: () => T0 + 3_600_000 });
  const lines = await new ResultObjectReader({ client: env.s3, bucket: env.bucket }).readWindows('test');
  return lines.filter((w) => w.key === user).map((w) => `${w.feature}@${(w.windowStart - T0) / MIN}m:${w.count}`).sort();
}

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

describe('windows skipped through firedThrough', () => {
  it('a key on two shards whose features have different timer shards loses no window', async () => {
    const env = await freshEnv();
    // Shard A: k's first record; both features' timers on A, the key's timer entry at 1 minute.
    await deliver(env, [rec(SHARD_A, 'k', T0 + 30_000, 1)]);
    // Shard B, 5 minutes ahead: k's record is late for count_1m (dead letter) but applied to count_10m, whose
    // timer shard becomes B; the key's earliest due (count_1m on A) is unchanged, so B gets no timer entry.
    await deliver(env, [rec(SHARD_B, 'y', T0 + 5 * MIN, 1), rec(SHARD_B, 'k', T0 + 50_000, 2)]);
    // B's watermark passes k's 10-minute window: B fires its pages (none holds k) and records firedThrough.
    await deliver(env, [rec(SHARD_B, 'y', T0 + 11 * MIN, 3)]);
    // A's watermark passes 1 minute: k is loaded from its timer page on A.
    await deliver(env, [rec(SHARD_A, 'x', T0 + 2 * MIN, 2)]);
    expect(await windowsOf(env, 'k')).toEqual(['count_10m@0m:2', 'count_1m@0m:1']);
  });

  it('with parallelizationFactor 2, a concurrent batch of the same shard loses no window', async () => {
    const env = await freshEnv();
    // Batch b2 (key k, an early record) reads the shard before b1 moves it, and writes after b1 finished.
    let reached!: () => void;
    const atFirstWrite = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    const gate: WriteGate = async () => {
      if (held) return;
      held = true;
      reached();
      await released;
    };
    const b2 = deliver(env, [rec(SHARD_A, 'k', T0 + 30_000, 1)], { gate, parallelizationFactor: 2 });
    await atFirstWrite;
    // Batch b1 (another key, 10 minutes on) finds no due timer page yet and records firedThrough at 10 minutes.
    await deliver(env, [rec(SHARD_A, 'x', T0 + 10 * MIN, 2)], { parallelizationFactor: 2 });
    release();
    await b2;
    // The next batch fires k's page at 1 minute.
    await deliver(env, [rec(SHARD_A, 'x', T0 + 11 * MIN, 3)], { parallelizationFactor: 2 });
    expect(await windowsOf(env, 'k')).toEqual(['count_10m@0m:1', 'count_1m@0m:1']);
  });

  it('a re-delivered batch after the timer page limit was reached does not mark the pages left over as fired', async () => {
    const env = await freshEnv();
    // Two keys, each with its own timer page at 1 minute.
    await deliver(env, [rec(SHARD_A, 'a', T0 + 10_000, 1)], { timerPageLimit: 1 });
    await deliver(env, [rec(SHARD_A, 'b', T0 + 20_000, 2)], { timerPageLimit: 1 });
    // The watermark passes 1 minute: one page fires, the other waits for the next batch (the page limit).
    const third = [rec(SHARD_A, 'x', T0 + 2 * MIN, 3)];
    await deliver(env, third, { timerPageLimit: 1 });
    // At-least-once: the same batch again (its records at or below the checkpoint, all skipped).
    await deliver(env, third, { timerPageLimit: 1 });
    // The next batch fires the page left over.
    await deliver(env, [rec(SHARD_A, 'x', T0 + 3 * MIN, 4)], { timerPageLimit: 1 });
    expect([...(await windowsOf(env, 'a')), ...(await windowsOf(env, 'b'))]).toEqual(['count_10m@0m:1', 'count_1m@0m:1', 'count_10m@0m:1', 'count_1m@0m:1']);
  });

  it('a window fired while the timer page limit holds firedThrough back is final for a record of the key on another shard', async () => {
    const env = await freshEnv();
    // Two timer pages at 1 minute on A, k's written first (pages of one due time sort by time written).
    await deliver(env, [rec(SHARD_A, 'k', T0 + 20_000, 1)], { timerPageLimit: 1, now: T0 + 3_600_000 });
    await deliver(env, [rec(SHARD_A, 'a', T0 + 50_000, 2)], { timerPageLimit: 1, now: T0 + 7_200_000 });
    // A's watermark passes 1 minute: k's page fires (count_1m [0, 1m) of k is emitted, count 1); a's page waits.
    await deliver(env, [rec(SHARD_A, 'x', T0 + 2 * MIN, 3)], { timerPageLimit: 1 });
    // k on shard B, in [0, 1m): that window is final and emitted, so the record is late for count_1m.
    await deliver(env, [rec(SHARD_B, 'k', T0 + 40_000, 1)], { timerPageLimit: 1 });
    expect(await windowsOf(env, 'k')).toEqual(['count_10m@0m:2', 'count_1m@0m:1']);
  });
});
