/**
 * The labels consumer's exported `handler`, configured from the environment as the stack configures it (LABELS_ENV),
 * invoked with Kinesis events against the emulators: the metrics it publishes (EMF on stdout, captured here) carry
 * the contract's names and the Pipeline dimension, with each final window's precision, recall, predictions and
 * label delays; the closed windows' helper publishes positive rate and PSI.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { ConfigError } from '../../../lambda/adapters/config';
import { evaluationMetrics } from '../../../lambda/adapters/evaluation-metrics';
import { labelsConfigFromEnv } from '../../../lambda/adapters/labels-config';
import { EVALUATION_WINDOW_DIMENSION, FEATURE_DIMENSION, METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../../lambda/contract/metric-names';
import { LABELS_ENV } from '../../../lambda/contract/resources';
import { scoreBin } from '../../../lambda/core/evaluation';
import { addLabel, addPrediction, delayBinUpperMs, emptyCounts, labelDelayBin, windowMetrics } from '../../../lambda/core/label-join';
import { parseSpec } from '../../../lambda/core/spec';
import { type EvaluationEnv, evaluationStore, freshEvaluationEnv, putPrediction } from '../../support/evaluation-env';
import { DAY, HOUR, T0 } from '../../support/label-reference';

const SHARD = 'shardId-000000000003';
const SPEC = {
  source: { keyField: 'user', timeField: 'ts' },
  watermark: { allowedLatenessMs: 0 },
  features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
  scoring: { model: 'model.json' },
  evaluation: { labelWindowMs: DAY },
};
const spec = parseSpec(SPEC);
let emulators: Emulators;
let env: EvaluationEnv;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  env = await freshEvaluationEnv('hl');
  const vars = { [LABELS_ENV.spec]: JSON.stringify(SPEC), [LABELS_ENV.pipelineName]: 'fraud', [LABELS_ENV.predictionsTableName]: env.table, [LABELS_ENV.deadLetterQueueUrl]: env.queueUrl };
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 60_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await emulators?.stop();
});

function labelsEvent(payloads: readonly object[], firstSeq: number, arrival: number): KinesisStreamEvent {
  return {
    Records: payloads.map((p, i) => {
      const seq = String(49_700_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(firstSeq + i));
      return {
        eventID: `${SHARD}:${seq}`,
        eventName: 'aws:kinesis:record',
        eventSource: 'aws:kinesis',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/labels',
        eventVersion: '1.0',
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/labels',
        kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'k', sequenceNumber: seq, data: Buffer.from(JSON.stringify(p)).toString('base64'), approximateArrivalTimestamp: arrival / 1000 },
      };
    }),
  };
}

interface Emf {
  _aws: { Timestamp?: number; CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
  [field: string]: unknown;
}

/** EMF documents written to stdout while `fn` runs (kept out of the test output). */
async function emfOf(fn: () => Promise<unknown>): Promise<Emf[]> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('').split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Emf);
}

describe('labels handler', () => {
  it('joins labels, finalizes windows and publishes the evaluation metrics', async () => {
    const { handler } = await import('../../../lambda/handlers/labels');
    const preds = [
      { eventId: 'p1', key: 'u1', eventTime: T0 + 60_000, score: 0.95, positive: true },
      { eventId: 'p2', key: 'u1', eventTime: T0 + 120_000, score: 0.8, positive: true },
      { eventId: 'p3', key: 'u2', eventTime: T0 + 180_000, score: 0.1, positive: false },
      { eventId: 'p4', key: 'u3', eventTime: T0 + 240_000, score: 0.3, positive: false },
    ];
    for (const p of preds) await putPrediction(env, spec, p);
    await evaluationStore(env, spec).addPredictions('shardId-000000000000', preds.map((p, i) => ({ seq: String(i + 1), ...p })));

    // Chargebacks hours later: p1 fraud (true positive), p3 fraud (missed), p2 legitimate; one bad record.
    const first = await emfOf(() =>
      handler(
        labelsEvent(
          [
            { predictionId: 'v1:p1', key: 'u1', label: true, labelTime: T0 + 60_000 + 2 * HOUR },
            { eventId: 'p3', key: 'u2', label: 1, labelTime: T0 + 180_000 + 5 * HOUR },
            { eventId: 'p2', key: 'u1', label: false, labelTime: T0 + 120_000 + 3 * HOUR },
            { eventId: 'p2', key: 'u1', label: false, labelTime: T0 + 120_000 + 3 * HOUR },
            { eventId: 'p9', key: 'u1', label: true, labelTime: T0 + 6 * HOUR },
            { eventId: 'p4', key: 'u3', label: 'chargeback', labelTime: T0 + 6 * HOUR },
          ],
          1,
          T0 + 6 * HOUR,
        ),
      ),
    );
    expect(first).toHaveLength(1);
    const d1 = first[0]!;
    expect(d1._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRICS_NAMESPACE);
    expect(d1._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[PIPELINE_DIMENSION]]);
    expect(d1[PIPELINE_DIMENSION]).toBe('fraud');
    expect(d1).toMatchObject({ LabelsIn: 6, LabelsJoined: 3, DuplicateLabels: 1, UnmatchedLabels: 1, InvalidLabels: 1, LateLabels: 0, DeadLetters: 2 });
    // Nothing final yet: the label clock is 6 h past T0, the window ends at 1 h and its labels may come for a day.
    expect(d1[MetricName.EvaluationPrecision]).toBeUndefined();

    // A day later p4's label joins; p2's second label comes more than a day after its prediction (late), and its
    // label time moves the clock past the window's end plus the label window: the window is final.
    const second = await emfOf(() => handler(labelsEvent([{ eventId: 'p4', key: 'u3', label: false, labelTime: T0 + 240_000 + DAY }, { eventId: 'p2', key: 'u1', label: true, labelTime: T0 + DAY + 2 * HOUR }], 20, T0 + 2 * DAY)));
    // Two documents: the final window's measures, published before it leaves the open set, then the batch's counts.
    expect(second).toHaveLength(2);
    const [final, d2] = [second[0]!, second[1]!];
    const names = (d: Emf): string[] => d._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name).sort();
    expect(names(final)).toEqual(
      [
        MetricName.EvaluationPrecision,
        MetricName.EvaluationRecall,
        MetricName.EvaluatedPredictions,
        MetricName.LabelDelayP50Ms,
        MetricName.LabelDelayP99Ms,
        MetricName.EvaluationRocAuc,
        MetricName.EvaluationPrAuc,
        MetricName.EvaluationLogLoss,
        MetricName.EvaluationBrier,
        MetricName.EvaluationCalibrationError,
      ].sort(),
    );
    // (score, label): (0.95, fraud), (0.8, legitimate), (0.1, fraud), (0.3, legitimate). ROC AUC: 2 of 4 pairs
    // ordered right; PR AUC: recall 1/2 at precision 1, then 1/2 more at precision 1/2.
    expect(final.EvaluationRocAuc).toBe(0.5);
    expect(final.EvaluationPrAuc).toBeCloseTo(0.75, 12);
    expect(final.EvaluationBrier).toBeCloseTo((0.05 ** 2 + 0.8 ** 2 + 0.9 ** 2 + 0.3 ** 2) / 4, 12);
    expect(final.EvaluationLogLoss).toBeCloseTo(-(Math.log(0.95) + Math.log(0.2) + Math.log(0.1) + Math.log(0.7)) / 4, 12);
    // Precision 1 of 2 and recall 1 of 2: Wilson's 95% interval of 1/2 is [0.0945, 0.9055].
    expect(JSON.parse(final.precisionInterval95 as string)).toEqual({ lower: expect.closeTo(0.0945, 4), upper: expect.closeTo(0.9055, 4) });
    expect(names(d2)).toEqual(
      [MetricName.LabelsIn, MetricName.LabelsJoined, MetricName.LateLabels, MetricName.UnmatchedLabels, MetricName.InvalidLabels, MetricName.DuplicateLabels, MetricName.DeadLetters].sort(),
    );
    expect(d2).toMatchObject({ LabelsIn: 2, LabelsJoined: 1, LateLabels: 1, DuplicateLabels: 0 });
    // TP p1; FP p2 (labeled legitimate); FN p3; TN p4 → precision 1/2, recall 1/2.
    expect(final).toMatchObject({ [PIPELINE_DIMENSION]: 'fraud', EvaluationPrecision: 0.5, EvaluationRecall: 0.5, EvaluatedPredictions: 4 });
    // Delays 2 h, 3 h, 5 h, 1 day: median the second (3 h), p99 the fourth (1 day), as bin upper edges.
    expect(final.LabelDelayP50Ms).toBe(delayBinUpperMs(labelDelayBin(3 * HOUR)));
    expect(final.LabelDelayP99Ms).toBe(delayBinUpperMs(labelDelayBin(DAY)));
  });

  it('publishes each closed window\'s positive rate and PSI in a document naming its window, final or provisional', async () => {
    const { publishClosedWindowMetrics } = await import('../../../lambda/handlers/labels');
    const before = Date.now();
    const docs = await emfOf(async () => {
      publishClosedWindowMetrics(evaluationMetrics('fraud'), [
        { windowStart: T0, windowEnd: T0 + HOUR, stage: 'final', predictions: 40, positiveRate: 0.1, psi: 0, reference: T0, estimatedPrecision: 0.8, estimatedRecall: 0.6, estimatedRocAuc: 0.7, estimatedCalibratedOn: 120 },
        { windowStart: T0 + HOUR, windowEnd: T0 + 2 * HOUR, stage: 'final', predictions: 50, positiveRate: 0.3, psi: 0.42, reference: T0, estimatedPrecision: 0.7, estimatedRecall: null, estimatedRocAuc: null, estimatedCalibratedOn: 0 },
        { windowStart: T0 + 2 * HOUR, windowEnd: T0 + 3 * HOUR, stage: 'provisional', predictions: 20, positiveRate: 0.5, psi: 0.7, reference: T0, estimatedPrecision: 0.9, estimatedRecall: 0.9, estimatedRocAuc: null, estimatedCalibratedOn: 0 },
        { windowStart: T0 + 3 * HOUR, windowEnd: T0 + 4 * HOUR, stage: 'final', predictions: 0, positiveRate: null, psi: null, reference: T0, estimatedPrecision: null, estimatedRecall: null, estimatedRocAuc: null, estimatedCalibratedOn: 0 },
      ], 'fraud');
    });
    expect(docs).toHaveLength(3);
    // The alarms read Pipeline alone; Pipeline + EvaluationWindow tells each value's window.
    for (const d of docs) expect(d._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[PIPELINE_DIMENSION], [PIPELINE_DIMENSION, EVALUATION_WINDOW_DIMENSION]]);
    expect(docs.map((d) => d[EVALUATION_WINDOW_DIMENSION])).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR].map((t) => new Date(t).toISOString()));
    // Stamped at the publish time, so the alarms' latest hour sees them.
    for (const d of docs) expect(d._aws.Timestamp).toBeGreaterThanOrEqual(before);
    expect(docs[0]).toMatchObject({ [PIPELINE_DIMENSION]: 'fraud', EvaluationPositiveRate: 0.1, EvaluationPsi: 0, EvaluationEstimatedPrecision: 0.8, EvaluationEstimatedRecall: 0.6, EvaluationEstimatedRocAuc: 0.7, estimateCalibratedOn: '120', evaluationStage: 'final', evaluationWindowEnd: new Date(T0 + HOUR).toISOString() });
    expect(docs[1]).toMatchObject({ EvaluationPositiveRate: 0.3, EvaluationPsi: 0.42, EvaluationEstimatedPrecision: 0.7 });
    expect(docs[1]!.EvaluationEstimatedRecall).toBeUndefined();
    expect(docs[2]).toMatchObject({ EvaluationPositiveRateProvisional: 0.5, EvaluationPsiProvisional: 0.7, evaluationStage: 'provisional' });
    // Estimates go out with the final figures only, once every prediction of the window is in.
    expect(docs[2]!.EvaluationPsi).toBeUndefined();
    expect(docs[2]!.EvaluationEstimatedPrecision).toBeUndefined();
    expect(await emfOf(async () => publishClosedWindowMetrics(evaluationMetrics('fraud'), [], 'fraud'))).toEqual([]);
  });

  it('publishes each feature\'s PSI and share without a value per final window, in a document per feature naming the feature and the window', async () => {
    const { publishClosedWindowMetrics } = await import('../../../lambda/handlers/labels');
    const docs = await emfOf(async () => {
      publishClosedWindowMetrics(evaluationMetrics('fraud'), [
        {
          windowStart: T0 + HOUR,
          windowEnd: T0 + 2 * HOUR,
          stage: 'final',
          predictions: 50,
          positiveRate: 0.3,
          psi: 0.1,
          reference: T0,
          estimatedPrecision: 0.5,
          estimatedRecall: 0.5,
          estimatedRocAuc: null,
          estimatedCalibratedOn: 0,
          featurePsi: { spend: 0.31, count: 0.02, never: null },
          featureEmptyShare: { spend: 0.4, count: 0, never: null },
        },
      ], 'fraud');
    });
    expect(docs).toHaveLength(3);
    expect(docs[0]).toMatchObject({ EvaluationFeaturePsiMax: 0.31, EvaluationFeatureEmptyShareMax: 0.4 });
    expect(JSON.parse(docs[0]!.featureEmptyShare as string)).toEqual({ spend: 0.4, count: 0, never: null });
    // One document per feature, by name; none for a feature without either figure.
    const perFeature = docs.slice(1);
    expect(perFeature.map((d) => d[FEATURE_DIMENSION])).toEqual(['count', 'spend']);
    for (const d of perFeature) {
      expect(d._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[PIPELINE_DIMENSION, FEATURE_DIMENSION], [PIPELINE_DIMENSION, FEATURE_DIMENSION, EVALUATION_WINDOW_DIMENSION]]);
      expect(d).toMatchObject({ [PIPELINE_DIMENSION]: 'fraud', [EVALUATION_WINDOW_DIMENSION]: new Date(T0 + HOUR).toISOString(), evaluationStage: 'final' });
    }
    expect(perFeature[0]).toMatchObject({ EvaluationFeaturePsi: 0.02, EvaluationFeatureEmptyShare: 0 });
    expect(perFeature[1]).toMatchObject({ EvaluationFeaturePsi: 0.31, EvaluationFeatureEmptyShare: 0.4 });
    // The documents after them carry the pipeline alone again.
    expect(docs[0]![FEATURE_DIMENSION]).toBeUndefined();
  });

  it('publishes a final window\'s estimate from before its labels beside the realized figures: the estimate and its error', async () => {
    const { publishFinalWindowMetrics } = await import('../../../lambda/adapters/evaluation-metrics');
    const counts = emptyCounts();
    for (const [score, label] of [[0.9, true], [0.8, false], [0.2, false], [0.1, true]] as const) {
      addPrediction(counts, { score, positive: score >= 0.5, scoreBin: scoreBin(score) });
      addLabel(counts, { score, positive: score >= 0.5, label, delayMs: HOUR });
    }
    const estimated = { precision: 0.9, recall: 0.7, rocAuc: 0.8, calibratedOn: 400 };
    const [doc] = await emfOf(async () => publishFinalWindowMetrics(evaluationMetrics('fraud'), [{ windowStart: T0, windowEnd: T0 + HOUR, metrics: windowMetrics(counts, 'negative'), estimated }]));
    // Realized: precision 1/2, recall 1/2, ROC AUC 2 of 4 pairs.
    expect(doc!.EvaluationPrecisionEstimateError).toBeCloseTo(0.4, 12);
    expect(doc!.EvaluationRecallEstimateError).toBeCloseTo(0.2, 12);
    expect(doc!.EvaluationRocAucEstimateError).toBeCloseTo(0.3, 12);
    expect(JSON.parse(doc!.estimated as string)).toEqual(estimated);
    const [without] = await emfOf(async () => publishFinalWindowMetrics(evaluationMetrics('fraud'), [{ windowStart: T0, windowEnd: T0 + HOUR, metrics: windowMetrics(counts, 'negative') }]));
    expect(without!.EvaluationPrecisionEstimateError).toBeUndefined();
  });

  it('publishes one document per final window, each naming its window; LabelsJoined counts joins an earlier failed delivery wrote', async () => {
    const { createLabelsConsumer } = await import('../../../lambda/handlers/labels');
    const own = await freshEvaluationEnv('hlj');
    const config = labelsConfigFromEnv({ [LABELS_ENV.spec]: JSON.stringify(SPEC), [LABELS_ENV.pipelineName]: 'fraud', [LABELS_ENV.predictionsTableName]: own.table, [LABELS_ENV.deadLetterQueueUrl]: own.queueUrl });
    const preds = Array.from({ length: 6 }, (_, i) => ({ eventId: `q${i}`, key: `k${i}`, eventTime: T0 + i * HOUR + 60_000, score: i / 6, positive: i >= 3 }));
    for (const p of preds) await putPrediction(own, spec, p);
    await evaluationStore(own, spec).addPredictions('shardId-000000000000', preds.map((p, i) => ({ seq: String(i + 1), ...p })));
    const labels = preds.map((p, i) => ({ eventId: p.eventId, key: p.key, label: i % 2 === 0, labelTime: p.eventTime + HOUR }));
    // The first delivery writes the labels onto their predictions, then fails before counting them into windows.
    const crashing = createLabelsConsumer({
      config,
      writeGate: (what) => {
        if (what.startsWith('UpdateItem counts of window')) throw new Error('injected fault');
      },
    });
    const failed = await emfOf(() => crashing(labelsEvent(labels, 100, T0 + 8 * HOUR)).catch((e: unknown) => e));
    expect(failed).toEqual([]);
    const retried = await emfOf(() => createLabelsConsumer({ config })(labelsEvent(labels, 100, T0 + 8 * HOUR)));
    const batch = retried.find((d) => d.LabelsIn !== undefined)!;
    expect(batch).toMatchObject({ LabelsIn: 6, LabelsJoined: 6 });
    // A label two days on makes the six hourly windows final: one document each, naming its window.
    const later = await emfOf(() => createLabelsConsumer({ config })(labelsEvent([{ eventId: 'q0', key: 'k0', label: true, labelTime: T0 + 3 * DAY }], 200, T0 + 3 * DAY)));
    const finals = later.filter((d) => d.EvaluatedPredictions !== undefined);
    expect(finals.map((d) => d[EVALUATION_WINDOW_DIMENSION])).toEqual(preds.map((p) => new Date(p.eventTime - 60_000).toISOString()));
    expect(finals.every((d) => d.EvaluatedPredictions === 1 && d.evaluationStage === 'final')).toBe(true);
    expect(finals.every((d) => JSON.stringify(d._aws.CloudWatchMetrics[0]!.Dimensions) === JSON.stringify([[PIPELINE_DIMENSION], [PIPELINE_DIMENSION, EVALUATION_WINDOW_DIMENSION]]))).toBe(true);
  });

  it('refuses a configuration without an evaluation section or a table, by name', () => {
    const vars = { [LABELS_ENV.spec]: JSON.stringify(SPEC), [LABELS_ENV.predictionsTableName]: 't', [LABELS_ENV.deadLetterQueueUrl]: 'q' };
    expect(labelsConfigFromEnv(vars)).toMatchObject({ pipelineName: 'default', predictionsTable: 't', evaluation: { labelWindowMs: DAY, windowMs: HOUR } });
    const { evaluation: _e, scoring: _s, ...plain } = SPEC;
    expect(() => labelsConfigFromEnv({ ...vars, [LABELS_ENV.spec]: JSON.stringify(plain) })).toThrow(ConfigError);
    expect(() => labelsConfigFromEnv({ ...vars, [LABELS_ENV.spec]: JSON.stringify(plain) })).toThrow(/PIPELINE_SPEC has no evaluation section/);
    expect(() => labelsConfigFromEnv({ ...vars, [LABELS_ENV.predictionsTableName]: '' })).toThrow(/PREDICTIONS_TABLE_NAME is required/);
  });
});
