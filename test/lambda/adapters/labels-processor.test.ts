/**
 * The labels consumer's exactly-once effect against the emulators (dynalite, fauxqs): a crash before any one of a
 * batch's writes, then whole or bisected re-deliveries until it passes, leaves the prediction labels, the window
 * counts, the registry and the dead letters exactly as one clean delivery; and both equal the reference written
 * from the rules.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import type { InputRecord } from '../../../lambda/core/results';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import {
  type EvaluationEnv,
  type EvaluationSnapshot,
  InjectedFault,
  deliverLabels,
  evaluationSnapshot,
  evaluationStore,
  failAt,
  freshEvaluationEnv,
  putPrediction,
} from '../../support/evaluation-env';
import { DAY, HOUR, type RefLabel, SHARD, type Scenario, T0, reference, scenarioArb, seqOf } from '../../support/label-reference';

let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

const FEATURE_SHARD = 'shardId-000000000000';

function specOf(s: Pick<Scenario, 'windowMs' | 'labelWindowMs' | 'unlabeled'>): PipelineSpec {
  return parseSpec({
    source: { keyField: 'user', timeField: 'ts' },
    watermark: { allowedLatenessMs: 0 },
    features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
    scoring: { model: 'model.json' },
    evaluation: { windowMs: s.windowMs, labelWindowMs: s.labelWindowMs, unlabeled: s.unlabeled },
  });
}

const recordOf = (l: RefLabel): InputRecord => ({ data: Buffer.from(l.payload, 'utf8'), shard: SHARD, seq: l.seq, arrivalTime: l.arrivalTime });

/** A fresh table holding the scenario's predictions, counted into their windows as the scoring side counts them. */
async function seeded(s: Scenario, spec: PipelineSpec): Promise<EvaluationEnv> {
  const env = await freshEvaluationEnv('lb');
  for (const p of s.predictions) await putPrediction(env, spec, p);
  await evaluationStore(env, spec).addPredictions(FEATURE_SHARD, s.predictions.map((p, i) => ({ seq: seqOf(i), eventTime: p.eventTime, score: p.score, positive: p.positive })));
  return env;
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** The first generated scenario (seeded) whose labels reach every verdict and make a window final. */
function scenarioWithEveryVerdict(): Scenario {
  const samples = fc.sample(scenarioArb({ maxPredictions: 14, maxLabels: 40 }), { seed: 1313, numRuns: 500 });
  const found = samples.find((s) => {
    const r = reference(s);
    const reasons = new Set(r.deadLetters.map((x) => x.split(' ')[1]));
    return s.labels.length >= 24 && r.joined.size >= 4 && r.final.size >= 2 && r.duplicates > r.deadLetters.filter((x) => x.endsWith(' conflicting')).length && ['conflicting', 'future', 'invalid', 'late', 'unmatched'].every((x) => reasons.has(x));
  });
  if (!found) throw new Error('no scenario with every verdict among the samples');
  return found;
}

/** The stored state compared with the reference: which label joined which prediction, the dead letters' reasons, the final windows. */
function expectReference(s: Scenario, snap: EvaluationSnapshot): void {
  const ref = reference(s);
  for (const p of s.predictions) {
    const j = ref.joined.get(p.eventId);
    expect(snap.predictions[p.eventId], p.eventId).toEqual(j ? [j.label, j.labelTime, j.by] : [undefined, undefined, undefined]);
  }
  expect(snap.deadLetters.map((d) => `${String(d.sequenceNumber)} ${String(d.reason)}`).sort()).toEqual(ref.deadLetters);
  expect(snap.registry.clock).toBe(ref.clock ?? undefined);
  const finals = Object.entries(snap.windows).filter(([, w]) => w.final === true).map(([pk]) => Number(pk.slice('evaluation#'.length)));
  expect(finals.sort((a, b) => a - b)).toEqual([...ref.final.keys()].sort((a, b) => a - b));
  for (const [w, r] of ref.final) {
    const item = snap.windows[`evaluation#${w}`]!;
    expect(item.tp ?? 0).toBe(r.tp);
    expect(item.fn ?? 0).toBe(r.fn);
  }
}

describe('labels batches with injected crashes', () => {
  const s = scenarioWithEveryVerdict();
  const spec = specOf(s);
  const batches = chunks(s.labels, 10);
  let clean: EvaluationSnapshot;
  let mostWrites = 0;

  beforeAll(async () => {
    const env = await seeded(s, spec);
    for (const b of batches) {
      const gate = failAt(Infinity);
      await deliverLabels(env, spec, b.map(recordOf), gate);
      mostWrites = Math.max(mostWrites, gate.count());
    }
    clean = await evaluationSnapshot(env);
  }, 120_000);

  it('a clean run equals the reference and reaches every outcome', () => {
    expectReference(s, clean);
    expect(new Set(clean.deadLetters.map((d) => d.reason))).toEqual(new Set(['conflicting', 'future', 'invalid', 'late', 'unmatched']));
    expect(mostWrites).toBeGreaterThan(4);
  });

  it('a crash before the k-th write of every batch, for each k, then whole or bisected retries until it passes, leaves the clean state', async () => {
    const ks = Array.from({ length: mostWrites }, (_, k) => k);
    const runK = async (k: number): Promise<EvaluationSnapshot> => {
      const env = await seeded(s, spec);
      for (const b of batches) {
        const records = b.map(recordOf);
        const first = deliverLabels(env, spec, records, failAt(k));
        if (!(await first.then(() => false, (e: unknown) => { if (e instanceof InjectedFault) return true; throw e; }))) continue;
        if (k % 2 === 0) {
          await deliverLabels(env, spec, records);
        } else {
          // Lambda bisects: the first half crashes again earlier, is retried, then the second half passes.
          const mid = Math.ceil(records.length / 2);
          await deliverLabels(env, spec, records.slice(0, mid), failAt(k >> 1)).catch((e: unknown) => {
            if (!(e instanceof InjectedFault)) throw e;
          });
          await deliverLabels(env, spec, records.slice(0, mid));
          await deliverLabels(env, spec, records.slice(mid));
        }
      }
      return evaluationSnapshot(env);
    };
    for (let i = 0; i < ks.length; i += 4) {
      const snaps = await Promise.all(ks.slice(i, i + 4).map(runK));
      snaps.forEach((snap, j) => expect(snap, `crash before write ${ks[i + j]}`).toEqual(clean));
    }
  }, 300_000);
});

describe('write units', () => {
  it('a joined label costs one write unit on a prediction of six features', async () => {
    const spec = specOf({ windowMs: HOUR, labelWindowMs: DAY, unlabeled: 'negative' });
    const env = await freshEvaluationEnv('wu');
    const features = Object.fromEntries(['txn_count_5m', 'amount_sum_1h', 'amount_max_session', 'distinct_merchants_1h', 'amount_p90_1h', 'last_amount'].map((f, i) => [f, { value: 1234.5 + i, newestEventTime: T0 + 59_000, status: 'fresh' }]));
    const n = 40;
    for (let i = 0; i < n; i++) await putPrediction(env, spec, { eventId: `evt-${String(i).padStart(6, '0')}`, key: `user-${i % 7}`, eventTime: T0 + i * 60_000, score: i / n, positive: i >= n / 2, features });
    await evaluationStore(env, spec).addPredictions(FEATURE_SHARD, Array.from({ length: n }, (_, i) => ({ seq: String(i + 1), eventTime: T0 + i * 60_000, score: i / n, positive: i >= n / 2 })));
    const labels = Array.from({ length: n }, (_, i) => ({ data: Buffer.from(JSON.stringify({ predictionId: `v1:evt-${String(i).padStart(6, '0')}`, key: `user-${i % 7}`, label: i % 3 === 0, labelTime: T0 + 2 * HOUR })), shard: SHARD, seq: String(i + 1), arrivalTime: T0 + 2 * HOUR }));
    const o = await deliverLabels(env, spec, labels);
    expect(o.counters.joined).toBe(n);
    // 40 predictions (one UpdateItem each, items under 1 KB), the window, the clock: 42 units; nothing final.
    expect(o.writes).toBe(n + 2);
    expect(o.writeUnits).toBe(n + 2);
  });
});

describe('concurrent deliveries', () => {
  it('two deliveries of the same batch at once (a timed-out invocation and its retry) count each label once', async () => {
    const s = scenarioWithEveryVerdict();
    const spec = specOf(s);
    const cleanEnv = await seeded(s, spec);
    for (const b of chunks(s.labels, 10)) await deliverLabels(cleanEnv, spec, b.map(recordOf));
    const clean = await evaluationSnapshot(cleanEnv);

    const env = await seeded(s, spec);
    for (const b of chunks(s.labels, 10)) {
      const records = b.map(recordOf);
      const both = await Promise.allSettled([deliverLabels(env, spec, records), deliverLabels(env, spec, records)]);
      // A delivery may lose a prediction's condition to the other: it fails, and its retry below is harmless.
      for (const r of both) if (r.status === 'rejected') expect((r.reason as Error).name).toBe('EvaluationConflictError');
      await deliverLabels(env, spec, records);
    }
    expect(await evaluationSnapshot(env)).toEqual(clean);
  }, 120_000);
});

describe('labels against the reference on the emulators', () => {
  it('random scenarios, cuts and crashes', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ maxPredictions: 10, maxLabels: 30 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 10 }), async (s, size, crashes) => {
        const spec = specOf(s);
        const env = await seeded(s, spec);
        let i = 0;
        for (const b of chunks(s.labels, size)) {
          const records = b.map(recordOf);
          await deliverLabels(env, spec, records, failAt(crashes[i++ % crashes.length]!)).catch((e: unknown) => {
            if (!(e instanceof InjectedFault)) throw e;
          });
          await deliverLabels(env, spec, records);
        }
        expectReference(s, await evaluationSnapshot(env));
      }),
      { numRuns: 12 },
    );
  }, 300_000);
});

describe('rejections', () => {
  const spec = specOf({ windowMs: HOUR, labelWindowMs: DAY, unlabeled: 'negative' });
  const arrival = T0 + 2 * DAY;

  it('dead-letters every bad field by name, late, unmatched and conflicting labels with their reason and payload', async () => {
    const env = await freshEvaluationEnv('rj');
    await putPrediction(env, spec, { eventId: 'e1', key: 'u1', eventTime: T0 + 60_000, score: 0.9, positive: true });
    await putPrediction(env, spec, { eventId: 'e2', key: 'u2', eventTime: T0 + 120_000, score: 0.2, positive: false });
    await putPrediction(env, spec, { eventId: 'e3', key: 'u3', eventTime: T0 + 3 * HOUR, score: 0.7, positive: true });
    await evaluationStore(env, spec).addPredictions(FEATURE_SHARD, [
      { seq: '1', eventTime: T0 + 60_000, score: 0.9, positive: true },
      { seq: '2', eventTime: T0 + 120_000, score: 0.2, positive: false },
      { seq: '3', eventTime: T0 + 3 * HOUR, score: 0.7, positive: true },
    ]);
    const payloads: Array<[string, string, string | RegExp]> = [
      ['{"eventId": "e1", "key": "u1", label', 'invalid', /^payload is not valid JSON/],
      [JSON.stringify({ eventId: 'e1', label: true, labelTime: T0 }), 'invalid', 'key is missing'],
      [JSON.stringify({ key: 'u1', label: true, labelTime: T0 }), 'invalid', 'predictionId or eventId is required'],
      [JSON.stringify({ predictionId: 'e1', key: 'u1', label: true, labelTime: T0 }), 'invalid', /^predictionId must be "<model version>:<event id>"/],
      [JSON.stringify({ eventId: 'e1', key: 'u1', label: 'fraud', labelTime: T0 }), 'invalid', /^label must be true, false, 1 or 0/],
      [JSON.stringify({ eventId: 'e1', key: 'u1', label: true, labelTime: 'soon' }), 'invalid', /^labelTime must be epoch milliseconds or an ISO-8601/],
      [JSON.stringify({ eventId: 'e1', key: 'u1', label: true, labelTime: arrival + HOUR }), 'future', /^labelTime .* ahead of its arrival/],
      [JSON.stringify({ eventId: 'nope', key: 'u1', label: true, labelTime: T0 + HOUR }), 'unmatched', 'no prediction for eventId "nope" of key "u1"'],
      [JSON.stringify({ eventId: 'e1', key: 'u9', label: true, labelTime: T0 + HOUR }), 'unmatched', 'no prediction for eventId "e1" of key "u9"'],
      [JSON.stringify({ predictionId: 'v2:e1', key: 'u1', label: true, labelTime: T0 + HOUR }), 'unmatched', /model version "v2"/],
      [JSON.stringify({ eventId: 'e2', key: 'u2', label: true, labelTime: T0 + 120_000 + DAY + 1 }), 'late', /beyond labelWindowMs/],
      [JSON.stringify({ predictionId: 'v1:e1', key: 'u1', label: true, labelTime: T0 + HOUR }), '', ''],
      [JSON.stringify({ eventId: 'e1', key: 'u1', label: 1, labelTime: T0 + 2 * HOUR }), '', ''],
      [JSON.stringify({ eventId: 'e1', key: 'u1', label: false, labelTime: T0 + 2 * HOUR }), 'conflicting', /conflicts with the label true/],
      // Raises the clock past the first window's end plus a day: e2's window becomes final, so a label for it is late.
      [JSON.stringify({ eventId: 'e3', key: 'u3', label: false, labelTime: T0 + HOUR + DAY }), '', ''],
      [JSON.stringify({ eventId: 'e2', key: 'u2', label: false, labelTime: T0 + 20 * HOUR }), 'late', /evaluation window .* is final/],
    ];
    const records = payloads.map(([p], i) => ({ data: Buffer.from(p), shard: SHARD, seq: String(100 + i), arrivalTime: arrival }));
    const o = await deliverLabels(env, spec, records);
    expect(o.counters).toEqual({ labelsIn: 16, joined: 2, redelivered: 0, counted: 2, late: 2, unmatched: 3, invalid: 6, future: 1, duplicates: 2, conflicting: 1 });
    // Writes: one UpdateItem per label joined (2), per window counted into (2), the clock, and for the window made
    // final its flag, its labelled predictions into the calibration and its removal from the open set; the 13 dead
    // letters go in two SendMessageBatch requests.
    expect(o.writes).toBe(8);
    expect(o.deadLetters).toBe(13);
    const snap = await evaluationSnapshot(env);
    const expected = payloads.map(([p, reason, message], i) => ({ p, reason, message, seq: String(100 + i) })).filter((x) => x.reason !== '');
    expect(snap.deadLetters).toHaveLength(expected.length);
    for (const x of expected) {
      const d = snap.deadLetters.find((l) => l.sequenceNumber === x.seq)!;
      expect(d, x.p).toMatchObject({ reason: x.reason, shard: SHARD, payload: x.p, payloadEncoding: 'utf8', truncated: false });
      if (typeof x.message === 'string') expect(d.message).toBe(x.message);
      else expect(d.message).toMatch(x.message);
    }
    expect(snap.predictions).toEqual({ e1: [true, T0 + HOUR, `${SHARD}/111`], e2: [undefined, undefined, undefined], e3: [false, T0 + HOUR + DAY, `${SHARD}/114`] });
    // The first window (e1, e2) is final: precision 1 (e1), recall 1; e2 unlabeled counts as negative.
    expect(o.final.map((w) => [w.windowStart, w.metrics.precision, w.metrics.recall, w.metrics.predictions, w.metrics.trueNegatives])).toEqual([[T0, 1, 1, 2, 1]]);
  });
});
