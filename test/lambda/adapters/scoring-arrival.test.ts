/**
 * A prediction's features are its key's as of the record's own arrival (docs/semantics.md §7 at T = arrival, the records of
 * the same millisecond counted up to the record itself), whatever the consumer's lag, the batch cut or a retry:
 * on the emulators, with a recorded arrival clock, a consumer an hour behind (a backlog longer than every window),
 * crashes before each write in turn and bisected re-deliveries that cut between records of one millisecond.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScoringEnv, deliverScored, freshScoringEnv } from '../../support/scoring-env';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { prng } from '../../../bin/bench/workload';
import type { WriteGate } from '../../../lambda/adapters/state-store';
import type { InputRecord } from '../../../lambda/core/engine';
import { parseModel } from '../../../lambda/core/model';
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
    { name: 'sum_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session_max', window: { type: 'session', gapMs: 45_000 }, aggregate: 'max', field: 'amount' },
  ],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: 86_400_000, windowMs: 60_000 },
});
const model = parseModel({ kind: 'logistic', version: 'm1', bias: -3, weights: { count_2m_every_30s: 0.5, sum_1m: 0.01, session_max: 0.02 }, threshold: 0.5 }, spec);

interface Ev {
  user: string;
  ts: number;
  amount: number;
  id: string;
  arrival: number;
}

/** Three users over six minutes of arrivals; some events late, some producer retries, several with equal arrivals. */
function events(n: number, seed: number): Ev[] {
  const rnd = prng(seed);
  const out: Ev[] = [];
  let arrival = T0;
  for (let i = 0; i < n; i++) {
    arrival += rnd() < 0.2 ? 0 : Math.floor(rnd() * 9_000);
    const late = rnd() < 0.1;
    const retry = rnd() < 0.05 && out.length > 0;
    out.push(retry ? { ...out[out.length - 1]!, arrival } : { user: `u${Math.floor(rnd() * 3)}`, ts: arrival - (late ? 70_000 : Math.floor(rnd() * 800)), amount: Math.floor(rnd() * 100), id: `e${i}`, arrival });
  }
  return out;
}

const seqOf = (i: number): string => (BigInt('49650000000000000000000000000000000000000000000000000000') + BigInt(i * 7 + 1)).toString();
const toInput = (evs: readonly Ev[]): InputRecord[] => evs.map((e, i) => ({ data: Buffer.from(JSON.stringify({ user: e.user, ts: e.ts, amount: e.amount, id: e.id }), 'utf8'), shard: SHARD, seq: seqOf(i), arrivalTime: e.arrival }));
const toRef = (evs: readonly Ev[]): RefStreamRecord[] => evs.map((e) => ({ key: e.user, shard: SHARD, time: e.ts, arrival: e.arrival, id: e.id, fields: { amount: e.amount } }));
const cut = <T>(xs: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

/** The consumer catches up an hour late: every window of the records is long final by its clock. */
const BEHIND = 3_600_000;

let emulators: Emulators;
beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);
afterAll(async () => {
  await emulators?.stop();
});

async function stored(env: ScoringEnv): Promise<Prediction[]> {
  const res = await env.dynamo.send(new ScanCommand({ TableName: env.predictionsTable, ConsistentRead: true }));
  return (res.Items ?? []).filter((it) => it.sk!.S === 'p').map((it) => JSON.parse(it.doc!.S!) as Prediction);
}

/** What identifies a prediction's content: all but the wall-clock time it was made. */
const content = (ps: readonly Prediction[]): string[] => ps.map(({ scoredAt: _s, ...p }) => JSON.stringify(p)).sort();

describe('scoring as of the record\'s arrival', () => {
  const evs = events(50, 5);
  const input = toInput(evs);
  const batches = cut(input, 20);

  /** Delivers each batch; a failed delivery is re-delivered bisected, as Lambda does, until it passes. */
  async function run(env: ScoringEnv, gate?: WriteGate): Promise<void> {
    const deliver = async (b: readonly InputRecord[]): Promise<void> => {
      try {
        await deliverScored(env, b, { spec, model, now: b[b.length - 1]!.arrivalTime! + BEHIND, ...(gate ? { gate } : {}) });
      } catch (e) {
        expect((e as Error).message).toContain('injected crash');
        if (b.length === 1) return deliver(b);
        await deliver(b.slice(0, Math.ceil(b.length / 2)));
        await deliver(b.slice(Math.ceil(b.length / 2)));
      }
    };
    for (const b of batches) await deliver(b);
  }

  it('each prediction holds the SPEC reference as of its arrival, an hour behind, and a crash anywhere followed by bisected retries scores the same', async () => {
    const clean = await freshScoringEnv('sa');
    let writes = 0;
    await run(clean, () => void writes++);
    const want = await stored(clean);
    const ref = toRef(evs);
    const applied = new Set(want.map((p) => p.eventId));
    expect(applied.size).toBeGreaterThan(40);
    expect(evs.some((e, i) => i > 0 && e.arrival === evs[i - 1]!.arrival && e.id !== evs[i - 1]!.id)).toBe(true);
    for (const p of want) {
      expect(p.featuresAt, p.eventId).toBe(p.arrivalTime);
      // The stream up to the record itself, as of its arrival.
      const upTo = ref.slice(0, evs.findIndex((e) => e.id === p.eventId && e.user === p.key) + 1);
      const served = servingReference(spec.features, { ...WATERMARK, latePolicy: 'dlq' }, upTo, p.featuresAt).get(p.key)!;
      for (const f of model.features) expect(p.features[f]!.value, `${p.eventId} ${f} as of its arrival ${p.featuresAt}`).toBe(served.get(f)!.value);
    }
    // Some features read non-empty values: the hour of lag did not empty them.
    expect(want.filter((p) => (p.features.count_2m_every_30s!.value ?? 0) > 1).length).toBeGreaterThan(10);
    const expected = content(want);
    for (let k = 0; k < writes; k += Math.max(1, Math.floor(writes / 6))) {
      const env = await freshScoringEnv('sa');
      let count = 0;
      await run(env, (what) => {
        if (count++ === k) throw new Error(`injected crash before write ${k}: ${what}`);
      });
      expect(content(await stored(env)), `crash before write ${k}`).toEqual(expected);
    }
  }, 180_000);
});
