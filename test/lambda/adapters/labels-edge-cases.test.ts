/**
 * Labels edge cases against the emulators (dynalite, fauxqs): a prediction whose window the scoring side closed
 * but the label clock has not made final, a label whose predictionId and eventId disagree, huge and non-UTF-8
 * payloads, and a batch mixing labels shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import type { InputRecord } from '../../../lambda/core/results';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { deliverLabels, evaluationSnapshot, evaluationStore, freshEvaluationEnv, putPrediction } from '../../support/evaluation-env';
import { DAY, HOUR, SHARD, T0 } from '../../support/label-reference';

let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

const FEATURE_SHARD = 'shardId-000000000000';
const OTHER_SHARD = 'shardId-000000000002';
const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts' },
  watermark: { allowedLatenessMs: 0 },
  features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
  scoring: { model: 'model.json' },
  evaluation: { windowMs: HOUR, labelWindowMs: DAY, unlabeled: 'negative' },
});
const arrival = T0 + 2 * DAY;
const rec = (payload: string | Uint8Array, seq: string, shard = SHARD): InputRecord => ({ data: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, shard, seq, arrivalTime: arrival });

describe('labels edge cases', () => {
  it('a label for a prediction whose window was closed by the watermark but is not final joins and is counted', async () => {
    const env = await freshEvaluationEnv('le');
    await putPrediction(env, spec, { eventId: 'e1', key: 'u1', eventTime: T0 + 60_000, score: 0.9, positive: true });
    const store = evaluationStore(env, spec);
    await store.addPredictions(FEATURE_SHARD, [{ seq: '1', eventTime: T0 + 60_000, score: 0.9, positive: true }]);
    const closed = await store.closeWindows(T0 + 2 * HOUR);
    expect(closed.map((w) => w.windowStart)).toEqual([T0]);
    const o = await deliverLabels(env, spec, [rec(JSON.stringify({ eventId: 'e1', key: 'u1', label: true, labelTime: T0 + 3 * HOUR }), '10')]);
    expect(o.counters.joined).toBe(1);
    expect(o.counters.counted).toBe(1);
    const snap = await evaluationSnapshot(env);
    expect(snap.windows[`evaluation#${T0}`]).toMatchObject({ closed: true, tp: 1 });
    expect(snap.deadLetters).toEqual([]);
  });

  it('rejects by name a label whose predictionId and eventId disagree, a payload over 256 KiB and one that is not UTF-8', async () => {
    const env = await freshEvaluationEnv('le');
    await putPrediction(env, spec, { eventId: 'e1', key: 'u1', eventTime: T0 + 60_000, score: 0.9, positive: true });
    await putPrediction(env, spec, { eventId: 'e2', key: 'u1', eventTime: T0 + 60_000, score: 0.9, positive: true });
    const huge = JSON.stringify({ eventId: 'e1', key: 'u1', label: true, labelTime: T0 + HOUR, pad: 'x'.repeat(300 * 1024) });
    const notUtf8 = Buffer.concat([Buffer.from('{"eventId":"e1","key":"u1","label":true,"labelTime":1,"note":"', 'utf8'), Buffer.from([0xc3, 0x28]), Buffer.from('"}', 'utf8')]);
    const o = await deliverLabels(env, spec, [
      rec(JSON.stringify({ predictionId: 'v1:e1', eventId: 'e2', key: 'u1', label: true, labelTime: T0 + HOUR }), '10'),
      rec(huge, '11'),
      rec(notUtf8, '12'),
    ]);
    expect(o.counters.invalid).toBe(3);
    expect(o.counters.joined).toBe(0);
    const snap = await evaluationSnapshot(env);
    expect(snap.deadLetters.map((d) => [d.sequenceNumber, d.reason, d.message])).toEqual([
      ['10', 'invalid', 'eventId "e2" differs from the event of predictionId "e1"'],
      ['11', 'invalid', `payload is ${Buffer.byteLength(huge)} bytes, over the 262144-byte limit`],
      ['12', 'invalid', 'payload is not valid UTF-8'],
    ]);
    expect(snap.predictions).toEqual({ e1: [undefined, undefined, undefined], e2: [undefined, undefined, undefined] });
  });

  it('a batch mixing two labels shards leaves the state that one batch per shard leaves', async () => {
    const seedEnv = async (): Promise<Awaited<ReturnType<typeof freshEvaluationEnv>>> => {
      const env = await freshEvaluationEnv('le');
      for (let i = 0; i < 4; i++) await putPrediction(env, spec, { eventId: `e${i}`, key: 'u1', eventTime: T0 + i * 60_000, score: i / 4, positive: i >= 2 });
      await evaluationStore(env, spec).addPredictions(FEATURE_SHARD, Array.from({ length: 4 }, (_, i) => ({ seq: String(i + 1), eventTime: T0 + i * 60_000, score: i / 4, positive: i >= 2 })));
      return env;
    };
    const labels = [
      rec(JSON.stringify({ eventId: 'e0', key: 'u1', label: false, labelTime: T0 + HOUR }), '10', SHARD),
      rec(JSON.stringify({ eventId: 'e1', key: 'u1', label: true, labelTime: T0 + HOUR }), '10', OTHER_SHARD),
      rec(JSON.stringify({ eventId: 'e2', key: 'u1', label: true, labelTime: T0 + 2 * HOUR }), '11', SHARD),
      rec(JSON.stringify({ eventId: 'e3', key: 'u1', label: false, labelTime: T0 + 2 * HOUR }), '11', OTHER_SHARD),
    ];
    const perShard = await seedEnv();
    await deliverLabels(perShard, spec, labels.filter((l) => l.shard === SHARD));
    await deliverLabels(perShard, spec, labels.filter((l) => l.shard === OTHER_SHARD));
    const mixed = await seedEnv();
    await deliverLabels(mixed, spec, labels);
    expect(await evaluationSnapshot(mixed)).toEqual(await evaluationSnapshot(perShard));
  });
});
