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
import { METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../../lambda/contract/metric-names';
import { LABELS_ENV } from '../../../lambda/contract/resources';
import { delayBinUpperMs, labelDelayBin } from '../../../lambda/core/label-join';
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
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
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
    expect(names(final)).toEqual([MetricName.EvaluationPrecision, MetricName.EvaluationRecall, MetricName.EvaluatedPredictions, MetricName.LabelDelayP50Ms, MetricName.LabelDelayP99Ms].sort());
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

  it('publishes the closed windows\' positive rate and PSI', async () => {
    const { publishClosedWindowMetrics } = await import('../../../lambda/handlers/labels');
    const docs = await emfOf(async () => {
      publishClosedWindowMetrics(evaluationMetrics('fraud'), [
        { windowStart: T0, windowEnd: T0 + HOUR, predictions: 40, positiveRate: 0.1, psi: 0, reference: T0 },
        { windowStart: T0 + HOUR, windowEnd: T0 + 2 * HOUR, predictions: 50, positiveRate: 0.3, psi: 0.42, reference: T0 },
      ]);
    });
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ [PIPELINE_DIMENSION]: 'fraud', EvaluationPositiveRate: [0.1, 0.3], EvaluationPsi: [0, 0.42] });
    expect(await emfOf(async () => publishClosedWindowMetrics(evaluationMetrics('fraud'), []))).toEqual([]);
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
