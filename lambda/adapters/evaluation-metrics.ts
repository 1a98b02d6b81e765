/**
 * The evaluation's CloudWatch metrics (EMF via Powertools Metrics), under the names the alarms and dashboard use
 * (metric-names.ts): the labels consumer's counts and each final window's measures, and the score figures of the
 * windows the feature consumer closes.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { EVALUATION_WINDOW_DIMENSION, FEATURE_DIMENSION, MAX_FEATURE_METRICS, METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION, evaluationWindowName } from '../contract/metric-names';
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
  // Every label joined by a delivery that succeeds, those an earlier, failed delivery wrote included: Lambda
  // re-delivers only failed batches, so each join is counted once.
  count(MetricName.LabelsJoined, c.joined + c.redelivered);
  count(MetricName.LateLabels, c.late);
  count(MetricName.UnmatchedLabels, c.unmatched);
  count(MetricName.InvalidLabels, c.invalid + c.future);
  count(MetricName.DuplicateLabels, c.duplicates);
  count(MetricName.DeadLetters, o.deadLetters);
  metrics.publishStoredMetrics();
}

/**
 * Names the next document's window: its figures go out under two dimension sets, `Pipeline` (what the alarms and
 * dashboard read) and `Pipeline` + `EvaluationWindow` (the window's start, ISO-8601), so a graph or a query can
 * say which window each value belongs to. The datum keeps the publish time as its timestamp: the alarms read the
 * latest hour, and a datum stamped at its window (hours back for a PSI, weeks for precision and recall, where
 * CloudWatch drops anything over 14 days old) would never reach them. Two dimensions of the 30 CloudWatch allows;
 * a window's metrics get data once, so they add no standing cost.
 */
function nameWindow(metrics: Metrics, windowStart: number, windowEnd: number, stage: string): void {
  // An empty set first: the default dimension (Pipeline) alone, which Powertools leaves out once a set is added.
  metrics.addDimensions({});
  metrics.addDimensions({ [EVALUATION_WINDOW_DIMENSION]: evaluationWindowName(windowStart) });
  metrics.addMetadata('evaluationWindowEnd', new Date(windowEnd).toISOString());
  metrics.addMetadata('evaluationStage', stage);
}

/**
 * The measures of windows made final, one document per window naming it (nameWindow), published before the
 * windows leave the open set (a crash in between repeats them, never loses them).
 */
export function publishFinalWindowMetrics(metrics: Metrics, final: readonly FinalEvaluationWindow[]): void {
  for (const w of final) {
    const m = w.metrics;
    nameWindow(metrics, w.windowStart, w.windowEnd, 'final');
    if (m.precision !== null) metrics.addMetric(MetricName.EvaluationPrecision, MetricUnit.NoUnit, m.precision);
    if (m.recall !== null) metrics.addMetric(MetricName.EvaluationRecall, MetricUnit.NoUnit, m.recall);
    metrics.addMetric(MetricName.EvaluatedPredictions, MetricUnit.Count, m.predictions);
    if (m.labelDelayP50Ms !== null) metrics.addMetric(MetricName.LabelDelayP50Ms, MetricUnit.Milliseconds, m.labelDelayP50Ms);
    if (m.labelDelayP99Ms !== null) metrics.addMetric(MetricName.LabelDelayP99Ms, MetricUnit.Milliseconds, m.labelDelayP99Ms);
    const t = m.thresholdFree;
    const measure = (name: string, v: number | null): void => {
      if (v !== null) metrics.addMetric(name, MetricUnit.NoUnit, v);
    };
    measure(MetricName.EvaluationRocAuc, t.rocAuc);
    measure(MetricName.EvaluationPrAuc, t.prAuc);
    measure(MetricName.EvaluationLogLoss, t.logLoss);
    measure(MetricName.EvaluationBrier, t.brier);
    measure(MetricName.EvaluationCalibrationError, t.expectedCalibrationError);
    // The intervals and the reliability diagram as properties (for Logs Insights and a report), not metrics.
    if (m.precisionInterval !== null) metrics.addMetadata('precisionInterval95', JSON.stringify(m.precisionInterval));
    if (m.recallInterval !== null) metrics.addMetadata('recallInterval95', JSON.stringify(m.recallInterval));
    metrics.addMetadata('reliability', JSON.stringify(t.reliability.map((b) => ({ lower: b.lower, count: b.count, meanScore: b.meanScore, positiveRate: b.positiveRate }))));
    // The estimate published before the labels, beside what they realized: its error, and the estimate itself.
    const e = w.estimated;
    if (e !== undefined) {
      metrics.addMetadata('estimated', JSON.stringify(e));
      const error = (name: string, estimate: number | null, realized: number | null): void => {
        if (estimate !== null && realized !== null) metrics.addMetric(name, MetricUnit.NoUnit, estimate - realized);
      };
      error(MetricName.EvaluationPrecisionEstimateError, e.precision, m.precision);
      error(MetricName.EvaluationRecallEstimateError, e.recall, m.recall);
      error(MetricName.EvaluationRocAucEstimateError, e.rocAuc, t.rocAuc);
    }
    metrics.publishStoredMetrics();
  }
}

/**
 * Closing windows' positive rate and PSI (final or provisional by their stage), one document per window naming it
 * (nameWindow), published before the windows are marked closed. A window with neither figure publishes nothing.
 */
export function publishClosedWindowMetrics(metrics: Metrics, closed: readonly ClosedWindow[], pipelineName: string): void {
  for (const w of closed) {
    if (w.positiveRate === null && w.psi === null && w.estimatedPrecision === null && w.estimatedRecall === null && w.featurePsi === undefined) continue;
    const final = w.stage === 'final';
    nameWindow(metrics, w.windowStart, w.windowEnd, w.stage);
    if (w.positiveRate !== null) metrics.addMetric(final ? MetricName.EvaluationPositiveRate : MetricName.EvaluationPositiveRateProvisional, MetricUnit.NoUnit, w.positiveRate);
    if (w.psi !== null) metrics.addMetric(final ? MetricName.EvaluationPsi : MetricName.EvaluationPsiProvisional, MetricUnit.NoUnit, w.psi);
    // Estimated once the window's predictions are all in: the realized figures follow when its labels are.
    if (final && w.estimatedPrecision !== null) metrics.addMetric(MetricName.EvaluationEstimatedPrecision, MetricUnit.NoUnit, w.estimatedPrecision);
    if (final && w.estimatedRecall !== null) metrics.addMetric(MetricName.EvaluationEstimatedRecall, MetricUnit.NoUnit, w.estimatedRecall);
    if (final && w.estimatedRocAuc !== null) metrics.addMetric(MetricName.EvaluationEstimatedRocAuc, MetricUnit.NoUnit, w.estimatedRocAuc);
    if (final) metrics.addMetadata('estimateCalibratedOn', String(w.estimatedCalibratedOn));
    // Each feature's PSI in the document; the largest as a metric, so one alarm or graph covers every feature.
    const featurePsi = Object.values(w.featurePsi ?? {}).filter((v): v is number => v !== null);
    if (w.featurePsi !== undefined) metrics.addMetadata('featurePsi', JSON.stringify(w.featurePsi));
    if (featurePsi.length > 0) metrics.addMetric(MetricName.EvaluationFeaturePsiMax, MetricUnit.NoUnit, Math.max(...featurePsi));
    const empty = Object.values(w.featureEmptyShare ?? {}).filter((v): v is number => v !== null);
    if (w.featureEmptyShare !== undefined) metrics.addMetadata('featureEmptyShare', JSON.stringify(w.featureEmptyShare));
    if (empty.length > 0) metrics.addMetric(MetricName.EvaluationFeatureEmptyShareMax, MetricUnit.NoUnit, Math.max(...empty));
    metrics.publishStoredMetrics();
    if (final) publishFeatureMetrics(pipelineName, w);
  }
}

/**
 * Each feature's PSI and share without a value in a document of its own (one per feature, at most
 * MAX_FEATURE_METRICS by name), under `Pipeline` + `Feature` and `Pipeline` + `Feature` + `EvaluationWindow`: three
 * dimensions of the 30 CloudWatch allows. A window's metrics get data once, so each feature adds two metrics per
 * window, each with one datum.
 */
function publishFeatureMetrics(pipelineName: string, w: ClosedWindow): void {
  const names = [...new Set([...Object.keys(w.featurePsi ?? {}), ...Object.keys(w.featureEmptyShare ?? {})])].sort().slice(0, MAX_FEATURE_METRICS);
  for (const name of names) {
    const psi = w.featurePsi?.[name] ?? null;
    const empty = w.featureEmptyShare?.[name] ?? null;
    if (psi === null && empty === null) continue;
    // The feature among the default dimensions, so both sets carry it (nameWindow adds the window).
    const feature = evaluationMetrics(pipelineName);
    feature.setDefaultDimensions({ [FEATURE_DIMENSION]: name });
    nameWindow(feature, w.windowStart, w.windowEnd, w.stage);
    if (psi !== null) feature.addMetric(MetricName.EvaluationFeaturePsi, MetricUnit.NoUnit, psi);
    if (empty !== null) feature.addMetric(MetricName.EvaluationFeatureEmptyShare, MetricUnit.NoUnit, empty);
    feature.publishStoredMetrics();
  }
}
