/**
 * Evaluation windows close across shards (docs/evaluation.md, "Closing"): a window's positive rate and PSI are
 * published provisionally once every shard that counted a prediction has its watermark past the window's end, and
 * finally once every one is past it by the close lag (the longest feature window), so the final figures hold
 * every shard's predictions and those of records late for some features but applied to others. Checked on the emulators with two shards against figures computed here
 * from the predictions the batches wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import type { BatchOutcome } from '../../../lambda/adapters/batch-processor';
import { type ClosedWindow, EvaluationStore } from '../../../lambda/adapters/evaluation-store';
import type { InputRecord } from '../../../lambda/core/engine';
import { evaluationCloseLagMs } from '../../../lambda/core/label-join';
import { parseModel } from '../../../lambda/core/model';
import type { Prediction } from '../../../lambda/core/scoring';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { InjectedFault, failAt } from '../../support/evaluation-env';
import { deliverScored, freshScoringEnv } from '../../support/scoring-env';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MIN = 60_000;
const A = 'shardId-000000000000';
const B = 'shardId-000000000001';

const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 10_000, maxFutureSkewMs: 3_600_000 },
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: MIN }, aggregate: 'count' },
    { name: 'sum_2m', window: { type: 'tumbling', sizeMs: 2 * MIN }, aggregate: 'sum', field: 'amount' },
  ],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: 86_400_000, windowMs: MIN },
});
const model = parseModel({ kind: 'logistic', version: 'm1', bias: -3, weights: { count_1m: 0.5, sum_2m: 0.02 }, threshold: 0.5 }, spec);

let emulators: Emulators;

beforeAll(async () => {
  emulators = await startEmulators({ services: ['kinesis', 'dynamodb', 'sqs', 's3'] });
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

interface Ev {
  readonly user: string;
  readonly ts: number;
  readonly amount: number;
  readonly id: string;
  /** Arrival, seconds after T0. */
  readonly arrivalS: number;
}

let seq = 0;
const toInput = (shard: string, evs: readonly Ev[]): InputRecord[] =>
  evs.map((e) => ({ data: Buffer.from(JSON.stringify({ user: e.user, ts: e.ts, amount: e.amount, id: e.id }), 'utf8'), shard, seq: String(1000 + ++seq), arrivalTime: T0 + e.arrivalS * 1000 }));

/** Independent of the store: PSI over ten equal score bins, empty bins floored at 1e-4. */
function psi(reference: readonly number[], current: readonly number[]): number {
  const shares = (xs: readonly number[]): number[] => {
    const c = new Array<number>(10).fill(0);
    for (const x of xs) c[Math.min(9, Math.floor(x * 10 + 1e-12))]! += 1;
    return c.map((v) => v / xs.length);
  };
  const r = shares(reference);
  const c = shares(current);
  return r.reduce((sum, rv, i) => {
    const a = Math.max(rv, 1e-4);
    const b = Math.max(c[i]!, 1e-4);
    return sum + (b - a) * Math.log(b / a);
  }, 0);
}

describe('evaluation windows across shards', () => {
  it('the close lag is the longest feature window (plus the correction horizon under "update")', () => {
    expect(evaluationCloseLagMs(spec)).toBe(2 * MIN);
    expect(evaluationCloseLagMs({ ...spec, latePolicy: 'update', correctionHorizonMs: 5 * MIN })).toBe(7 * MIN);
  });

  it('publishes a window provisionally once both shards passed its end, finally once no record of it can be scored, with a late-applied one', async () => {
    const env = await freshScoringEnv('ecs');
    const outcomes: BatchOutcome[] = [];
    const deliver = async (shard: string, evs: readonly Ev[]): Promise<BatchOutcome> => {
      const o = await deliverScored(env, toInput(shard, evs), { spec, model });
      outcomes.push(o);
      return o;
    };
    const at = (s: number): number => T0 + s * 1000;
    // Shard B scores one prediction of window [T0, T0+1m), then falls behind.
    await deliver(B, [{ user: 'b1', ts: at(2), amount: 10, id: 'b-0', arrivalS: 3 }]);
    // Shard A: six predictions in window 0 (a1's counts rise: rising scores), then its watermark (T0+70s) passes
    // the window's end. The old rule closed the window here, with A's predictions only.
    const aPassed = await deliver(A, [
      ...[1, 8, 15, 22, 29, 36].map((s, i) => ({ user: i < 4 ? 'a1' : `a${i}`, ts: at(s), amount: 20 * (i + 1), id: `a-${s}`, arrivalS: s + 1 })),
      { user: 'a9', ts: at(80), amount: 5, id: 'a-80', arrivalS: 81 },
    ]);
    expect(aPassed.scoring!.closed, 'B has not passed the window').toEqual([]);
    // B's other predictions of window 0, one of window 1, and B passes window 0's end (T0+65s): provisional.
    const bPassed = await deliver(B, [
      { user: 'b1', ts: at(12), amount: 50, id: 'b-12', arrivalS: 84 },
      { user: 'b2', ts: at(40), amount: 400, id: 'b-40', arrivalS: 85 },
      { user: 'b2', ts: at(70), amount: 1, id: 'b-70', arrivalS: 86 },
      { user: 'b3', ts: at(75), amount: 1, id: 'b-75', arrivalS: 87 },
    ]);
    // A record of window 0 arriving after A's watermark made its one-minute window final: late for count_1m,
    // applied to sum_2m, so scored; then A's watermark passes window 1's end by the close lag.
    const lateApplied = await deliver(A, [
      { user: 'a1', ts: at(55), amount: 300, id: 'a-55-late', arrivalS: 90 },
      { user: 'a9', ts: at(100), amount: 5, id: 'a-100', arrivalS: 100 },
      { user: 'a9', ts: at(320), amount: 5, id: 'a-320', arrivalS: 321 },
    ]);
    expect(lateApplied.counters.late, 'the late record is late for one feature').toBeGreaterThan(0);
    expect(lateApplied.scoring!.predictions.map((p) => p.eventId)).toContain('a-55-late');
    expect(lateApplied.scoring!.closed, 'B is not past window 1, nor past window 0 by the lag').toEqual([]);
    // B passes both windows by the lag: both final (window 1 was never provisional: it goes straight to final).
    const last = await deliver(B, [{ user: 'b3', ts: at(330), amount: 1, id: 'b-330', arrivalS: 333 }]);

    const all: Prediction[] = outcomes.flatMap((o) => o.scoring!.predictions);
    const inWindow = (w: number, before = Infinity): Prediction[] => all.filter((p) => p.eventTime >= w && p.eventTime < w + MIN && (p.arrivalTime ?? 0) < before);
    const rate = (ps: readonly Prediction[]): number => ps.filter((p) => p.score >= 0.5).length / ps.length;
    const provisional = bPassed.scoring!.closed;
    expect(provisional.map((c) => [c.windowStart, c.stage])).toEqual([[T0, 'provisional']]);
    const onTime = inWindow(T0, at(88));
    expect(onTime.length).toBe(9);
    expect(provisional[0]!.predictions).toBe(9);
    expect(provisional[0]!.positiveRate).toBeCloseTo(rate(onTime), 12);

    const closed = new Map<number, ClosedWindow>(last.scoring!.closed.map((c) => [c.windowStart, c]));
    expect([...closed.values()].map((c) => [c.windowStart, c.stage])).toEqual([
      [T0, 'final'],
      [T0 + MIN, 'final'],
    ]);
    const w0 = inWindow(T0);
    const w1 = inWindow(T0 + MIN);
    expect(w0.length).toBe(10);
    expect(new Set(w0.map((p) => p.eventId.slice(0, 1)))).toEqual(new Set(['a', 'b']));
    for (const [start, preds] of [
      [T0, w0],
      [T0 + MIN, w1],
    ] as const) {
      const c = closed.get(start)!;
      expect(c.predictions, `predictions of window ${start}`).toBe(preds.length);
      expect(c.positiveRate).toBeCloseTo(rate(preds), 12);
      // Estimated before labels: Σ score of the positives over their number, and over Σ of every score.
      const positives = preds.filter((p) => p.positive);
      const sum = (ps: readonly Prediction[]): number => ps.reduce((a, p) => a + p.score, 0);
      if (positives.length === 0) expect(c.estimatedPrecision).toBeNull();
      else expect(c.estimatedPrecision).toBeCloseTo(sum(positives) / positives.length, 12);
      expect(c.estimatedRecall).toBeCloseTo(sum(positives) / sum(preds), 12);
    }
    // Each feature's drift, with the final figures: its values in bins of powers of two, window 1 against window 0.
    const valueBin = (v: number | null): number => (v === null ? 0 : v < 0 ? 1 : v === 0 ? 2 : v < 1 ? 3 : 4 + Math.min(9, Math.floor(Math.log2(v))));
    const featureShares = (ps: readonly Prediction[], f: string): number[] => {
      const c = new Array<number>(14).fill(0);
      for (const p of ps) c[valueBin(p.features[f]!.value)]! += 1;
      return c.map((x) => x / ps.length);
    };
    const psiOfShares = (r: readonly number[], c: readonly number[]): number => r.reduce((a, rv, i) => a + (Math.max(c[i]!, 1e-4) - Math.max(rv, 1e-4)) * Math.log(Math.max(c[i]!, 1e-4) / Math.max(rv, 1e-4)), 0);
    for (const f of model.features) {
      expect(closed.get(T0)!.featurePsi![f]).toBe(0);
      expect(closed.get(T0 + MIN)!.featurePsi![f], f).toBeCloseTo(psiOfShares(featureShares(w0, f), featureShares(w1, f)), 12);
    }
    expect(provisional[0]!.featurePsi).toBeUndefined();
    // Window 0 is the reference (the first closed); window 1's PSI is against all of window 0's scores.
    expect(closed.get(T0)!.psi).toBe(0);
    expect(closed.get(T0 + MIN)!.psi).toBeCloseTo(
      psi(
        w0.map((p) => p.score),
        w1.map((p) => p.score),
      ),
      12,
    );
  }, 120_000);

  it('publishes the same figures under crashes before any write of any batch, each retried', async () => {
    const at = (x: number): number => T0 + x * 1000;
    const batches: Array<[string, Ev[]]> = [
      [B, [{ user: 'b1', ts: at(2), amount: 10, id: 'b-0', arrivalS: 3 }]],
      [A, [...[1, 8, 15, 22, 29, 36].map((x, i) => ({ user: i < 4 ? 'a1' : `a${i}`, ts: at(x), amount: 20 * (i + 1), id: `a-${x}`, arrivalS: x + 1 })), { user: 'a9', ts: at(80), amount: 5, id: 'a-80', arrivalS: 81 }]],
      [B, [{ user: 'b1', ts: at(12), amount: 50, id: 'b-12', arrivalS: 84 }, { user: 'b2', ts: at(40), amount: 400, id: 'b-40', arrivalS: 85 }, { user: 'b2', ts: at(70), amount: 1, id: 'b-70', arrivalS: 86 }, { user: 'b3', ts: at(75), amount: 1, id: 'b-75', arrivalS: 87 }]],
      [A, [{ user: 'a1', ts: at(55), amount: 300, id: 'a-55-late', arrivalS: 90 }, { user: 'a9', ts: at(100), amount: 5, id: 'a-100', arrivalS: 100 }, { user: 'a9', ts: at(320), amount: 5, id: 'a-320', arrivalS: 321 }]],
      [B, [{ user: 'b3', ts: at(330), amount: 1, id: 'b-330', arrivalS: 333 }]],
    ];
    /** Runs the batches, the i-th crashed before its write crashAt(i) and retried whole; returns every figure published. */
    const run = async (crashAt: (i: number) => number): Promise<{ published: Map<string, ClosedWindow[]>; crashes: number }> => {
      const env = await freshScoringEnv('ecc');
      const published = new Map<string, ClosedWindow[]>();
      // Records what the consumer would publish: closing figures go out before the windows are marked.
      class Publishing extends EvaluationStore {
        public override closeWindows(bounds: Parameters<EvaluationStore['closeWindows']>[0]): Promise<ClosedWindow[]> {
          return super.closeWindows(bounds, (closed) => {
            for (const c of closed) published.set(`${c.windowStart} ${c.stage}`, [...(published.get(`${c.windowStart} ${c.stage}`) ?? []), c]);
          });
        }
      }
      let crashes = 0;
      let seq = 0;
      for (const [i, [shard, evs]] of batches.entries()) {
        const input = evs.map((e) => ({ data: Buffer.from(JSON.stringify({ user: e.user, ts: e.ts, amount: e.amount, id: e.id }), 'utf8'), shard, seq: String(5000 + ++seq), arrivalTime: T0 + e.arrivalS * 1000 }));
        const store = (gate?: ReturnType<typeof failAt>): EvaluationStore => new Publishing({ client: env.dynamo, tableName: env.predictionsTable, evaluation: spec.evaluation!, ...(gate ? { writeGate: gate } : {}) });
        const gate = failAt(crashAt(i));
        try {
          await deliverScored(env, input, { spec, model, gate, evaluation: store(gate) });
        } catch (e) {
          if (!(e instanceof InjectedFault)) throw e;
          crashes++;
          await deliverScored(env, input, { spec, model, evaluation: store() });
        }
      }
      return { published, crashes };
    };
    const clean = await run(() => Infinity);
    expect([...clean.published.keys()].sort()).toEqual([`${T0} final`, `${T0} provisional`, `${T0 + MIN} final`]);
    for (const seed of [1, 2, 3]) {
      const crashed = await run((i) => (seed * 7 + i * 5) % 14);
      expect(crashed.crashes, `seed ${seed}`).toBeGreaterThan(0);
      // Every figure published at least once, and every repeat (a crash between publishing and marking) the same.
      expect([...crashed.published.keys()].sort(), `seed ${seed}`).toEqual([...clean.published.keys()].sort());
      for (const [k, list] of crashed.published) for (const c of list) expect(c, `${k}, seed ${seed}`).toEqual(clean.published.get(k)![0]);
    }
  }, 180_000);
});

