/**
 * Serving compute per key (docs/semantics.md §7): the engine takes the workload's records up to a time T (as the consumer's
 * state holds them then), and every key's features are served at T, one timing per key, over several passes.
 * What is timed is the serving function on the key's entities; reading and decoding the key's item are not.
 * A second part writes those keys' items to dynalite and reads them through the client: requests and read units.
 */

import { dynamoClient } from '../../lambda/adapters/aws-clients';
import { pool } from '../../lambda/adapters/concurrency';
import { FeatureClient } from '../../lambda/adapters/feature-client';
import { StateStore } from '../../lambda/adapters/state-store';
import { STATE_TABLE } from '../../lambda/contract/resources';
import { type InputRecord, WindowEngine } from '../../lambda/core/engine';
import { NO_ID_PAGES, decodeKeyItem, encodeKeyItem } from '../../lambda/core/key-item';
import { keyShard, serveFeatures } from '../../lambda/core/serving';
import type { PipelineSpec } from '../../lambda/core/spec';
import { featureRuntimes } from '../../lambda/core/windows';
import { startEmulators } from '../local/emulators';
import { createActiveTable } from '../local/tables';

export interface ServingBench {
  readonly keys: number;
  readonly features: number;
  /** Served features by status over all keys of one pass. */
  readonly statuses: Record<string, number>;
  /** Per-key serving time, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly timings: number;
  /** Per-key time to decode the key's item (as the client reads it) and serve it, ms. */
  readonly decodeP50Ms: number;
  readonly decodeP99Ms: number;
}

/** Feeds the records that arrived by `at` to an engine, then serves every key at `at`, `passes` times. */
export function runServingBench(spec: PipelineSpec, records: readonly InputRecord[], at: number, passes = 5): ServingBench {
  const engine = new WindowEngine(spec, { trackChanges: false });
  const seen = records.filter((r) => (r.arrivalTime ?? -Infinity) <= at);
  for (let i = 0; i < seen.length; i += 2000) engine.processBatch(seen.slice(i, i + 2000));
  const runtimes = featureRuntimes(spec);
  const keys = [...engine.keys()];
  const inputs = keys.map((key) => {
    const entities = (engine.keyState(key)?.ents ?? []);
    return { entities, watermark: engine.watermark(keyShard(entities) ?? '') };
  });
  const statuses: Record<string, number> = {};
  const times: number[] = [];
  const items = keys.map((key) => ({ key, bytes: encodeKeyItem({ runtime: engine.runtimes, state: engine.keyState(key)!, shards: engine.keyProgress(key), ids: new Map(), idPages: NO_ID_PAGES }) }));
  const decodeTimes: number[] = [];
  // A first pass warms the code up and is not timed.
  for (let pass = 0; pass <= passes; pass++) {
    for (const k of inputs) {
      const t0 = process.hrtime.bigint();
      const served = serveFeatures(runtimes, k.entities, at, { watermark: k.watermark, writtenAt: at });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (pass === 0) for (const f of served) statuses[f.status] = (statuses[f.status] ?? 0) + 1;
      else times.push(ms);
    }
    for (const it of items) {
      const t0 = process.hrtime.bigint();
      const ents = decodeKeyItem(runtimes, it.key, it.bytes).ents;
      serveFeatures(runtimes, ents, at, { watermark: null, writtenAt: at });
      if (pass > 0) decodeTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  times.sort((a, b) => a - b);
  decodeTimes.sort((a, b) => a - b);
  const q = (xs: readonly number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  return { keys: keys.length, features: runtimes.length, statuses, p50Ms: q(times, 0.5), p99Ms: q(times, 0.99), maxMs: times[times.length - 1] ?? 0, timings: times.length, decodeP50Ms: q(decodeTimes, 0.5), decodeP99Ms: q(decodeTimes, 0.99) };
}

export function formatServingBench(b: ServingBench): string[] {
  const statuses = Object.entries(b.statuses)
    .map(([s, n]) => `${s} ${n.toLocaleString('en-US')}`)
    .join(', ');
  return [
    `  ${b.keys.toLocaleString('en-US')} keys × ${b.features} features, ${b.timings.toLocaleString('en-US')} timed key reads (${statuses})`,
    `  per key: p50 ${b.p50Ms.toFixed(4)} ms, p99 ${b.p99Ms.toFixed(4)} ms (target ≤ 0.2 ms at p99), max ${b.maxMs.toFixed(3)} ms`,
    `  with the key item's decoding (as the client does): p50 ${b.decodeP50Ms.toFixed(4)} ms, p99 ${b.decodeP99Ms.toFixed(4)} ms`,
  ];
}

export interface ServingReadBench {
  readonly keys: number;
  /** Per request size (keys asked): BatchGetItem requests per call and read units per key, both read modes. */
  readonly rows: ReadonlyArray<{ readonly keysPerCall: number; readonly calls: number; readonly requestsPerCall: number; readonly unitsPerKeyEventual: number; readonly unitsPerKeyConsistent: number }>;
  /** Stored key item sizes, bytes. */
  readonly itemBytesP50: number;
  readonly itemBytesMax: number;
}

/**
 * Read cost of the features client on a DynamoDB emulator (dynalite, which reports consumed capacity as DynamoDB
 * bills it: 4 KB units, half for eventually consistent reads): the state as the consumer stores it at T, then
 * calls for 1 and for 100 keys.
 */
export async function runServingReadBench(spec: PipelineSpec, records: readonly InputRecord[], at: number, calls = 20): Promise<ServingReadBench> {
  const emulators = await startEmulators({ services: ['dynamodb'] });
  const env = emulators.env();
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const dynamo = dynamoClient();
  try {
    await createActiveTable(dynamo, STATE_TABLE, 'bench-state');
    const engine = new WindowEngine(spec, { trackChanges: false });
    const seen = records.filter((r) => (r.arrivalTime ?? -Infinity) <= at);
    for (let i = 0; i < seen.length; i += 2000) engine.processBatch(seen.slice(i, i + 2000));
    const store = new StateStore({ client: dynamo, tableName: 'bench-state' });
    const keys = [...engine.keys()];
    const sizes: number[] = [];
    await pool(keys, 16, async (key) => {
      const bytes = encodeKeyItem({ runtime: engine.runtimes, state: engine.keyState(key)!, shards: engine.keyProgress(key), ids: new Map(), idPages: NO_ID_PAGES });
      sizes.push(bytes.length);
      await store.putKeyItem(key, bytes, 0, at);
    });
    sizes.sort((a, b) => a - b);
    const rows = [];
    for (const keysPerCall of [1, 100]) {
      const units = { eventual: 0, consistent: 0 };
      let requests = 0;
      for (const consistentRead of [false, true]) {
        const client = new FeatureClient({ spec, tableName: 'bench-state', dynamo });
        for (let c = 0; c < calls; c++) {
          const start = (c * keysPerCall) % Math.max(1, keys.length - keysPerCall);
          await client.getFeatures(keys.slice(start, start + keysPerCall), { at, consistentRead });
        }
        // Key items only: the registry of definitions is read once a minute, not per call.
        units[consistentRead ? 'consistent' : 'eventual'] = (client.readUnits - client.definitionsReadUnits) / (calls * keysPerCall);
        requests = client.readRequests / calls;
      }
      rows.push({ keysPerCall, calls, requestsPerCall: requests, unitsPerKeyEventual: units.eventual, unitsPerKeyConsistent: units.consistent });
    }
    return { keys: keys.length, rows, itemBytesP50: sizes[Math.floor(sizes.length / 2)] ?? 0, itemBytesMax: sizes[sizes.length - 1] ?? 0 };
  } finally {
    dynamo.destroy();
    await emulators.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export function formatServingReadBench(b: ServingReadBench): string[] {
  return [
    `  ${b.keys.toLocaleString('en-US')} key items (p50 ${b.itemBytesP50} B, max ${b.itemBytesMax} B of state), read through the client on dynalite:`,
    ...b.rows.map(
      (r) =>
        `  ${String(r.keysPerCall).padStart(3)} key(s) a call: ${r.requestsPerCall} BatchGetItem request(s) a call (target: one per 100 keys), ${r.unitsPerKeyEventual} read units a key eventually consistent, ${r.unitsPerKeyConsistent} consistent (target ≤ 1)`,
    ),
  ];
}
