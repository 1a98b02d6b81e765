/**
 * Scoring edge cases against the emulators (dynalite, kinesalite, fauxqs): a record re-delivered in a bisected
 * half, one producer id on two keys, and models reading session and global-window features. Each prediction must
 * hold what the SPEC reference serves from the records that arrived by its featuresAt, and each applied record
 * must have exactly one prediction, counted once in its evaluation window.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScoringEnv, deliverScored, freshScoringEnv } from '../../support/scoring-env';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import type { BatchOutcome } from '../../../lambda/adapters/batch-processor';
import { EvaluationStore } from '../../../lambda/adapters/evaluation-store';
import type { WriteGate } from '../../../lambda/adapters/state-store';
import type { InputRecord } from '../../../lambda/core/engine';
import { type Model, parseModel } from '../../../lambda/core/model';
import type { Prediction } from '../../../lambda/core/scoring';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { type RefStreamRecord, servingReference } from '../../support/serving-reference';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const WATERMARK = { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000 };

const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: WATERMARK,
  features: [
    { name: 'count_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'count' },
    { name: 'sum_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session_max', window: { type: 'session', gapMs: 45_000 }, aggregate: 'max', field: 'amount' },
    { name: 'global_sum_every_3', window: { type: 'global', trigger: { count: 3 } }, aggregate: 'sum', field: 'amount' },
  ],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: 86_400_000, windowMs: 60_000 },
});
const slidingModel = parseModel({ kind: 'logistic', version: 'm1', bias: -4, weights: { count_2m_every_30s: 0.6, sum_2m_every_30s: 0.01 }, threshold: 0.5 }, spec);
const sessionModel = parseModel({ kind: 'logistic', version: 's1', bias: -2, weights: { session_max: 0.03, global_sum_every_3: 0.01 }, threshold: 0.5 }, spec);

type Env = ScoringEnv;

let emulators: Emulators;

const freshEnv = (): Promise<Env> => freshScoringEnv('se');

function deliver(env: Env, records: readonly InputRecord[], model: Model, gate?: WriteGate, parallelizationFactor = 1, evaluation?: EvaluationStore): Promise<BatchOutcome> {
  return deliverScored(env, records, { spec, model, ...(gate ? { gate } : {}), parallelizationFactor, ...(evaluation ? { evaluation } : {}) });
}

/** An evaluation store that counts the window items it reads (the handler builds one per invocation). */
class CountingEvaluationStore extends EvaluationStore {
  public windowItemsRead = 0;
  public override async getWindows(starts: readonly number[]): ReturnType<EvaluationStore['getWindows']> {
    this.windowItemsRead += new Set(starts).size;
    return super.getWindows(starts);
  }
}

async function storedPredictions(env: Env): Promise<Prediction[]> {
  const res = await env.dynamo.send(new ScanCommand({ TableName: env.predictionsTable, ConsistentRead: true }));
  return (res.Items ?? []).filter((it) => it.sk!.S === 'p').map((it) => JSON.parse(it.doc!.S!) as Prediction);
}

/** Predictions counted over all evaluation windows. */
async function countedPredictions(env: Env): Promise<number> {
  const store = new EvaluationStore({ client: env.dynamo, tableName: env.predictionsTable, evaluation: spec.evaluation! });
  const registry = await store.getRegistry();
  return [...(await store.getWindows(registry.open)).values()].reduce((a, w) => a + w.counts.predictions, 0);
}

const seqOf = (i: number): string => (BigInt('49650000000000000000000000000000000000000000000000000000') + BigInt(i * 7 + 1)).toString();

interface Ev {
  user: string;
  ts: number;
  amount: number;
  id: string;
  arrival: number;
}

const toInput = (evs: readonly Ev[], from = 0): InputRecord[] =>
  evs.map((e, i) => ({ data: Buffer.from(JSON.stringify({ user: e.user, ts: e.ts, amount: e.amount, id: e.id }), 'utf8'), shard: SHARD, seq: seqOf(from + i), arrivalTime: e.arrival }));

const toRef = (evs: readonly Ev[]): RefStreamRecord[] => evs.map((e) => ({ key: e.user, shard: SHARD, time: e.ts, arrival: e.arrival, id: e.id, fields: { amount: e.amount } }));

function expectAsReference(p: Prediction, model: Model, evs: readonly Ev[]): void {
  const want = servingReference(spec.features, { ...WATERMARK, latePolicy: 'dlq' }, toRef(evs), p.featuresAt).get(p.key)!;
  for (const f of model.features) expect(p.features[f]!.value, `${p.eventId} ${f} as of featuresAt ${p.featuresAt}`).toBe(want.get(f)!.value);
}

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

/** Crashes once, at the first put of predictions: after the key items are written. */
function crashBeforePredictions(): WriteGate {
  let crashed = false;
  return (what) => {
    if (!crashed && what.startsWith('PutRecords')) {
      crashed = true;
      throw new Error(`injected crash before ${what}`);
    }
  };
}

describe('scoring edge cases', () => {
  // One key; events a few hundred ms apart in event time, arriving a second apart (a producer flushing late).
  const burst: Ev[] = Array.from({ length: 6 }, (_, i) => ({ user: 'u1', ts: T0 + 100 * i, amount: 10 + 10 * i, id: `b${i}`, arrival: T0 + 1000 * (i + 1) }));

  it('a record re-delivered in a bisected half is scored only with the records that arrived by its featuresAt', async () => {
    const env = await freshEnv();
    // The key item is written, then the batch dies before any prediction is put.
    const gate = crashBeforePredictions();
    const all = toInput(burst);
    await expect(deliver(env, all, slidingModel, gate)).rejects.toThrow('injected crash');
    // Lambda bisects the failed batch: first half, then second half.
    await deliver(env, all.slice(0, 3), slidingModel);
    await deliver(env, all.slice(3), slidingModel);
    const stored = await storedPredictions(env);
    expect(stored.length).toBe(6);
    for (const p of stored) expectAsReference(p, slidingModel, burst);
  });

  // An old event first, then events arriving across 30-second slides: the trailing two minutes as of the batch's
  // newest arrival leave the old one out; as of the first half's newest arrival they hold it.
  const spread: Ev[] = [
    { user: 'u1', ts: T0 - 80_000, amount: 90, id: 'o0', arrival: T0 + 1_000 },
    { user: 'u1', ts: T0 + 100, amount: 10, id: 'o1', arrival: T0 + 2_000 },
    { user: 'u1', ts: T0 + 200, amount: 10, id: 'o2', arrival: T0 + 31_000 },
    { user: 'u1', ts: T0 + 40_000, amount: 10, id: 'o3', arrival: T0 + 50_000 },
    { user: 'u1', ts: T0 + 45_000, amount: 10, id: 'o4', arrival: T0 + 55_000 },
    { user: 'u1', ts: T0 + 50_000, amount: 10, id: 'o5', arrival: T0 + 61_000 },
  ];

  it('a record re-delivered in a bisected half gets the score a crash-free run gives it (docs/scoring.md: same events, same scores)', async () => {
    const burst = spread;
    const clean = await freshEnv();
    await deliver(clean, toInput(burst), slidingModel);
    const expected = (await storedPredictions(clean)).map((p) => `${p.eventId} ${p.score}`).sort();
    const env = await freshEnv();
    const gate = crashBeforePredictions();
    const all = toInput(burst);
    await expect(deliver(env, all, slidingModel, gate)).rejects.toThrow('injected crash');
    await deliver(env, all.slice(0, 3), slidingModel);
    await deliver(env, all.slice(3), slidingModel);
    expect((await storedPredictions(env)).map((p) => `${p.eventId} ${p.score}`).sort()).toEqual(expected);
  });

  it('two records with the same producer id on one key: one applied, one prediction, counted once', async () => {
    const env = await freshEnv();
    const evs: Ev[] = [
      { user: 'u1', ts: T0, amount: 10, id: 'dup', arrival: T0 + 200 },
      { user: 'u1', ts: T0, amount: 10, id: 'dup', arrival: T0 + 300 },
    ];
    const o1 = await deliver(env, toInput(evs.slice(0, 1)), slidingModel);
    const o2 = await deliver(env, toInput(evs.slice(1), 1), slidingModel);
    expect(o1.counters.applied + o2.counters.applied).toBe(1);
    expect((await storedPredictions(env)).length).toBe(1);
    expect(await countedPredictions(env)).toBe(1);
  });

  it('one producer id on two keys (two batches): each applied record has its prediction', async () => {
    const env = await freshEnv();
    const evs: Ev[] = [
      { user: 'u1', ts: T0, amount: 10, id: 'shared', arrival: T0 + 200 },
      { user: 'u2', ts: T0 + 10, amount: 20, id: 'shared', arrival: T0 + 300 },
    ];
    const o1 = await deliver(env, toInput(evs.slice(0, 1)), slidingModel);
    const o2 = await deliver(env, toInput(evs.slice(1), 1), slidingModel);
    const applied = o1.counters.applied + o2.counters.applied;
    expect(applied).toBe(2);
    expect((await storedPredictions(env)).map((p) => p.key).sort(), 'a prediction per applied record').toEqual(['u1', 'u2']);
  });

  it('one producer id on two keys (two batches): the evaluation windows count the predictions the table holds', async () => {
    const env = await freshEnv();
    const evs: Ev[] = [
      { user: 'u1', ts: T0, amount: 10, id: 'shared', arrival: T0 + 200 },
      { user: 'u2', ts: T0 + 10, amount: 20, id: 'shared', arrival: T0 + 300 },
    ];
    await deliver(env, toInput(evs.slice(0, 1)), slidingModel);
    await deliver(env, toInput(evs.slice(1), 1), slidingModel);
    expect(await countedPredictions(env), 'predictions counted in windows vs predictions in the table').toBe((await storedPredictions(env)).length);
  });

  it('a model reading session and global-window features scores with the values the SPEC reference serves', async () => {
    const env = await freshEnv();
    const evs: Ev[] = [];
    let t = T0;
    for (let i = 0; i < 40; i++) {
      t += i % 9 === 8 ? 60_000 : 3_000 + ((i * 1_237) % 4_000);
      evs.push({ user: `u${i % 2}`, ts: t, amount: (i * 37) % 90, id: `s${i}`, arrival: t + 200 });
    }
    const input = toInput(evs);
    const predictions: Prediction[] = [];
    for (let i = 0; i < input.length; i += 5) predictions.push(...(await deliver(env, input.slice(i, i + 5), sessionModel)).scoring!.predictions);
    expect(predictions.length).toBe(40);
    for (const p of predictions) expectAsReference(p, sessionModel, evs);
  });

  it('with an evaluation section a parallelization factor above 1 is refused, by name (its windows count a shard in order)', async () => {
    const env = await freshEnv();
    const input = toInput([{ user: 'u1', ts: T0, amount: 10, id: 'p1', arrival: T0 + 200 }]);
    await expect(deliver(env, input, slidingModel, undefined, 2)).rejects.toThrow('parallelizationFactor must be 1 with an evaluation section, got 2');
    expect(await storedPredictions(env)).toEqual([]);
  });

  it('a record whose producer id is too long for the predictions table key gets a clear rejection, and the batch is scored', async () => {
    const env = await freshEnv();
    // The feature side accepts any id length; a prediction's partition key (prediction#<id>) holds 2048 bytes at most.
    const evs: Ev[] = [
      { user: 'u1', ts: T0, amount: 10, id: 'x'.repeat(3000), arrival: T0 + 200 },
      { user: 'u2', ts: T0 + 10, amount: 20, id: 'ok', arrival: T0 + 300 },
    ];
    const outcome = await deliver(env, toInput(evs), slidingModel).then(
      (o) => o,
      (e: unknown) => (e as Error).message,
    );
    expect(typeof outcome === 'string' ? `batch failed: ${outcome}` : 'batch passed').toBe('batch passed');
    expect((await storedPredictions(env)).map((p) => p.key)).toContain('u2');
  });

  it('a batch that closes no evaluation window reads no window item, however many closed windows await their labels', async () => {
    const env = await freshEnv();
    // One record a minute for 40 minutes: 40 one-minute windows, all but the newest closed by the watermark,
    // all open until their one-day label window passes.
    for (let i = 0; i < 40; i++) {
      const t = T0 + i * 61_000;
      await deliver(env, toInput([{ user: 'u1', ts: t, amount: 10, id: `w${i}`, arrival: t + 200 }], i), slidingModel);
    }
    // The next record lands in the same minute as the last: nothing new to close.
    const t = T0 + 39 * 61_000 + 1_000;
    const store = new CountingEvaluationStore({ client: env.dynamo, tableName: env.predictionsTable, evaluation: spec.evaluation! });
    const o = await deliver(env, toInput([{ user: 'u1', ts: t, amount: 10, id: 'last', arrival: t + 200 }], 40), slidingModel, undefined, 1, store);
    expect(o.scoring!.closed).toEqual([]);
    expect(store.windowItemsRead, 'window items read by a batch of one record that closes nothing').toBeLessThanOrEqual(1);
  });
});
