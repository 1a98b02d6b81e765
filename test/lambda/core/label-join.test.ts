import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binCounts, populationStabilityIndex, populationStabilityIndexOfCounts } from '../../../lambda/core/evaluation';
import {
  DEFAULT_LABEL_FUTURE_SKEW_MS,
  type StoredPrediction,
  addLabel,
  addPrediction,
  delayBinUpperMs,
  delayQuantileMs,
  emptyCounts,
  evaluationWindowStart,
  judgeLabels,
  labelDelayBin,
  labelVerdict,
  parseLabel,
  windowDeltas,
  windowMetrics,
  predictionRef,
} from '../../../lambda/core/label-join';
import { parseSpec } from '../../../lambda/core/spec';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const spec = parseSpec({
  source: { keyField: 'user', timeField: 'ts' },
  watermark: { allowedLatenessMs: 5_000 },
  features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: 7 * DAY },
});
const ev = spec.evaluation!;
const ARRIVAL = T0 + 3 * DAY;

describe('label parsing', () => {
  const ok = { predictionId: 'v1:e1', key: 'u1', label: true, labelTime: T0 + DAY };

  it('reads predictionId or eventId, boolean or 0/1 labels, epoch or ISO label times', () => {
    expect(parseLabel(JSON.stringify(ok), ARRIVAL, spec)).toEqual({ ok: true, label: { eventId: 'e1', modelVersion: 'v1', key: 'u1', label: true, labelTime: T0 + DAY } });
    const byEvent = parseLabel(JSON.stringify({ eventId: 'shardId-0/42', key: 7, label: 0, labelTime: '2026-01-02T00:00:00Z' }), ARRIVAL, spec);
    expect(byEvent).toEqual({ ok: true, label: { eventId: 'shardId-0/42', modelVersion: undefined, key: '7', label: false, labelTime: T0 + DAY } });
    // Both given and agreeing; an event id holding colons keeps them (the model version stops at the first).
    expect(parseLabel(JSON.stringify({ ...ok, predictionId: 'm-2.1:a:b', eventId: 'a:b' }), ARRIVAL, spec)).toMatchObject({ ok: true, label: { eventId: 'a:b', modelVersion: 'm-2.1' } });
    expect(parseLabel(Buffer.from(JSON.stringify(ok)), ARRIVAL, spec).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{"key": "u1", label', 'payload', /not valid JSON/],
    ['an array', '[1,2]', 'payload', /must be a JSON object, got an array/],
    ['no key', JSON.stringify({ ...ok, key: undefined }), 'key', /key is missing/],
    ['an empty key', JSON.stringify({ ...ok, key: '' }), 'key', /key must be a non-empty string or a finite number, got the string ""/],
    ['a key object', JSON.stringify({ ...ok, key: { a: 1 } }), 'key', /key must be .* got an object/],
    ['neither id', JSON.stringify({ key: 'u1', label: true, labelTime: T0 }), 'predictionId', /predictionId or eventId is required/],
    ['a predictionId without model version', JSON.stringify({ ...ok, predictionId: 'e1' }), 'predictionId', /"<model version>:<event id>"/],
    ['a predictionId with a bad model version', JSON.stringify({ ...ok, predictionId: 'v 1:e1' }), 'predictionId', /"<model version>:<event id>"/],
    ['a predictionId without event', JSON.stringify({ ...ok, predictionId: 'v1:' }), 'predictionId', /"<model version>:<event id>"/],
    ['an eventId of another event', JSON.stringify({ ...ok, eventId: 'e2' }), 'eventId', /eventId "e2" differs from the event of predictionId "e1"/],
    ['an eventId of the wrong type', JSON.stringify({ key: 'u1', eventId: true, label: true, labelTime: T0 }), 'eventId', /eventId must be a non-empty string or a finite number, got true/],
    ['no label', JSON.stringify({ ...ok, label: undefined }), 'label', /label is missing/],
    ['a label "yes"', JSON.stringify({ ...ok, label: 'yes' }), 'label', /label must be true, false, 1 or 0, got the string "yes"/],
    ['a label 2', JSON.stringify({ ...ok, label: 2 }), 'label', /got 2/],
    ['no labelTime', JSON.stringify({ ...ok, labelTime: undefined }), 'labelTime', /labelTime is missing/],
    ['a labelTime that is no date', JSON.stringify({ ...ok, labelTime: 'yesterday' }), 'labelTime', /labelTime must be epoch milliseconds or an ISO-8601 date-time/],
    ['a labelTime on a day that does not exist', JSON.stringify({ ...ok, labelTime: '2026-02-30T00:00:00Z' }), 'labelTime', /labelTime must be/],
  ])('rejects %s as invalid, naming the field', (_name, payload, field, message) => {
    const r = parseLabel(payload, ARRIVAL, spec);
    expect(r).toMatchObject({ ok: false, reason: 'invalid', field });
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('rejects bytes that are not UTF-8 and payloads over the limit', () => {
    expect(parseLabel(Buffer.from([0x7b, 0xff, 0x7d]), ARRIVAL, spec)).toMatchObject({ ok: false, reason: 'invalid', field: 'payload', message: 'payload is not valid UTF-8' });
    expect(parseLabel(`{"key":"${'k'.repeat(300_000)}"}`, ARRIVAL, spec)).toMatchObject({ ok: false, reason: 'invalid', field: 'payload' });
  });

  it('rejects a label time more than the skew ahead of its arrival as future (5 minutes without watermark.maxFutureSkewMs)', () => {
    const at = (t: number) => JSON.stringify({ ...ok, labelTime: t });
    expect(parseLabel(at(ARRIVAL + DEFAULT_LABEL_FUTURE_SKEW_MS), ARRIVAL, spec).ok).toBe(true);
    const r = parseLabel(at(ARRIVAL + DEFAULT_LABEL_FUTURE_SKEW_MS + 1), ARRIVAL, spec);
    expect(r).toMatchObject({ ok: false, reason: 'future', field: 'labelTime', key: 'u1', labelTime: ARRIVAL + DEFAULT_LABEL_FUTURE_SKEW_MS + 1 });
    const tight = { ...spec, watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 1_000 } };
    expect(parseLabel(at(ARRIVAL + 1_001), ARRIVAL, tight)).toMatchObject({ ok: false, reason: 'future' });
    // Without an arrival time there is nothing to compare with.
    expect(parseLabel(at(ARRIVAL + DAY), undefined, spec).ok).toBe(true);
  });
});

describe('the join verdict', () => {
  const p: StoredPrediction = { eventId: 'e1', key: 'u1', modelVersion: 'v1', eventTime: T0 + 10 * 60_000, window: T0, score: 0.9, positive: true };
  const label = { eventId: 'e1', modelVersion: 'v1' as string | undefined, key: 'u1', label: true, labelTime: T0 + DAY };
  const verdict = (o: Partial<typeof label>, pred: StoredPrediction | null = p, clock: number | null = null, final = false) => labelVerdict({ ...label, ...o }, 's/9', pred ?? undefined, clock, final, ev).verdict;

  it('names each outcome', () => {
    expect(verdict({})).toBe('joined');
    expect(verdict({}, null)).toBe('unmatched');
    expect(verdict({ key: 'u2' })).toBe('unmatched');
    expect(verdict({ modelVersion: 'v2' })).toBe('unmatched');
    expect(verdict({ modelVersion: undefined })).toBe('joined');
    expect(verdict({ labelTime: p.eventTime + ev.labelWindowMs })).toBe('joined');
    expect(verdict({ labelTime: p.eventTime + ev.labelWindowMs + 1 })).toBe('late');
    expect(verdict({}, { ...p, label: true, labeledBy: 's/3' })).toBe('duplicate');
    expect(verdict({}, { ...p, label: false, labeledBy: 's/3' })).toBe('conflicting');
    expect(verdict({}, { ...p, label: false, labeledBy: 's/9' })).toBe('joined');
    // The window is final once the clock reaches its end plus the label window, or its item says so.
    expect(verdict({}, p, T0 + HOUR + ev.labelWindowMs - 1)).toBe('joined');
    expect(verdict({}, p, T0 + HOUR + ev.labelWindowMs)).toBe('late');
    expect(verdict({}, p, null, true)).toBe('late');
  });

  it('a re-delivered record keeps its verdict though its first delivery raised the clock', () => {
    const preds = new Map([[predictionRef(p.key, 'e1'), p]]);
    const late = T0 + HOUR + ev.labelWindowMs;
    const records = [
      { shard: 's', seq: '1', label: { ...label } },
      { shard: 's', seq: '2', label: { ...label, eventId: 'e9' } },
      { shard: 's', seq: '3', label: { ...label, labelTime: late } },
      { shard: 's', seq: '4', label: { ...label } },
    ];
    const first = judgeLabels(records, preds, () => false, null, ev);
    expect(first.judged.map((j) => j.verdict)).toEqual(['joined', 'unmatched', 'late', 'duplicate']);
    expect(first.clock).toBe(late);
    // As stored after the first delivery: the label joined, the clock raised.
    const after = new Map([[predictionRef(p.key, 'e1'), { ...p, label: true, labelTime: label.labelTime, labeledBy: 's/1' }]]);
    const again = judgeLabels(records, after, () => false, first.clock, ev);
    expect(again.judged.map((j) => [j.verdict, j.rejoined])).toEqual([['joined', true], ['unmatched', false], ['late', false], ['duplicate', false]]);
  });
});

describe('window counts', () => {
  it('counts only records above the checkpoint, and moves it to the highest counted', () => {
    const recs = [
      { seq: '5', window: 0, scoreBin: 9, positive: true, score: 0.95 },
      { seq: '7', window: 0, scoreBin: 1, positive: false, score: 0.15 },
      { seq: '12', window: 3600, scoreBin: 2, positive: false, score: 0.25 },
      { seq: '3', window: 3600, scoreBin: 2, positive: false, score: 0.25 },
    ];
    const d = windowDeltas(recs, (w) => (w === 0 ? '5' : ''), addPrediction);
    expect(d.map((x) => [x.window, x.records, x.through, x.counts.predictions, x.counts.positives])).toEqual([
      [0, 1, '7', 1, 0],
      [3600, 2, '12', 2, 0],
    ]);
    // Kinesis sequence numbers compare as numbers, not as text.
    expect(windowDeltas(recs, () => '11', addPrediction).map((x) => x.through)).toEqual(['12']);
  });

  it('measures a window under both unlabeled policies', () => {
    const c = emptyCounts();
    // 10 predictions, 4 positive; labels: 3 positive on positives, 1 positive on a negative, 2 negative on negatives.
    for (let i = 0; i < 10; i++) addPrediction(c, { scoreBin: i, positive: i >= 6, score: i / 10 + 0.05 });
    for (let i = 0; i < 3; i++) addLabel(c, { label: true, positive: true, delayMs: 2 * DAY, score: 0.65 + i / 10 });
    addLabel(c, { label: true, positive: false, delayMs: 500, score: 0.55 });
    addLabel(c, { label: false, positive: false, delayMs: 3 * HOUR, score: 0.05 });
    addLabel(c, { label: false, positive: false, delayMs: 3 * HOUR, score: 0.15 });
    const neg = windowMetrics(c, 'negative');
    expect(neg).toMatchObject({ predictions: 10, truePositives: 3, falsePositives: 1, falseNegatives: 1, trueNegatives: 5, labeled: 6, precision: 0.75, recall: 0.75, positiveRate: 0.4 });
    const unk = windowMetrics(c, 'unknown');
    expect(unk).toMatchObject({ truePositives: 3, falsePositives: 0, falseNegatives: 1, trueNegatives: 2, precision: 1, recall: 0.75 });
    // Six delays: 0.5 s, 3 h, 3 h, 2 d × 3 → median the third (3 h), p99 the sixth (2 d), as upper bin edges.
    expect(neg.labelDelayP50Ms).toBe(delayBinUpperMs(labelDelayBin(3 * HOUR)));
    expect(neg.labelDelayP99Ms).toBe(delayBinUpperMs(labelDelayBin(2 * DAY)));
    expect(windowMetrics(emptyCounts(), 'negative')).toMatchObject({ precision: null, recall: null, positiveRate: null, labelDelayP50Ms: null, labelDelayP99Ms: null });
  });
});

describe('label delay histogram', () => {
  it('reads each delay as its bin upper edge, at most 19% above it', () => {
    fc.assert(
      fc.property(fc.double({ min: 1000.001, max: 400 * DAY, noNaN: true }), (d) => {
        const e = delayBinUpperMs(labelDelayBin(d));
        expect(e).toBeGreaterThanOrEqual(d);
        expect(e).toBeLessThan(d * 2 ** 0.25 * (1 + 1e-12));
      }),
    );
    expect(labelDelayBin(0)).toBe(0);
    expect(labelDelayBin(-5_000)).toBe(0);
    expect(labelDelayBin(1000)).toBe(0);
    expect(labelDelayBin(2000)).toBe(4);
    expect(labelDelayBin(2001)).toBe(5);
  });

  it('a quantile is the upper edge of the bin holding the nearest-rank delay', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 * DAY }), { minLength: 1, maxLength: 200 }), fc.constantFrom(0.5, 0.9, 0.99), (delays, q) => {
        const bins: number[] = [];
        for (const d of delays) {
          const b = labelDelayBin(d);
          while (bins.length <= b) bins.push(0);
          bins[b]! += 1;
        }
        const sorted = [...delays].sort((a, b) => a - b);
        const exact = sorted[Math.max(1, Math.ceil(q * delays.length)) - 1]!;
        expect(delayQuantileMs(bins, q)).toBe(delayBinUpperMs(labelDelayBin(exact)));
      }),
    );
    expect(delayQuantileMs([], 0.5)).toBeNull();
  });
});

describe('PSI from bin counts', () => {
  it('equals the index of the scores themselves', () => {
    const score = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(fc.array(score, { minLength: 1, maxLength: 100 }), fc.array(score, { minLength: 1, maxLength: 100 }), (a, b) => {
        expect(populationStabilityIndexOfCounts(binCounts(a), binCounts(b))).toBeCloseTo(populationStabilityIndex(a, b), 12);
      }),
    );
    expect(populationStabilityIndexOfCounts(binCounts([]), binCounts([0.5]))).toBeNull();
  });
});

it('evaluation windows are tumbling over event time', () => {
  expect(evaluationWindowStart(T0 + HOUR - 1, HOUR)).toBe(T0);
  expect(evaluationWindowStart(T0 + HOUR, HOUR)).toBe(T0 + HOUR);
});
