/**
 * What the consumer's storage costs at steady state, against real emulators (dynalite, fauxqs): timer entries and
 * producer ids are written and read for what changed, never carried or re-read for what exists; result objects
 * stay bounded in size.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { type BatchOutcome, flushAll, processBatch } from '../../../lambda/adapters/batch-processor';
import { ResultObjectReader, ResultObjectWriter, splitBodies } from '../../../lambda/adapters/result-objects';
import { StateStore } from '../../../lambda/adapters/state-store';
import type { FinalWindow, InputRecord } from '../../../lambda/core/engine';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { type ConsumerEnv, consumerStores, freshConsumerEnv } from '../../support/consumer-env';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MIN = 60_000;

let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

let seq = 0;
function rec(user: string, t: number, id?: string, arrival = t): InputRecord {
  seq += 1;
  return { data: Buffer.from(JSON.stringify({ user, ts: t, amount: 1, ...(id === undefined ? {} : { id }) })), shard: SHARD, seq: String(seq), arrivalTime: arrival };
}

/** Every timer entry stored, as `key@due-offset` with the sort key of the page holding it. */
async function timerEntries(env: ConsumerEnv): Promise<Map<string, string>> {
  const res = await env.dynamo.send(new QueryCommand({ TableName: env.stateTable, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `timers#${SHARD}` } }, ConsistentRead: true }));
  const out = new Map<string, string>();
  for (const it of res.Items ?? []) {
    for (const e of JSON.parse(it.entries!.S!) as Array<{ key: string; due: number }>) out.set(`${e.key}@${e.due - T0}`, it.sk!.S!);
  }
  return out;
}

async function windows(env: ConsumerEnv): Promise<string[]> {
  const lines = await new ResultObjectReader({ client: env.s3, bucket: env.bucket }).readWindows('test');
  return lines.map((w) => `${w.feature}:${w.key}@${w.windowStart - T0}:${w.count}`).sort();
}

describe('timer pages', () => {
  const spec: PipelineSpec = parseSpec({
    source: { keyField: 'user', timeField: 'ts' },
    watermark: { allowedLatenessMs: 0 },
    features: [
      { name: 'count_1m', window: { type: 'tumbling', sizeMs: MIN }, aggregate: 'count' },
      { name: 'count_10m', window: { type: 'tumbling', sizeMs: 10 * MIN }, aggregate: 'count' },
      { name: 'visit', window: { type: 'session', gapMs: MIN }, aggregate: 'count' },
    ],
  });
  const deliver = (env: ConsumerEnv, records: readonly InputRecord[]): Promise<BatchOutcome> =>
    processBatch(records, { spec, pipelineName: 'test', ...consumerStores(env), now: () => T0 + 3_600_000 });

  it('an entry not yet due stays in the page it was written to: no batch rewrites it', async () => {
    const env = await freshConsumerEnv('tp');
    await deliver(env, [rec('a', T0 + 10_000)]);
    // The watermark passes 1 minute and a's session (ends 70 s): a fires; its next due time is 10 minutes.
    await deliver(env, [rec('x', T0 + 2 * MIN)]);
    const before = await timerEntries(env);
    expect(before.get(`a@${10 * MIN}`)).toBeDefined();
    // x's timers (3 minutes) fall due, a's (10 minutes) not: a's entry keeps its page.
    await deliver(env, [rec('y', T0 + 4 * MIN)]);
    const after = await timerEntries(env);
    expect(after.get(`a@${10 * MIN}`)).toBe(before.get(`a@${10 * MIN}`));
    // Pending (after the watermark): that one entry, once. A fired page may stay behind (left to its TTL).
    expect([...after.keys()].filter((k) => k.startsWith('a@') && Number(k.slice(2)) > 4 * MIN)).toEqual([`a@${10 * MIN}`]);
  });

  it('a page partly due fires its due entries now and the rest later, then is neither read nor loads its keys again', async () => {
    const env = await freshConsumerEnv('tp');
    // Sessions ending 60.1 s and 60.9 s: one page (one second of due time).
    await deliver(env, [rec('s1', T0 + 100), rec('s2', T0 + 900)]);
    // y has no window ending before 2 minutes, so it adds no entry in that second.
    await deliver(env, [rec('y', T0 + MIN + 500)]);
    expect((await windows(env)).filter((w) => w.startsWith('visit:s'))).toEqual(['visit:s1@100:1']);
    const partly = await timerEntries(env);
    expect(partly.has(`s2@${MIN + 900}`)).toBe(true);
    await deliver(env, [rec('y', T0 + MIN + 1_000)]);
    expect((await windows(env)).filter((w) => w.startsWith('visit:s'))).toEqual(['visit:s1@100:1', 'visit:s2@900:1']);
    // firedThrough has passed both entries: the next batch loads y's item alone (one unit), not s1's and s2's.
    const state = new StateStore({ client: env.dynamo, tableName: env.stateTable });
    await processBatch([rec('y', T0 + MIN + 1_500)], { spec, pipelineName: 'test', ...consumerStores(env), state, now: () => T0 + 3_600_000 });
    expect(state.unitsBy.get('read key item')).toBe(1);
    // Once firedThrough is past its second, the page is not read at all.
    const later = new StateStore({ client: env.dynamo, tableName: env.stateTable });
    await processBatch([rec('y', T0 + MIN + 2_500)], { spec, pipelineName: 'test', ...consumerStores(env), state: later, now: () => T0 + 3_600_000 });
    expect(later.unitsBy.get('read timer page') ?? 0).toBe(0);
    expect((await windows(env)).filter((w) => w.startsWith('visit:s'))).toEqual(['visit:s1@100:1', 'visit:s2@900:1']);
  });
});

/** A state store that counts its id-page queries (the real store underneath). */
class CountingStore extends StateStore {
  public idPageQueries = 0;
  public override getIdPagesFrom(key: string, from: number): ReturnType<StateStore['getIdPagesFrom']> {
    this.idPageQueries += 1;
    return super.getIdPagesFrom(key, from);
  }
}

describe('producer-id pages', () => {
  const spec: PipelineSpec = parseSpec({
    source: { keyField: 'user', timeField: 'ts', idField: 'id' },
    watermark: { allowedLatenessMs: 5 * MIN },
    features: [{ name: 'count_1h', window: { type: 'tumbling', sizeMs: 60 * MIN }, aggregate: 'count' }],
  });
  const deliver = async (env: ConsumerEnv, records: readonly InputRecord[]): Promise<{ outcome: BatchOutcome; queries: number }> => {
    const stores = consumerStores(env);
    const state = new CountingStore({ client: env.dynamo, tableName: env.stateTable });
    const outcome = await processBatch(records, { spec, pipelineName: 'test', ...stores, state, inlineIdLimit: 8, now: () => T0 + 3_600_000 });
    return { outcome, queries: state.idPageQueries };
  };

  it('are read only for a record that a paged id could be the original of, and still catch its retry', async () => {
    const env = await freshConsumerEnv('ip');
    const t = (i: number): number => T0 + i * 1000;
    // Six batches of 5 ids each: the inline ids overflow (8) and go to pages.
    for (let b = 0; b < 6; b++) {
      const { outcome } = await deliver(env, Array.from({ length: 5 }, (_, i) => rec('h', t(b * 5 + i), `id${b * 5 + i}`)));
      expect(outcome.counters.duplicates).toBe(0);
    }
    // Newer records than any paged id: no page is read.
    const fresh = await deliver(env, [rec('h', t(40), 'id40'), rec('h', t(41), 'id41')]);
    expect(fresh.queries).toBe(0);
    expect(fresh.outcome.counters.applied).toBe(2);
    // A producer retry of the first id (same payload, so the same event time), arriving late: the pages from its
    // time on are read, and it is a duplicate.
    const retry = await deliver(env, [rec('h', t(0), 'id0', t(42)), rec('h', t(43), 'id43')]);
    expect(retry.queries).toBe(1);
    expect(retry.outcome.counters.duplicates).toBe(1);
    expect(retry.outcome.counters.applied).toBe(1);
    // Every id once: 30 + 2 + 1 records counted in the hour.
    const stores = consumerStores(env);
    await flushAll({ spec, pipelineName: 'test', state: stores.state, results: stores.results, now: () => T0 + 3_600_000 });
    expect(await windows(env)).toEqual(['count_1h:h@0:33']);
  });
});

describe('result objects', () => {
  it('cut a kind\'s lines into objects of bounded size, named alike by a retry, read back whole', async () => {
    const env = await freshConsumerEnv('ro');
    const finals: FinalWindow[] = Array.from({ length: 500 }, (_, i) => ({ feature: 'f', key: `k${i}`, windowStart: i, windowEnd: i + 1, value: i, count: 1, acc: {} as FinalWindow['acc'] }));
    const writer = new ResultObjectWriter({ client: env.s3, bucket: env.bucket, maxObjectBytes: 4096 });
    const batch = { pipeline: 'test', shardId: SHARD, firstSeq: '1', lastSeq: '2', arrivalTime: T0 };
    const keys = await writer.putBatch(batch, { finals, firings: [], corrections: [] });
    expect(keys.length).toBeGreaterThan(5);
    expect(writer.bytes / writer.puts).toBeLessThanOrEqual(4096);
    expect(await writer.putBatch(batch, { finals, firings: [], corrections: [] })).toEqual(keys);
    const lines = await new ResultObjectReader({ client: env.s3, bucket: env.bucket }).readWindows('test');
    expect(lines.map((l) => l.key).sort()).toEqual(finals.map((f) => f.key).sort());
  });

  it('an end of input over the emulator\'s 11 MiB body limit goes in objects of at most 8 MiB', async () => {
    const env = await freshConsumerEnv('ro');
    const key = 'k'.repeat(60);
    const finals: FinalWindow[] = Array.from({ length: 120_000 }, (_, i) => ({ feature: 'spend_1h', key, windowStart: i * 60_000, windowEnd: i * 60_000 + 3_600_000, value: i / 7, count: i, acc: {} as FinalWindow['acc'] }));
    const writer = new ResultObjectWriter({ client: env.s3, bucket: env.bucket });
    const keys = await writer.putBatch({ pipeline: 'test', shardId: 'flush', firstSeq: '0', lastSeq: '0', arrivalTime: T0 }, { finals, firings: [], corrections: [] });
    expect(writer.bytes).toBeGreaterThan(11 * 1024 * 1024);
    // Cut at line ends: as many objects as 8 MiB pieces of the whole, or one more.
    expect(keys.length).toBeGreaterThanOrEqual(Math.ceil(writer.bytes / (8 * 1024 * 1024)));
    expect(keys.length).toBeLessThanOrEqual(Math.ceil(writer.bytes / (8 * 1024 * 1024)) + 1);
    const lines = await new ResultObjectReader({ client: env.s3, bucket: env.bucket }).readWindows('test');
    expect(lines.length).toBe(finals.length);
  }, 60_000);

  it('splitBodies keeps every line once, in order, and a longer line whole', () => {
    const lines = ['a\n', 'bb\n', 'cccccccccc\n', 'd\n'];
    expect(splitBodies(lines, 6)).toEqual(['a\nbb\n', 'cccccccccc\n', 'd\n']);
    expect(splitBodies(lines, 1000)).toEqual(['a\nbb\ncccccccccc\nd\n']);
    expect(splitBodies([], 10)).toEqual([]);
  });
});
