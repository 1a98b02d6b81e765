/**
 * The scoring side of the evaluation store against dynalite: predictions counted into their windows once under
 * crashes, retries, bisected and repeated batches from two shards; windows closed by the watermark with their PSI
 * against the reference window and positive rate, once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { prng } from '../../../bin/bench/workload';
import type { PredictionCount } from '../../../lambda/adapters/evaluation-store';
import { binCounts, populationStabilityIndex } from '../../../lambda/core/evaluation';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import type { InputRecord } from '../../../lambda/core/results';
import { type EvaluationEnv, InjectedFault, deliverLabels, evaluationSnapshot, evaluationStore, failAt, freshEvaluationEnv, putPrediction } from '../../support/evaluation-env';
import { referenceEstimate } from '../../support/calibration-reference';
import { DAY, HOUR, SHARD, T0, seqOf } from '../../support/label-reference';

let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

const specWith = (evaluation: Record<string, unknown> = {}): PipelineSpec =>
  parseSpec({
    source: { keyField: 'user', timeField: 'ts' },
    watermark: { allowedLatenessMs: 0 },
    features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
    scoring: { model: 'model.json' },
    evaluation: { labelWindowMs: 6 * HOUR, ...evaluation },
  });
const spec = specWith();

/** Predictions of one shard over three hours; the third hour's scores drift upward. */
function predictions(n: number, seed: number): PredictionCount[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const eventTime = T0 + Math.floor((i / n) * 3 * HOUR);
    const drift = eventTime >= T0 + 2 * HOUR ? 0.5 : 0;
    const score = Math.min(0.999, rnd() * 0.5 + drift);
    return { seq: seqOf(i), eventTime, score, positive: score >= 0.5 };
  });
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

describe('addPredictions', () => {
  const shards = { a: predictions(60, 1), b: predictions(45, 2) };
  // The two shards' batches interleaved, as two consumers would write them.
  const [ca, cb] = [chunks(shards.a, 12), chunks(shards.b, 9)];
  const batches = ca.flatMap((b, i) => [['A', b] as const, ...(cb[i] ? [['B', cb[i]] as const] : [])]);
  let clean: Awaited<ReturnType<typeof evaluationSnapshot>>;
  let mostWrites = 0;

  beforeAll(async () => {
    const env = await freshEvaluationEnv('ap');
    for (const [shard, b] of batches) {
      const gate = failAt(Infinity);
      expect(await evaluationStore(env, spec, gate).addPredictions(shard, b)).toBe(b.length);
      mostWrites = Math.max(mostWrites, gate.count());
    }
    clean = await evaluationSnapshot(env);
  });

  it('counts each prediction once into its window, by a direct count', () => {
    const all = [...shards.a, ...shards.b];
    for (let h = 0; h < 3; h++) {
      const inWindow = all.filter((p) => p.eventTime >= T0 + h * HOUR && p.eventTime < T0 + (h + 1) * HOUR);
      const w = clean.windows[`evaluation#${T0 + h * HOUR}`]!;
      expect(w.n).toBe(inWindow.length);
      expect(w.pos ?? 0).toBe(inWindow.filter((p) => p.positive).length);
      expect(Array.from({ length: 10 }, (_, i) => (w[`s${i}`] as number | undefined) ?? 0)).toEqual(binCounts(inWindow.map((p) => p.score)));
      expect(Object.keys(w).filter((k) => k.startsWith('pck:')).sort()).toEqual(['pck:A', 'pck:B']);
    }
    expect(clean.registry.open).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR]);
  });

  it('a crash before the k-th write, for each k, then whole or bisected retries and a repeated batch, count nothing twice', async () => {
    const runK = async (k: number): Promise<void> => {
      const env: EvaluationEnv = await freshEvaluationEnv('apk');
      for (const [shard, b] of batches) {
        const crashed = await evaluationStore(env, spec, failAt(k)).addPredictions(shard, b).then(
          () => false,
          (e: unknown) => {
            if (e instanceof InjectedFault) return true;
            throw e;
          },
        );
        if (crashed && k % 2 === 1) {
          const mid = Math.ceil(b.length / 2);
          await evaluationStore(env, spec).addPredictions(shard, b.slice(0, mid));
          await evaluationStore(env, spec).addPredictions(shard, b.slice(mid));
        } else if (crashed) {
          await evaluationStore(env, spec).addPredictions(shard, b);
        }
        // At-least-once: the batch comes again after it passed, and counts nothing.
        if (k % 3 === 0) expect(await evaluationStore(env, spec).addPredictions(shard, b)).toBe(0);
      }
      expect(await evaluationSnapshot(env), `crash before write ${k}`).toEqual(clean);
    };
    const ks = Array.from({ length: mostWrites }, (_, k) => k);
    for (let i = 0; i < ks.length; i += 3) await Promise.all(ks.slice(i, i + 3).map(runK));
    expect(mostWrites).toBeGreaterThanOrEqual(3);
  }, 180_000);
});

describe('closeWindows', () => {
  it('closes each window once the watermark passes its end, with PSI against the first window closed', async () => {
    const env = await freshEvaluationEnv('cw');
    const preds = predictions(90, 3);
    await evaluationStore(env, spec).addPredictions('A', preds);
    const store = evaluationStore(env, spec);
    expect(await store.closeWindows(T0 + HOUR - 1)).toEqual([]);
    const first = await store.closeWindows(T0 + 2 * HOUR);
    const scores = (h: number) => preds.filter((p) => p.eventTime >= T0 + h * HOUR && p.eventTime < T0 + (h + 1) * HOUR).map((p) => p.score);
    expect(first.map((w) => [w.windowStart, w.reference, w.predictions])).toEqual([
      [T0, T0, 30],
      [T0 + HOUR, T0, 30],
    ]);
    expect(first[0]!.psi).toBe(0);
    expect(first[1]!.psi).toBeCloseTo(populationStabilityIndex(scores(0), scores(1)), 12);
    expect(first[1]!.psi!).toBeLessThan(0.2);
    // Closed windows are not closed again, by this store or by a new one (which reads their flag).
    expect(await store.closeWindows(T0 + 2 * HOUR)).toEqual([]);
    const drifted = await evaluationStore(env, spec).closeWindows(T0 + 3 * HOUR);
    expect(drifted.map((w) => w.windowStart)).toEqual([T0 + 2 * HOUR]);
    expect(drifted[0]!.psi).toBeCloseTo(populationStabilityIndex(scores(0), scores(2)), 12);
    expect(drifted[0]!.psi!).toBeGreaterThan(0.2);
    expect(drifted[0]!.positiveRate).toBe(scores(2).filter((s) => s >= 0.5).length / 30);
    expect((await evaluationSnapshot(env)).registry.reference).toBe(T0);
  });

  it('hands the figures out before marking a window closed: a crash in between repeats them on the retry, never loses them', async () => {
    const env = await freshEvaluationEnv('cm');
    await evaluationStore(env, spec).addPredictions('A', predictions(60, 5));
    const seen: number[][] = [];
    const record = (closed: readonly { windowStart: number }[]): void => void seen.push(closed.map((w) => w.windowStart));
    // The first write of closing is the registry's reference, the second the first window's closed flag.
    await expect(evaluationStore(env, spec, failAt(1)).closeWindows(T0 + 2 * HOUR, record)).rejects.toBeInstanceOf(InjectedFault);
    expect(seen).toEqual([[T0, T0 + HOUR]]);
    const retried = await evaluationStore(env, spec).closeWindows(T0 + 2 * HOUR, record);
    expect(retried.map((w) => w.windowStart)).toEqual([T0, T0 + HOUR]);
    expect(seen).toEqual([[T0, T0 + HOUR], [T0, T0 + HOUR]]);
    expect(await evaluationStore(env, spec).closeWindows(T0 + 2 * HOUR, record)).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('hands a final window out before it leaves the open set: a crash in between repeats its measures, never loses them', async () => {
    const env = await freshEvaluationEnv('fm');
    await evaluationStore(env, spec).addPredictions('A', predictions(30, 7));
    const seen: number[][] = [];
    const record = (final: readonly { windowStart: number }[]): void => void seen.push(final.map((w) => w.windowStart));
    // The label clock past the first window's end plus its label window: that window alone is due.
    await evaluationStore(env, spec).raiseClock(T0 + HOUR + spec.evaluation!.labelWindowMs);
    // Its writes: the window's final flag, then (after the figures are handed out) the calibration and the registry's open set.
    await expect(evaluationStore(env, spec, failAt(1)).finalizeWindows(record)).rejects.toBeInstanceOf(InjectedFault);
    expect(seen).toEqual([[T0]]);
    expect((await evaluationStore(env, spec).finalizeWindows(record)).map((w) => w.windowStart)).toEqual([T0]);
    expect(seen).toEqual([[T0], [T0]]);
    expect(await evaluationStore(env, spec).finalizeWindows(record)).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('uses the spec reference window when it names one', async () => {
    const env = await freshEvaluationEnv('cr');
    const s = specWith({ referenceWindowStart: T0 + 2 * HOUR });
    await evaluationStore(env, s).addPredictions('A', predictions(90, 3));
    const closed = await evaluationStore(env, s).closeWindows(T0 + 3 * HOUR);
    expect(closed.map((w) => [w.reference, w.psi === 0])).toEqual([
      [T0 + 2 * HOUR, false],
      [T0 + 2 * HOUR, false],
      [T0 + 2 * HOUR, true],
    ]);
    expect(closed[0]!.psi!).toBeGreaterThan(0.2);
  });
});

describe('calibration of the estimate before labels', () => {
  it('fits on the windows whose labels are final, once each under a crash, and estimates later windows with it; a final window publishes the estimate it closed with', async () => {
    const env = await freshEvaluationEnv('cal');
    const rnd = prng(11);
    // The first hour: confident scores, a fifth of them right (the fraud example's shape), labelled.
    const first = Array.from({ length: 40 }, (_, i) => {
      const score = i < 20 ? 0.95 + rnd() * 0.049 : rnd() * 0.3;
      return { seq: seqOf(i), eventId: `a${i}`, key: `k${i}`, eventTime: T0 + i * 60_000, score, positive: score >= 0.5, label: i < 20 ? i % 5 === 0 : rnd() < 0.05 };
    });
    for (const p of first) await putPrediction(env, spec, p);
    await evaluationStore(env, spec).addPredictions('A', first);
    const [closedFirst] = await evaluationStore(env, spec).closeWindows(T0 + HOUR);
    // Nothing final yet: the scores are taken as probabilities.
    expect(closedFirst).toMatchObject({ windowStart: T0, estimatedCalibratedOn: 0, estimatedRocAuc: null });
    expect(closedFirst!.estimatedPrecision!).toBeGreaterThan(0.9);
    const arrival = T0 + 10 * DAY;
    const rec = (doc: object, seq: string): InputRecord => ({ data: Buffer.from(JSON.stringify(doc), 'utf8'), shard: SHARD, seq, arrivalTime: arrival });
    const labels = first.map((p, i) => rec({ eventId: p.eventId, key: p.key, label: p.label, labelTime: p.eventTime + HOUR }, String(i + 1)));
    // A label past the first window's end + label window makes it final (an unmatched one raises the clock too).
    const clockLabel = rec({ eventId: 'none', key: 'none', label: false, labelTime: T0 + HOUR + spec.evaluation!.labelWindowMs }, '100');
    // The first delivery crashes after the calibration write, before the window leaves the open set: the retry must not add it twice.
    let crashed = false;
    const gate = (what: string): void => {
      if (!crashed && what === 'UpdateItem registry open windows') {
        crashed = true;
        throw new InjectedFault(what);
      }
    };
    await expect(deliverLabels(env, spec, [...labels, clockLabel], gate)).rejects.toBeInstanceOf(InjectedFault);
    const outcome = await deliverLabels(env, spec, [...labels, clockLabel]);
    const finalFirst = outcome.final.find((w) => w.windowStart === T0)!;
    // Side by side: the estimate it closed with, and the realized precision.
    expect(finalFirst.estimated).toEqual({ precision: closedFirst!.estimatedPrecision, recall: closedFirst!.estimatedRecall, rocAuc: null, calibratedOn: 0 });
    expect(finalFirst.metrics.precision).toBeCloseTo(4 / 20, 12);
    const calibration = await evaluationStore(env, spec).getCalibration();
    expect(calibration).toMatchObject({ through: T0, windows: 1 });
    expect(calibration.positives.reduce((a, b) => a + b) + calibration.negatives.reduce((a, b) => a + b)).toBe(40);

    // A later window: estimated with the map fitted on the first, as the reference computes it from the raw pairs.
    const later = Array.from({ length: 30 }, (_, i) => {
      const score = i < 12 ? 0.95 + rnd() * 0.049 : rnd() * 0.4;
      return { seq: seqOf(100 + i), eventTime: T0 + 8 * HOUR + i * 60_000, score, positive: score >= 0.5 };
    });
    await evaluationStore(env, spec).addPredictions('A', later);
    const [closedLater] = await evaluationStore(env, spec).closeWindows(T0 + 9 * HOUR);
    const want = referenceEstimate(first, later.map((p) => p.score), 0.5)!;
    expect(closedLater).toMatchObject({ windowStart: T0 + 8 * HOUR, estimatedCalibratedOn: 40 });
    expect(closedLater!.estimatedPrecision!).toBeCloseTo(want.precision!, 12);
    expect(closedLater!.estimatedRecall!).toBeCloseTo(want.recall!, 12);
    expect(closedLater!.estimatedRocAuc!).toBeCloseTo(want.rocAuc!, 12);
    expect(closedLater!.estimatedPrecision!).toBeLessThan(0.5);
  });
});
