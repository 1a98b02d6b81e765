/**
 * Quiet shards on the emulators (docs/semantics.md §12), with the real consumer and the tick the stack schedules: a shard that
 * went quiet has its windows made final by a tick, to exactly now − margin; a backlogged shard (records after the
 * consumer's checkpoint) is never advanced; a record arriving after an idle advance is judged late as usual.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { StateStore } from '../../../lambda/adapters/state-store';
import { idleTickConfigFromEnv } from '../../../lambda/handlers/idle-tick';
import { parseSpecJson } from '../../../lambda/core/spec';

const SPEC = parseSpecJson(
  JSON.stringify({
    source: { keyField: 'user', timeField: 't', idField: 'id' },
    watermark: { allowedLatenessMs: 0 },
    latePolicy: 'dlq',
    features: [{ name: 'n_1s', window: { type: 'tumbling', sizeMs: 1000 }, aggregate: 'count' }],
  }),
);
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

/** A partition key that lands on the lower (0) or upper (1) half of the hash range: shard 0 or 1 of two. */
function keyOnHalf(half: 0 | 1): string {
  for (let i = 0; ; i++) {
    const k = `user-${i}`;
    const top = createHash('md5').update(k).digest()[0]!;
    if ((top >= 0x80 ? 1 : 0) === half) return k;
  }
}

describe('idle shards', () => {
  it('closes a quiet shard\'s windows by the clock, never advances a backlogged shard, and judges later records late', async () => {
    const pipeline = await LocalPipeline.start({ spec: SPEC, name: 'idle', shards: 2, maximumBatchingWindowMs: 0 });
    try {
      const busy = keyOnHalf(0);
      const quiet = keyOnHalf(1);
      const T = Math.floor(Date.now() / 1000) * 1000;
      const rec = (user: string, t: number, id: string) => ({ partitionKey: user, data: JSON.stringify({ user, t, id }) });
      const first = await pipeline.put([rec(busy, T - 5000, 'b1'), rec(quiet, T - 5000, 'q1'), rec(quiet, T - 4500, 'q2')]);
      const [busyShard, quietShard] = [first[0]!.shard, first[1]!.shard];
      expect(busyShard).not.toBe(quietShard);
      await pipeline.drain();
      // Each shard's watermark is its own newest event: no window of either is final yet.
      expect(await pipeline.finalWindows()).toEqual([]);

      // The busy shard gets a record the consumer has not read yet (its mapping stopped): a backlog.
      await pipeline.esm.stop();
      await pipeline.put([rec(busy, T - 4000, 'b2')]);
      const state = new StateStore({ client: pipeline.dynamoClient, tableName: pipeline.names.stateTable });
      const busyBefore = await state.getShard(busyShard);

      const margin = 2000;
      const results = await pipeline.tickIdle({ marginMs: margin, now: () => T });
      const verdict = new Map(results.map((r) => [r.shard, r]));
      expect(verdict.get(quietShard)).toEqual({ shard: quietShard, verdict: 'advanced', maxEventTime: T - margin });
      expect(verdict.get(busyShard)?.verdict).toBe('unread');

      // The quiet shard's window is final (count 2), moved to exactly now − margin; the backlogged one is untouched.
      const finals = await pipeline.finalWindows();
      expect(finals.map((w) => ({ key: w.key, start: w.windowStart, count: w.count }))).toEqual([{ key: quiet, start: T - 5000, count: 2 }]);
      const quietAfter = await state.getShard(quietShard);
      expect(quietAfter.maxEventTime).toBe(T - margin);
      expect(quietAfter.firedThrough).toBe(T - margin);
      expect(await state.getShard(busyShard)).toEqual(busyBefore);

      // A second tick at the same clock has nothing to do: the shard is already there.
      expect((await pipeline.tickIdle({ marginMs: margin, now: () => T })).find((r) => r.shard === quietShard)?.verdict).toBe('recent');

      // The mapping resumes: the backlog is applied, and a record for the quiet shard's closed second is late.
      await pipeline.esm.start();
      await pipeline.put([rec(quiet, T - 4200, 'q3'), rec(quiet, T - 1500, 'q4')]);
      await pipeline.drain();
      const dead = await pipeline.takeDeadLetters();
      expect(dead.map((d) => ({ reason: d.reason, payload: JSON.parse(d.payload) as { id: string } })).map((d) => [d.reason, d.payload.id])).toEqual([['late', 'q3']]);
      expect((await state.getShard(busyShard)).maxEventTime).toBe(T - 4000);
    } finally {
      await pipeline.stop();
    }
  });

  it("closes the windows a split parent's keys left open once every child's watermark has passed them", async () => {
    const pipeline = await LocalPipeline.start({ spec: SPEC, name: 'idle-split', shards: 1, maximumBatchingWindowMs: 0 });
    try {
      const T = Math.floor(Date.now() / 1000) * 1000;
      const rec = (user: string, t: number, id: string) => ({ partitionKey: user, data: JSON.stringify({ user, t, id }) });
      const [lower, upper] = [keyOnHalf(0), keyOnHalf(1)];
      const [onParent] = await pipeline.put([rec(upper, T - 5000, 'p1')]);
      await pipeline.drain();
      const split = await pipeline.reshard('split');
      expect(split.parents).toEqual([onParent!.shard]);
      // One child gets a record (and starts from the parent's watermark); the other stays empty.
      const [onChild] = await pipeline.put([rec(lower, T - 3000, 'c1')]);
      await pipeline.drain();
      expect(split.children).toContain(onChild!.shard);
      const state = new StateStore({ client: pipeline.dynamoClient, tableName: pipeline.names.stateTable });
      expect((await state.getShard(onChild!.shard)).maxEventTime).toBe(T - 3000);
      // The parent is closed, so no record of its own will ever close upper's window [T − 5 s, T − 4 s).
      expect(await pipeline.finalWindows()).toEqual([]);

      const results = await pipeline.tickIdle({ marginMs: 2000, now: () => T });
      const verdict = new Map(results.map((r) => [r.shard, r]));
      // The empty child is caught up, so it vouches for now − margin; the other child for its own T − 3 s.
      expect(verdict.get(onParent!.shard)).toEqual({ shard: onParent!.shard, verdict: 'followed', maxEventTime: T - 3000 });
      const finals = await pipeline.finalWindows();
      expect(finals.map((w) => [w.key, w.windowStart, w.count])).toContainEqual([upper, T - 5000, 1]);
      // A later record of upper for that window is late on the child it lands on.
      await pipeline.put([rec(upper, T - 4500, 'p2')]);
      await pipeline.drain();
      expect((await pipeline.takeDeadLetters()).map((d) => [d.reason, (JSON.parse(d.payload) as { id: string }).id])).toEqual([['late', 'p2']]);
    } finally {
      await pipeline.stop();
    }
  });

  it('reads its margin from the environment, refusing a bad one by name', () => {
    const env = { PIPELINE_SPEC: JSON.stringify(SPEC), STATE_TABLE_NAME: 's', FINALS_BUCKET_NAME: 'b', DEAD_LETTER_QUEUE_URL: 'q', STREAM_NAME: 'events' };
    expect(idleTickConfigFromEnv(env).marginMs).toBe(60_000);
    expect(idleTickConfigFromEnv({ ...env, IDLE_MARGIN_MS: '5000' }).marginMs).toBe(5000);
    expect(() => idleTickConfigFromEnv({ ...env, IDLE_MARGIN_MS: '-1' })).toThrow(/IDLE_MARGIN_MS must be a non-negative integer/);
    expect(() => idleTickConfigFromEnv({ ...env, STREAM_NAME: undefined })).toThrow(/STREAM_NAME is required/);
  });

  it('starts with a spec that scores, without the model or predictions table the stack does not give it', () => {
    const scoring = { ...SPEC, scoring: { model: 'model.json' } };
    const env = { PIPELINE_SPEC: JSON.stringify(scoring), STATE_TABLE_NAME: 's', FINALS_BUCKET_NAME: 'b', DEAD_LETTER_QUEUE_URL: 'q', STREAM_NAME: 'events' };
    const config = idleTickConfigFromEnv(env);
    expect(config.consumer.spec.scoring).toEqual({ model: 'model.json' });
    expect(config.consumer.scoring).toBeUndefined();
  });
});
