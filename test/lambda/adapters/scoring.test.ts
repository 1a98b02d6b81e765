/**
 * Scoring in the feature consumer's batch, against the emulators (dynalite, kinesalite, fauxqs): every record
 * applied gets one prediction, made from its key's features as of the record's arrival (the record included),
 * in the table once and on the predictions stream at least once, however the batch crashes and is
 * re-delivered.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScoringEnv, deliverScored, freshScoringEnv } from '../../support/scoring-env';
import { readStream } from '../../../bin/local/streams';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { prng } from '../../../bin/bench/workload';
import type { BatchOutcome } from '../../../lambda/adapters/batch-processor';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import { kinesisClient } from '../../../lambda/adapters/kinesis-client';
import { PredictionStore } from '../../../lambda/adapters/prediction-store';
import { EvaluationStore } from '../../../lambda/adapters/evaluation-store';
import type { WriteGate } from '../../../lambda/adapters/state-store';
import type { InputRecord } from '../../../lambda/core/engine';
import { parseModel } from '../../../lambda/core/model';
import type { Prediction } from '../../../lambda/core/scoring';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { type RefStreamRecord, servingReference } from '../../support/serving-reference';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000 },
  features: [
    { name: 'count_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'count' },
    { name: 'sum_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session_max', window: { type: 'session', gapMs: 45_000 }, aggregate: 'max', field: 'amount' },
  ],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: 86_400_000, windowMs: 60_000 },
});
const model = parseModel({ kind: 'logistic', version: 'm1', bias: -4, weights: { count_2m_every_30s: 0.6, sum_2m_every_30s: 0.01 }, threshold: 0.5 }, spec);

/** Valid records of five users, some late, invalid or producer retries; arrival 200 ms after event time. */
function makeRecords(n: number, seed: number): InputRecord[] {
  const rnd = prng(seed);
  const out: InputRecord[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 3000);
    const seq = (BigInt('49650000000000000000000000000000000000000000000000000000') + BigInt(i * 7 + 1)).toString();
    const u = rnd();
    let payload: string;
    if (u < 0.04) payload = '{"user": "broken", ts:';
    else if (u < 0.1) payload = JSON.stringify({ user: `u${i % 5}`, ts: t - 60_000, amount: 3, id: `e${i}` });
    else payload = JSON.stringify({ user: `u${Math.floor(rnd() * 5)}`, ts: t, amount: Math.floor(rnd() * 100), id: `e${i}` });
    if (u > 0.95 && out.length > 0) payload = Buffer.from(out[out.length - 1]!.data).toString('utf8');
    out.push({ data: Buffer.from(payload, 'utf8'), shard: SHARD, seq, arrivalTime: t + 200 });
  }
  return out;
}

type Env = ScoringEnv;

let emulators: Emulators;

const freshEnv = (): Promise<Env> => freshScoringEnv('sc');

/** One delivery, scored as of the batch's last arrival + 50 ms (deterministic, so retries score alike). */
function deliver(env: Env, records: readonly InputRecord[], gate?: WriteGate): Promise<BatchOutcome> {
  return deliverScored(env, records, { spec, model, ...(gate ? { gate } : {}) });
}

/** Each evaluation window's counts and whether it closed, with the registry's open windows and reference. */
async function evaluationState(env: Env): Promise<string> {
  const store = new EvaluationStore({ client: env.dynamo, tableName: env.predictionsTable, evaluation: spec.evaluation! });
  const registry = await store.getRegistry();
  const windows = [...(await store.getWindows(registry.open))].sort(([a], [b]) => a - b).map(([start, w]) => ({ start, counts: w.counts, closed: w.closed }));
  return JSON.stringify({ registry, windows });
}

async function storedPredictions(env: Env): Promise<Prediction[]> {
  const res = await env.dynamo.send(new ScanCommand({ TableName: env.predictionsTable, ConsistentRead: true }));
  return (res.Items ?? []).filter((it) => it.sk!.S === 'p').map((it) => JSON.parse(it.doc!.S!) as Prediction);
}

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

const cut = (records: readonly InputRecord[], size: number): InputRecord[][] => Array.from({ length: Math.ceil(records.length / size) }, (_, i) => records.slice(i * size, (i + 1) * size));

describe('scoring in the feature consumer batch', () => {
  it('scores every applied record once, with its key\'s features as of its arrival, the record included', async () => {
    const env = await freshEnv();
    const client = new FeatureClient({ spec, tableName: env.stateTable, dynamo: env.dynamo });
    let applied = 0;
    for (const batch of cut(makeRecords(240, 7), 40)) {
      const o = await deliver(env, batch);
      applied += o.counters.applied;
      // Each record is scored as of its own arrival. Straight after the batch, the endpoint serves the very values
      // the key's last-arriving record was scored with (the state then holds what had arrived by it).
      const lastOfKey = new Map([...o.scoring!.predictions].sort((a, b) => a.arrivalTime! - b.arrivalTime!).map((p) => [p.key, p]));
      for (const p of o.scoring!.predictions) {
        expect(p.featuresAt).toBe(p.arrivalTime);
        if (lastOfKey.get(p.key) !== p) continue;
        const [served] = await client.getFeatures([p.key], { at: p.featuresAt, features: model.features });
        for (const f of model.features) expect(p.features[f]!.value, `${p.eventId} ${f}`).toBe(served!.features[f]!.value);
        expect(p.features.count_2m_every_30s!.newestEventTime).toBeGreaterThanOrEqual(p.eventTime);
        expect(p.predictionId).toBe(`m1:${p.eventId}`);
        expect(p.positive).toBe(p.score >= 0.5);
        expect(p.scoredAt - p.arrivalTime!).toBeGreaterThanOrEqual(50);
      }
    }
    const stored = await storedPredictions(env);
    expect(stored.length).toBe(applied);
    expect(new Set(stored.map((p) => p.eventId)).size).toBe(applied);
    expect(stored.some((p) => p.positive)).toBe(true);
    expect(stored.some((p) => !p.positive)).toBe(true);
    const onStream = (await readStream(kinesisClient(), env.predictionsStream)).map((t) => (JSON.parse(t) as Prediction).predictionId);
    expect(onStream.sort()).toEqual(stored.map((p) => p.predictionId).sort());
  });

  it('scores with the values the SPEC reference gives from the records that arrived by featuresAt', async () => {
    const env = await freshEnv();
    const records = makeRecords(200, 31);
    const predictions: Prediction[] = [];
    for (const batch of cut(records, 25)) predictions.push(...(await deliver(env, batch)).scoring!.predictions);
    // The reference shares no code with the engine or the serving function (test/support/serving-reference.ts).
    const ref: RefStreamRecord[] = records.flatMap((r) => {
      try {
        const o = JSON.parse(Buffer.from(r.data).toString('utf8')) as { user: string; ts: number; amount: number; id: string };
        return [{ key: o.user, shard: r.shard, time: o.ts, arrival: r.arrivalTime!, id: o.id, fields: { amount: o.amount } }];
      } catch {
        return [];
      }
    });
    expect(predictions.length).toBeGreaterThan(150);
    for (const p of predictions) {
      const want = servingReference(spec.features, { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000, latePolicy: 'dlq' }, ref, p.featuresAt).get(p.key)!;
      for (const f of model.features) expect(p.features[f]!.value, `${p.eventId} ${f}`).toBe(want.get(f)!.value);
    }
  });

  it('a prediction item costs one write unit: the least a join against it allows', async () => {
    const env = await freshEnv();
    const store = new PredictionStore({ dynamo: env.dynamo, kinesis: kinesisClient(), tableName: env.predictionsTable, streamName: env.predictionsStream, evaluationWindowMs: 60_000, keepMs: 86_400_000 });
    // Six features with their newest event times and statuses, as the widest prediction of the example spec.
    const features = Object.fromEntries(['txn_count_5m', 'txn_count_1h_every_5m', 'spend_1h_every_5m', 'max_amount_10m', 'session_spend', 'p95_amount_1h'].map((f, i) => [f, { value: 12345.67 + i, newestEventTime: T0 + i, status: 'present' as const }]));
    const predictions: Prediction[] = Array.from({ length: 20 }, (_, i) => ({
      predictionId: `fraud-v1:evt_${String(i).padStart(5, '0')}`, key: `acct_${i}`, eventId: `evt_${String(i).padStart(5, '0')}`, eventTime: T0 + i, arrivalTime: T0 + i + 200,
      featuresAt: T0 + i + 400, scoredAt: T0 + i + 650, score: 0.123456789, positive: false, modelVersion: 'fraud-v1', features,
    }));
    const { written } = await store.write(predictions);
    expect(written).toHaveLength(20);
    expect(store.consumedWriteUnits).toBe(20);
    expect(store.streamRecords).toBe(20);
  });

  it('a re-delivered batch writes no prediction again, on the stream or in the table', async () => {
    const env = await freshEnv();
    const records = makeRecords(60, 11);
    await deliver(env, records);
    const again = await deliver(env, records.slice(10, 50));
    expect(again.scoring!.predictions).toEqual([]);
    expect((await readStream(kinesisClient(), env.predictionsStream)).length).toBe((await storedPredictions(env)).length);
  });

  it('crashing at any write and re-delivering leaves each prediction once in the table and counted once in its window, none lost; the stream repeats at most one batch', async () => {
    const records = makeRecords(90, 23);
    const batches = cut(records, 30);
    const clean = await freshEnv();
    let writes = 0;
    for (const b of batches) await deliver(clean, b, () => void writes++);
    const expected = (await storedPredictions(clean)).map((p) => `${p.eventId} ${p.score}`).sort();
    const cleanEvaluation = await evaluationState(clean);
    // One-minute evaluation windows: predictions counted in several, the earlier ones closed by the watermark.
    const parsed = JSON.parse(cleanEvaluation) as { windows: Array<{ counts: { predictions: number }; closed: boolean }> };
    expect(parsed.windows.reduce((n, w) => n + w.counts.predictions, 0)).toBe(expected.length);
    expect(parsed.windows.filter((w) => w.closed).length).toBeGreaterThan(0);
    expect(expected.length).toBeGreaterThan(60);
    for (let k = 0; k < writes; k += Math.max(1, Math.floor(writes / 12))) {
      const env = await freshEnv();
      let count = 0;
      const gate: WriteGate = (what) => {
        if (count++ === k) throw new Error(`injected crash before write ${k}: ${what}`);
      };
      for (const b of batches) {
        for (let attempt = 0; ; attempt++) {
          try {
            await deliver(env, b, gate);
            break;
          } catch (e) {
            expect((e as Error).message).toContain('injected crash');
            expect(attempt).toBe(0);
          }
        }
      }
      const got = (await storedPredictions(env)).map((p) => `${p.eventId} ${p.score}`).sort();
      expect(got, `crash before write ${k}`).toEqual(expected);
      expect(await evaluationState(env), `crash before write ${k}`).toBe(cleanEvaluation);
      const onStream = (await readStream(kinesisClient(), env.predictionsStream)).map((t) => (JSON.parse(t) as Prediction).eventId);
      expect(new Set(onStream).size).toBe(expected.length);
      expect(onStream.length - expected.length).toBeLessThanOrEqual(30);
    }
  }, 120_000);
});
