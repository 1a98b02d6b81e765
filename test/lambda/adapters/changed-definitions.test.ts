/**
 * A feature added or changed while the stream runs (docs/semantics.md §7, "Changed definitions"), on the emulators:
 * the consumer records per shard which definitions its state holds and since when; serving reads a window that
 * began before then, or a definition no consumer ever applied (a reader with another spec), as "unavailable",
 * never as an empty or partial value, and reads it normally once its windows are whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { processBatch } from '../../../lambda/adapters/batch-processor';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import type { InputRecord } from '../../../lambda/core/engine';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { type ConsumerEnv, consumerStores, freshConsumerEnv } from '../../support/consumer-env';
import { workerEmulators } from '../../support/worker-emulators';

const SHARD = 'shardId-000000000000';
const M = 60_000;
const T0 = Date.UTC(2026, 0, 7, 9, 0, 0);
const source = { keyField: 'user', timeField: 'ts', idField: 'id' };
const watermark = { allowedLatenessMs: 0 };
const count = { name: 'count_5m', window: { type: 'tumbling', sizeMs: 5 * M }, aggregate: 'count' };
const sum = { name: 'sum_5m', window: { type: 'tumbling', sizeMs: 5 * M }, aggregate: 'sum', field: 'amount' };
const v1 = parseSpec({ source, watermark, features: [count] });
// Version 2 adds a feature; the count's definition is unchanged, so its state goes on.
const v2 = parseSpec({ source, watermark, features: [count, sum] });
// A reader whose spec has a feature no consumer ever applied.
const other = parseSpec({ source, watermark, features: [count, { name: 'max_5m', window: { type: 'tumbling', sizeMs: 5 * M }, aggregate: 'max', field: 'amount' }] });

let seq = 0;
/** One record of `user` a minute apart from T0 + `fromMin`, each of amount 2. */
const minutes = (user: string, fromMin: number, toMin: number): InputRecord[] =>
  Array.from({ length: toMin - fromMin }, (_, i) => {
    const t = T0 + (fromMin + i) * M;
    seq += 1;
    return { data: JSON.stringify({ user, ts: t, amount: 2, id: `${user}-${t}` }), shard: SHARD, seq: String(49650000000000000000n + BigInt(seq)), arrivalTime: t + 1000 };
  });

const saved = { ...process.env };
let emulators: Emulators;
let env: ConsumerEnv;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  env = await freshConsumerEnv('defs');
});

afterAll(async () => {
  process.env = saved;
  await emulators?.stop();
});

/** A batch, written a second after its last record's event time (the clock serving compares T with). */
const consume = (spec: PipelineSpec, records: InputRecord[]) => processBatch(records, { spec, pipelineName: 'defs', now: () => Number(JSON.parse(records.at(-1)!.data as string).ts) + 1000, ...consumerStores(env) });
const client = (spec: PipelineSpec) => new FeatureClient({ spec, tableName: env.stateTable, dynamo: env.dynamo, definitionsMaxAgeMs: 0 });
const at = async (spec: PipelineSpec, key: string, minute: number) => (await client(spec).getFeatures([key], { at: T0 + minute * M + 30_000 }))[0]!.features;

describe('changed definitions', () => {
  it('serve a new feature as unavailable until its windows are whole, the unchanged ones throughout', async () => {
    // Version 1 runs from 9:00 to 9:10 (u every minute, w at 9:00 and 9:01).
    await consume(v1, [...minutes('w', 0, 2), ...minutes('u', 0, 11)]);
    // Version 2 takes over with the next batch: its sum holds the records from just after 9:10 on.
    await consume(v2, minutes('u', 11, 14));

    const early = await at(v2, 'u', 13);
    expect([early.count_5m!.status, early.count_5m!.value]).toEqual(['present', 4]);
    // [9:10, 9:15) began before the sum's records were all applied: it would read 6 where the window holds 8.
    expect([early.sum_5m!.status, early.sum_5m!.value]).toEqual(['unavailable', null]);
    // A key quiet since before the change: its count reads empty, its sum is unknown until 9:15.
    const quiet = await at(v2, 'w', 13);
    expect([quiet.count_5m!.status, quiet.count_5m!.value, quiet.sum_5m!.status, quiet.sum_5m!.value]).toEqual(['empty', 0, 'unavailable', null]);
    // A key never seen: judged by every shard.
    expect((await at(v2, 'nobody', 13)).sum_5m!.status).toBe('unavailable');

    await consume(v2, minutes('u', 14, 18));
    const whole = await at(v2, 'u', 17);
    expect([whole.count_5m!.status, whole.count_5m!.value, whole.sum_5m!.status, whole.sum_5m!.value]).toEqual(['present', 3, 'present', 6]);
    expect((await at(v2, 'w', 17)).sum_5m).toMatchObject({ status: 'empty', value: 0 });
    expect((await at(v2, 'nobody', 17)).sum_5m).toMatchObject({ status: 'empty', value: 0 });
  });

  it('serves a feature no consumer applied as unavailable, never as an empty 0', async () => {
    const f = await at(other, 'u', 17);
    expect([f.count_5m!.status, f.count_5m!.value]).toEqual(['present', 3]);
    expect([f.max_5m!.status, f.max_5m!.value]).toEqual(['unavailable', null]);
    expect((await at(other, 'nobody', 17)).max_5m!.status).toBe('unavailable');
  });
});
