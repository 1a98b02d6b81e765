/**
 * A file run with a scoring and an evaluation section scores every applied record and, with a labels file,
 * measures every evaluation window: DIR/predictions.jsonl, DIR/evaluation.jsonl and DIR/rejected-labels.jsonl
 * against figures computed here from the predictions and the labels file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import { EVALUATION_FILE, type EvaluationLine, PREDICTIONS_FILE, type PredictionLine, REJECTED_LABELS_FILE, type RejectedLabelLine } from '../../../bin/sandbox/file-evaluation';
import { SUMMARY_FILE, runFile } from '../../../bin/sandbox/file-run';
import { costPerMillion } from '../../../bin/cost/model';
import { readRunSummary } from '../../../bin/cost/run-summary';
import type { Usage } from '../../../bin/local/usage';
import { parseModel } from '../../../lambda/core/model';
import { parseSpec } from '../../../lambda/core/spec';

const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);
const MIN = 60_000;
const spec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 5_000 },
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: MIN }, aggregate: 'count' },
    { name: 'spend_2m', window: { type: 'sliding', sizeMs: 2 * MIN, slideMs: 30_000 }, aggregate: 'sum', field: 'amount' },
  ],
  scoring: { model: 'model.json' },
  evaluation: { windowMs: MIN, labelWindowMs: 86_400_000 },
});
const model = parseModel({ kind: 'logistic', version: 'm1', bias: -3, weights: { count_1m: 0.8, spend_2m: 0.01 }, threshold: 0.5 }, spec);

let emulators: Emulators;
const dir = mkdtempSync(join(tmpdir(), 'file-scoring-'));

beforeAll(async () => {
  emulators = await startEmulators({ services: ['kinesis', 'dynamodb', 'sqs', 's3'] });
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);

describe('file run with scoring and evaluation', () => {
  it('writes one prediction per applied record and each window\'s figures, measured against the labels', async () => {
    // 36 payments of three users over three minutes, 5 s apart, arriving 200 ms after their event; one invalid.
    const lines: string[] = [];
    for (let i = 0; i < 36; i++) {
      const ts = T0 + i * 5_000;
      const user = ['u1', 'u2', 'u3'][i % 3]!;
      lines.push(JSON.stringify({ arrivalTime: ts + 200, data: JSON.stringify({ user, ts, id: `e${i}`, amount: 10 + (i % 7) * 30 }) }));
    }
    lines.push(JSON.stringify({ arrivalTime: T0 + 190_000, data: '{"user": "u1"}' }));
    const input = join(dir, 'records.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    // Labels a day later: u1's payments are fraud, every fifth of the others legitimate; a producer retry of one,
    // one naming no prediction, one with a bad label value.
    const labelRecords: object[] = [];
    for (let i = 0; i < 36; i++) {
      if (i % 3 === 0) labelRecords.push({ eventId: `e${i}`, key: 'u1', label: true, labelTime: T0 + i * 5_000 + 86_000_000 });
      else if (i % 5 === 0) labelRecords.push({ eventId: `e${i}`, key: ['u1', 'u2', 'u3'][i % 3], label: 0, labelTime: T0 + i * 5_000 + 3_600_000 });
    }
    labelRecords.push({ ...(labelRecords[1] as object) });
    labelRecords.push({ eventId: 'nope', key: 'u2', label: true, labelTime: T0 + 3_600_000 });
    labelRecords.push({ eventId: 'e4', key: 'u2', label: 'yes', labelTime: T0 + 3_600_000 });
    const labelsPath = join(dir, 'labels.jsonl');
    writeFileSync(labelsPath, labelRecords.map((l) => JSON.stringify(l)).join('\n') + '\n');

    const out = join(dir, 'out');
    const result = await runFile({ spec, inputPath: input, outDir: out, model, labelsPath, name: 'fscore' });

    // Predictions: one per applied record, scored as of its own arrival with the features it carries.
    const predictions = readJsonl<PredictionLine>(join(out, PREDICTIONS_FILE));
    expect(result.summary.applied).toBe(36);
    expect(predictions.map((p) => p.eventId).sort()).toEqual(Array.from({ length: 36 }, (_, i) => `e${i}`).sort());
    for (const p of predictions) {
      expect(p.featuresAt).toBe(p.arrivalTime);
      expect(Object.keys(p.features).sort()).toEqual([...model.features].sort());
      const values = Object.fromEntries(Object.entries(p.features).map(([k, f]) => [k, f.value]));
      expect(p.score).toBe(model.score(values));
      expect(p.positive).toBe(p.score >= model.threshold);
    }
    expect(predictions.some((p) => p.positive) && predictions.some((p) => !p.positive)).toBe(true);

    // Dead-lettered labels, with their lines: the unmatched one and the bad value (the retry is a duplicate).
    const rejected = readJsonl<RejectedLabelLine>(join(out, REJECTED_LABELS_FILE));
    expect(rejected.map((r) => [r.line, r.reason])).toEqual([
      [labelRecords.length - 1, 'unmatched'],
      [labelRecords.length, 'invalid'],
    ]);
    expect(rejected[1]!.message).toContain('label must be true, false, 1 or 0');

    // The windows' figures against the predictions and the labels file, counted here.
    const labelOf = new Map<string, boolean>();
    for (const l of labelRecords as Array<{ eventId: string; label: unknown }>) {
      if (typeof l.label === 'boolean' || l.label === 0 || l.label === 1) if (!labelOf.has(l.eventId) && l.eventId !== 'nope') labelOf.set(l.eventId, l.label === true || l.label === 1);
    }
    const windows = readJsonl<EvaluationLine>(join(out, EVALUATION_FILE));
    expect(windows.map((w) => w.windowStart)).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    expect(result.evaluation).toEqual({ predictions: 36, windows: 3, labels: { lines: labelRecords.length, joined: labelOf.size, rejected: 2 } });
    for (const w of windows) {
      const mine = predictions.filter((p) => p.eventTime >= w.windowStart && p.eventTime < w.windowEnd);
      let tp = 0;
      let fp = 0;
      let fn = 0;
      let tn = 0;
      for (const p of mine) {
        const label = labelOf.get(p.eventId) ?? false; // unlabeled: negative
        if (p.positive && label) tp++;
        else if (p.positive) fp++;
        else if (label) fn++;
        else tn++;
      }
      expect(w.predictions).toBe(mine.length);
      expect(w.positiveRate).toBeCloseTo(mine.filter((p) => p.positive).length / mine.length, 12);
      expect(w.reference).toBe(T0);
      // Estimated before labels: the positives' Σ score over their number, and over every prediction's Σ score.
      const positives = mine.filter((p) => p.positive);
      const sum = (ps: readonly PredictionLine[]): number => ps.reduce((a, p) => a + p.score, 0);
      expect(w.estimatedPrecision).toBeCloseTo(sum(positives) / positives.length, 9);
      expect(w.estimatedRecall).toBeCloseTo(sum(positives) / sum(mine), 9);
      expect(w.final).toMatchObject({ truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn, precision: tp + fp === 0 ? null : tp / (tp + fp), recall: tp + fn === 0 ? null : tp / (tp + fn) });
      // Threshold-free measures through the stored bins: log loss and Brier score over every prediction, an
      // unlabeled one as a negative, and ROC AUC over the scores rounded down to 0.01.
      const pairs = mine.map((p) => ({ score: p.score, label: labelOf.get(p.eventId) ?? false }));
      const clip = (x: number): number => Math.min(1 - 1e-15, Math.max(1e-15, x));
      const q = (x: number): number => Math.min(99, Math.floor(x * 100));
      const t = w.final!.thresholdFree;
      expect(t.labelled).toBe(pairs.length);
      expect(t.logLoss).toBeCloseTo(pairs.reduce((a, p) => a - Math.log(p.label ? clip(p.score) : 1 - clip(p.score)), 0) / pairs.length, 9);
      expect(t.brier).toBeCloseTo(pairs.reduce((a, p) => a + (p.score - (p.label ? 1 : 0)) ** 2, 0) / pairs.length, 9);
      const pos = pairs.filter((p) => p.label);
      const neg = pairs.filter((p) => !p.label);
      let wins = 0;
      for (const a of pos) for (const b of neg) wins += q(a.score) > q(b.score) ? 1 : q(a.score) === q(b.score) ? 0.5 : 0;
      expect(t.rocAuc).toBeCloseTo(wins / (pos.length * neg.length), 12);
    }
    expect(windows[0]!.psi).toBe(0);

    // What scoring and the labels consumer used, as the emulators reported it, for `npm run cost`.
    const written = JSON.parse(readFileSync(join(out, SUMMARY_FILE), 'utf8')) as { usage: Usage; labels: { records: number; usage: Usage } };
    expect(written.usage.predictionRecordsPut).toBe(36);
    // A prediction item of two features is under 1 KB: one write unit each, plus the window counts.
    expect(written.usage.dynamodbPredictionsWriteUnits).toBeGreaterThan(36);
    expect(written.usage.dynamodbPredictionsWriteUnits).toBeLessThan(written.usage.dynamodbWriteUnits);
    expect(written.labels.records).toBe(labelRecords.length);
    expect(written.labels.usage.kinesisRecordsPut).toBe(labelRecords.length);
    expect(written.labels.usage.invocations).toBeGreaterThan(0);
    expect(written.labels.usage.dynamodbWriteUnits).toBe(written.labels.usage.dynamodbPredictionsWriteUnits);
    expect(written.labels.usage.dynamodbWriteUnits).toBeGreaterThanOrEqual(labelOf.size);
    const cost = readRunSummary(join(out, SUMMARY_FILE));
    const c = costPerMillion({ records: cost.records, usage: cost.usage, rate: 100, memoryMb: 1024, labels: { ...cost.labels!, memoryMb: 512 } });
    expect(c.scoringDynamodb).toBeGreaterThan(0);
    expect(c.predictionsStreamProvisioned).toBeGreaterThan(0);
    expect(c.labelsConsumer).toBeGreaterThan(0);
  }, 180_000);
});
