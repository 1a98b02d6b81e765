/**
 * The evaluation's CloudWatch metrics (EMF via Powertools Metrics), under the names the alarms and dashboard use
 * (metric-names.ts): the labels consumer's counts and each final window's measures, and the score figures of the
 * windows the feature consumer closes.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../contract/metric-names';
import type { ClosedWindow, FinalEvaluationWindow } from './evaluation-store';
import type { LabelsOutcome } from './labels-processor';

/** Metrics with the single `Pipeline` dimension the alarms and dashboard query (Powertools adds `service` otherwise). */
export function evaluationMetrics(pipelineName: string): Metrics {
  const m = new Metrics({ namespace: METRICS_NAMESPACE });
  m.clearDefaultDimensions();
  m.setDefaultDimensions({ [PIPELINE_DIMENSION]: pipelineName });
  return m;
}

/**
 * One labels batch: LabelsIn, LabelsJoined, LateLabels, UnmatchedLabels, InvalidLabels (invalid and future),
 * DuplicateLabels (same value and conflicting), and per final window its precision and recall (when defined),
 * predictions evaluated and label delay p50/p99.
 */
export function publishLabelMetrics(metrics: Metrics, o: LabelsOutcome): void {
  const c = o.counters;
  const count = (name: string, v: number): void => {
    metrics.addMetric(name, MetricUnit.Count, v);
  };
  count(MetricName.LabelsIn, c.labelsIn);
  count(MetricName.LabelsJoined, c.joined);
  count(MetricName.LateLabels, c.late);
  count(MetricName.UnmatchedLabels, c.unmatched);
  count(MetricName.InvalidLabels, c.invalid + c.future);
  count(MetricName.DuplicateLabels, c.duplicates);
  count(MetricName.DeadLetters, o.deadLetters);
  metrics.publishStoredMetrics();
}

/**
 * The measures of windows made final, in a document of their own, published before the windows leave the open
 * set (a crash in between repeats them, never loses them).
 */
export function publishFinalWindowMetrics(metrics: Metrics, final: readonly FinalEvaluationWindow[]): void {
  if (final.length === 0) return;
  for (const w of final) {
    const m = w.metrics;
    if (m.precision !== null) metrics.addMetric(MetricName.EvaluationPrecision, MetricUnit.NoUnit, m.precision);
    if (m.recall !== null) metrics.addMetric(MetricName.EvaluationRecall, MetricUnit.NoUnit, m.recall);
    metrics.addMetric(MetricName.EvaluatedPredictions, MetricUnit.Count, m.predictions);
    if (m.labelDelayP50Ms !== null) metrics.addMetric(MetricName.LabelDelayP50Ms, MetricUnit.Milliseconds, m.labelDelayP50Ms);
    if (m.labelDelayP99Ms !== null) metrics.addMetric(MetricName.LabelDelayP99Ms, MetricUnit.Milliseconds, m.labelDelayP99Ms);
  }
  metrics.publishStoredMetrics();
}

/** Adds closing windows' positive rate and PSI; returns how many values. */
function addClosedWindowMetrics(metrics: Metrics, closed: readonly ClosedWindow[]): number {
  let added = 0;
  for (const w of closed) {
    if (w.positiveRate !== null) {
      metrics.addMetric(MetricName.EvaluationPositiveRate, MetricUnit.NoUnit, w.positiveRate);
      added++;
    }
    if (w.psi !== null) {
      metrics.addMetric(MetricName.EvaluationPsi, MetricUnit.NoUnit, w.psi);
      added++;
    }
  }
  return added;
}

/** Publishes closing windows' figures in a document of their own, before the windows are marked closed. */
export function publishClosedWindowMetrics(metrics: Metrics, closed: readonly ClosedWindow[]): void {
  if (addClosedWindowMetrics(metrics, closed) > 0) metrics.publishStoredMetrics();
}
