/**
 * The panels of the pipeline's own metrics, defined once: lib/monitoring.ts builds the CloudWatch dashboard's
 * widgets from them, and the local page (bin/local/dashboard) draws the same panels from the EMF documents the
 * handlers print. Imports nothing but the metric names (see resources.ts).
 */
import { MetricName } from './metric-names';

/** Statistics both sides compute: CloudWatch's names; p50 and p99 over the period's values. */
export type PanelStat = 'Sum' | 'Maximum' | 'Minimum' | 'Average' | 'p50' | 'p99';

export interface PanelSeries {
  readonly metric: MetricName;
  readonly stat: PanelStat;
  /** @default `${metric} ${stat}` */
  readonly label?: string;
}

/** A horizontal line at an alarm's threshold, read from that alarm's setting (never restated here). */
export type PanelThreshold =
  | 'freshnessSlo'
  | 'watermarkLag'
  | 'minPrecision'
  | 'minRecall'
  | 'maxPsi'
  | 'maxFeaturePsi'
  | 'maxFeatureEmptyShare'
  | 'minEstimatedPrecision'
  | 'minEstimatedRocAuc';

export interface PanelDefinition {
  readonly id: string;
  readonly title: string;
  /** The unit of the left axis ('difference': of two ratios, from −1 to 1). */
  readonly unit: 'count' | 'ms' | 'ratio' | 'difference';
  readonly left: readonly PanelSeries[];
  readonly right?: readonly PanelSeries[];
  readonly thresholds?: readonly PanelThreshold[];
}

const sums = (...names: MetricName[]): PanelSeries[] => names.map((metric) => ({ metric, stat: 'Sum', label: metric }));
const quantiles = (metric: MetricName): PanelSeries[] => [
  { metric, stat: 'p50' },
  { metric, stat: 'p99' },
];

/** The consumer's figures: freshness, watermark lag, records, outcomes and batch time. */
export const CONSUMER_PANELS = {
  freshness: { id: 'freshness', title: 'Feature freshness (ms)', unit: 'ms', left: quantiles(MetricName.FeatureFreshnessMs), thresholds: ['freshnessSlo'] },
  watermarkLag: {
    id: 'watermark-lag',
    title: 'Watermark lag (ms)',
    unit: 'ms',
    left: [
      { metric: MetricName.WatermarkLagMs, stat: 'Maximum' },
      { metric: MetricName.WatermarkLagMs, stat: 'p50' },
    ],
    thresholds: ['watermarkLag'],
  },
  records: {
    id: 'records',
    title: 'Records',
    unit: 'count',
    left: sums(
      MetricName.RecordsIn,
      MetricName.RecordsApplied,
      MetricName.LateRecords,
      MetricName.InvalidRecords,
      MetricName.FutureRecords,
      MetricName.DuplicateRecords,
      MetricName.RedeliveredRecords,
    ),
  },
  outcomes: {
    id: 'outcomes',
    title: 'Windows, corrections, dead letters, writes',
    unit: 'count',
    left: sums(MetricName.FinalWindows, MetricName.Corrections, MetricName.DeadLetters, MetricName.StateWrites, MetricName.ConditionConflicts, MetricName.IdleAdvances),
  },
  batchDuration: { id: 'batch-duration', title: 'Batch duration (ms)', unit: 'ms', left: quantiles(MetricName.BatchDurationMs) },
} as const satisfies Record<string, PanelDefinition>;

/** With a scoring section. */
export const SCORING_PANELS = {
  predictions: { id: 'predictions', title: 'Predictions', unit: 'count', left: [{ metric: MetricName.Predictions, stat: 'Sum' }, { metric: MetricName.PositivePredictions, stat: 'Sum' }] },
  predictionLatency: { id: 'prediction-latency', title: 'Arrival to prediction written (ms)', unit: 'ms', left: quantiles(MetricName.PredictionLatencyMs) },
  featureAge: { id: 'feature-age', title: 'Age of the features scored (ms)', unit: 'ms', left: quantiles(MetricName.ScoringFeatureAgeMs) },
  featureQuality: {
    id: 'feature-quality',
    title: 'Features scored: empty, stale, unavailable',
    unit: 'count',
    left: [
      { metric: MetricName.ScoredFeaturesEmpty, stat: 'Sum' },
      { metric: MetricName.ScoredFeaturesStale, stat: 'Sum' },
      { metric: MetricName.ScoredFeaturesUnavailable, stat: 'Sum' },
    ],
    right: [{ metric: MetricName.ScoredFeatureValues, stat: 'Sum' }],
  },
} as const satisfies Record<string, PanelDefinition>;

/** With an evaluation section (each measure is emitted once per evaluation window). */
export const EVALUATION_PANELS = {
  precisionRecall: {
    id: 'precision-recall',
    title: 'Precision and recall of final windows',
    unit: 'ratio',
    left: [
      { metric: MetricName.EvaluationPrecision, stat: 'Minimum' },
      { metric: MetricName.EvaluationRecall, stat: 'Minimum' },
      // Estimated from the scores before labels, weeks earlier (docs/evaluation.md, "Estimated before labels").
      { metric: MetricName.EvaluationEstimatedPrecision, stat: 'Minimum' },
      { metric: MetricName.EvaluationEstimatedRecall, stat: 'Minimum' },
    ],
    // The estimate's line only when its alarm exists (evaluation.minEstimatedPrecision set).
    thresholds: ['minPrecision', 'minRecall', 'minEstimatedPrecision'],
  },
  drift: {
    id: 'drift',
    title: 'Score drift (PSI) and positive rate of closed windows',
    unit: 'ratio',
    // Provisional figures beside the final ones (docs/evaluation.md, "Closing"); the alarm reads the final PSI.
    left: [
      { metric: MetricName.EvaluationPsi, stat: 'Maximum' },
      { metric: MetricName.EvaluationPsiProvisional, stat: 'Maximum' },
      { metric: MetricName.EvaluationFeaturePsiMax, stat: 'Maximum' },
    ],
    right: [
      { metric: MetricName.EvaluationPositiveRate, stat: 'Average' },
      { metric: MetricName.EvaluationPositiveRateProvisional, stat: 'Average' },
    ],
    thresholds: ['maxPsi', 'maxFeaturePsi'],
  },
  labelDelay: {
    id: 'label-delay',
    title: 'Label delay of final windows (ms)',
    unit: 'ms',
    left: [
      { metric: MetricName.LabelDelayP50Ms, stat: 'Maximum' },
      { metric: MetricName.LabelDelayP99Ms, stat: 'Maximum' },
    ],
    right: [{ metric: MetricName.EvaluatedPredictions, stat: 'Sum' }],
  },
  thresholdFree: {
    id: 'threshold-free',
    title: 'Threshold-free measures of final windows',
    unit: 'ratio',
    left: [
      { metric: MetricName.EvaluationRocAuc, stat: 'Minimum' },
      { metric: MetricName.EvaluationPrAuc, stat: 'Minimum' },
      // Estimated before labels (calibrated only), weeks before the realized one.
      { metric: MetricName.EvaluationEstimatedRocAuc, stat: 'Minimum' },
    ],
    right: [
      { metric: MetricName.EvaluationLogLoss, stat: 'Maximum' },
      { metric: MetricName.EvaluationBrier, stat: 'Maximum' },
      { metric: MetricName.EvaluationCalibrationError, stat: 'Maximum' },
    ],
    thresholds: ['minEstimatedRocAuc'],
  },
  estimateError: {
    id: 'estimate-error',
    title: 'Estimate before labels less realized, of final windows',
    unit: 'difference',
    left: [
      { metric: MetricName.EvaluationPrecisionEstimateError, stat: 'Maximum' },
      { metric: MetricName.EvaluationPrecisionEstimateError, stat: 'Minimum' },
      { metric: MetricName.EvaluationRecallEstimateError, stat: 'Maximum' },
      { metric: MetricName.EvaluationRocAucEstimateError, stat: 'Maximum' },
    ],
  },
  featureQuality: {
    id: 'feature-empty-share',
    title: 'Share of predictions reading a feature with no value (largest over features)',
    unit: 'ratio',
    left: [{ metric: MetricName.EvaluationFeatureEmptyShareMax, stat: 'Maximum' }],
    thresholds: ['maxFeatureEmptyShare'],
  },
} as const satisfies Record<string, PanelDefinition>;

export function seriesLabel(s: PanelSeries): string {
  return s.label ?? `${s.metric} ${s.stat}`;
}
