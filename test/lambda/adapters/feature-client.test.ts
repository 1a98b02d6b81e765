/**
 * The features client against dynalite: key items written as the consumer writes them, read back and served at a
 * time T, equal to serving the engine's own state; batching of 100 keys, eventual consistency, unprocessed keys,
 * unknown features.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import { FeatureClient, featureClientFromEnv, getFeatures } from '../../../lambda/adapters/feature-client';
import type { WindowEngine } from '../../../lambda/core/engine';
import { FeatureRequestError } from '../../../lambda/core/feature-request';
import { UnknownFeatureError, keyShard, serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import { featureRuntimes } from '../../../lambda/core/windows';
import { Feed, specDoc } from '../../support/engine-harness';
import { SERVED_FEATURES, createStateTable, writeServedItems } from '../../support/served-items';

const T0 = Date.UTC(2026, 10, 30, 10);
const spec = parseSpec(specDoc({ features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } }));
const TABLE = 'client-state';
const WRITTEN_AT = T0 + 40 * 60_000;

let emulators: Emulators;
let dynamo: DynamoDBClient;
let engine: WindowEngine;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  dynamo = dynamoClient();
  await createStateTable(dynamo, TABLE);
  const feed = new Feed();
  const records = [];
  // A burst of 22 payments by "fraudster" over 38 minutes, and two by "alice", 250 keys with one payment each.
  for (let i = 0; i < 22; i++) records.push(feed.ev('fraudster', T0 + i * 104_000, { amount: 500 + i }, { arrivalTime: T0 + i * 104_000 + 100 }));
  records.push(feed.ev('alice', T0 + 60_000, { amount: 12.5 }, { arrivalTime: T0 + 60_100 }), feed.ev('alice', T0 + 1_000_000, { amount: 30 }, { arrivalTime: T0 + 1_000_100 }));
  for (let k = 0; k < 250; k++) records.push(feed.ev(`k${k}`, T0 + 2_000_000 + k, { amount: k }, { arrivalTime: T0 + 2_000_100 + k }));
  records.sort((a, b) => a.arrivalTime! - b.arrivalTime!);
  engine = await writeServedItems(dynamo, TABLE, spec, records, WRITTEN_AT);
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await emulators?.stop();
});

describe('FeatureClient against DynamoDB', () => {
  it('serves each key as the engine state it was written from, in the order asked, a key without state as empty', async () => {
    const client = new FeatureClient({ spec, tableName: TABLE });
    const runtimes = featureRuntimes(spec);
    for (const at of [WRITTEN_AT, WRITTEN_AT + 30 * 60_000, WRITTEN_AT + 2 * 3_600_000]) {
      const rows = await client.getFeatures(['alice', 'nobody', 'fraudster', 'alice'], { at });
      expect(rows.map((r) => [r.key, r.found])).toEqual([['alice', true], ['nobody', false], ['fraudster', true], ['alice', true]]);
      for (const r of rows) {
        const ents = engine.keyState(r.key)?.ents ?? [];
        const w = r.found ? engine.watermark(keyShard(ents)!) : null;
        expect(r.watermark).toBe(w);
        expect(r.writtenAt).toBe(r.found ? WRITTEN_AT : null);
        expect(Object.values(r.features)).toEqual(serveFeatures(runtimes, ents, at, { watermark: w, writtenAt: r.writtenAt }));
      }
    }
    // The fraudster's burst at its end, and an hour after it: the hourly spend falls back to 0, never stays.
    const during = (await client.getFeatures(['fraudster'], { at: T0 + 21 * 104_000 + 1000 }))[0]!.features;
    expect(during.spend_1h_every_5m!.count).toBeGreaterThanOrEqual(10);
    // That time is before the state was written: the value may hold records that arrived after it, and says so.
    expect(during.spend_1h_every_5m!.status).toBe('written-after');
    const later = (await client.getFeatures(['fraudster'], { at: new Date(T0 + 21 * 104_000 + 3_700_000) }))[0]!.features;
    expect([later.spend_1h_every_5m!.value, later.spend_1h_every_5m!.count, later.spend_1h_every_5m!.status]).toEqual([0, 0, 'empty']);
    // Its count carries maxStalenessMs (1 h): read more than an hour after the state was written, it says so.
    const stale = (await client.getFeatures(['fraudster'], { at: WRITTEN_AT + 3_600_001, features: ['txn_count_5m'] }))[0]!.features;
    expect([stale.txn_count_5m!.value, stale.txn_count_5m!.status]).toEqual([0, 'stale']);
  });

  it('reads 100 keys per BatchGetItem, eventually consistent by default at half the read units', async () => {
    const keys = Array.from({ length: 250 }, (_, k) => `k${k}`);
    const eventual = new FeatureClient({ spec, tableName: TABLE });
    // Each k's one payment is in the 10-minute window [T0 + 30 min, T0 + 40 min).
    const rows = await eventual.getFeatures(keys, { at: T0 + 2_000_500, features: ['max_amount_10m'] });
    expect(rows.map((r) => r.key)).toEqual(keys);
    expect(rows.map((r) => r.features.max_amount_10m!.value)).toEqual(keys.map((_, k) => k));
    expect(eventual.readRequests).toBe(3);
    const consistent = new FeatureClient({ spec, tableName: TABLE });
    await consistent.getFeatures(keys, { at: WRITTEN_AT, consistentRead: true });
    expect(consistent.readUnits).toBeGreaterThan(0);
    // Key items at half the units; each client also read the registry of definitions once.
    expect(eventual.definitionsReadUnits).toBe(0.5);
    expect(eventual.readUnits - 0.5).toBe((consistent.readUnits - consistent.definitionsReadUnits) / 2);
  });

  it('retries the keys DynamoDB leaves unprocessed', async () => {
    const throttled = dynamoClient();
    let left = 2;
    // Throttling, as DynamoDB signals it: the first responses hand part of the keys back as unprocessed.
    throttled.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName !== 'BatchGetItemCommand' || left === 0) return out;
        left -= 1;
        const res = out.output as { Responses?: Record<string, Array<Record<string, unknown>>>; UnprocessedKeys?: Record<string, { Keys: unknown[] }> };
        const got = res.Responses?.[TABLE] ?? [];
        const back = got.splice(0, Math.ceil(got.length / 2));
        res.UnprocessedKeys = { [TABLE]: { Keys: back.map((it) => ({ pk: it.pk, sk: it.sk })) } };
        return out;
      },
      { step: 'initialize', name: 'throttleHalf' },
    );
    const client = new FeatureClient({ spec, tableName: TABLE, dynamo: throttled });
    const rows = await client.getFeatures(['alice', 'fraudster', 'k1', 'k2'], { at: WRITTEN_AT });
    expect(left).toBe(0);
    expect(rows.map((r) => r.found)).toEqual([true, true, true, true]);
    expect(rows.map((r) => r.features.max_amount_10m!.status)).not.toContain(undefined);
    throttled.destroy();
  });

  it('names a feature the spec does not define, and a bad key or time, before reading anything', async () => {
    const client = new FeatureClient({ spec, tableName: TABLE });
    await expect(client.getFeatures(['alice'], { features: ['txn_count_5m', 'txn_count_1d'] })).rejects.toThrow(UnknownFeatureError);
    await expect(client.getFeatures(['alice'], { features: ['txn_count_1d'] })).rejects.toThrow(/unknown feature "txn_count_1d"/);
    await expect(client.getFeatures(['alice', ''])).rejects.toThrow(new FeatureRequestError('keys[1]', 'must be a non-empty string or a finite number, got ""'));
    await expect(client.getFeatures(['alice'], { at: 'soon' })).rejects.toThrow(FeatureRequestError);
    expect(client.readRequests).toBe(0);
  });

  it('is configured from the environment the stack sets, and says which variable is missing', async () => {
    expect(() => featureClientFromEnv({})).toThrow('environment variable PIPELINE_SPEC is required');
    expect(() => featureClientFromEnv({ PIPELINE_SPEC: JSON.stringify(specDoc({ features: SERVED_FEATURES })) })).toThrow('environment variable STATE_TABLE_NAME is required');
    Object.assign(process.env, { PIPELINE_SPEC: JSON.stringify(specDoc({ features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } })), STATE_TABLE_NAME: TABLE });
    const [alice] = await getFeatures(['alice'], { at: WRITTEN_AT, features: ['session_spend'] });
    // Her two payments, 16 minutes apart, are one session (gap 30 min).
    expect(alice!.features.session_spend!.value).toBe(42.5);
  });
});
