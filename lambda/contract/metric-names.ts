/**
 * Metric names and namespace, defined once: the consumer handler emits them (EMF through Powertools Metrics)
 * and the CDK monitoring construct builds its alarms and dashboard from the very same constants. Imports nothing
 * (see resources.ts).
 */
export const METRICS_NAMESPACE = 'EventTimeFeatures';

/** Dimension added to every metric so several pipelines can share an account. */
export const PIPELINE_DIMENSION = 'Pipeline';

/**
 * Second dimension set of an evaluation window's figures (beside `Pipeline` alone): the window's start, so each
 * value can be told to its window.
 */
export const EVALUATION_WINDOW_DIMENSION = 'EvaluationWindow';

/**
 * Dimension of a feature's own figures per evaluation window (its PSI, its share of predictions without a value):
 * the feature's name. Only the model's features get one, at most MAX_FEATURE_METRICS of them.
 */
export const FEATURE_DIMENSION = 'Feature';

/** Features with metrics of their own per window (by name order); the maxima cover every feature. */
export const MAX_FEATURE_METRICS = 20;

/** The EvaluationWindow value of a window: its start as ISO-8601 (UTC). */
export const evaluationWindowName = (windowStart: number): string => new Date(windowStart).toISOString();

export const MetricName = {
  /** Kinesis records received by the consumer (re-deliveries included). */
  RecordsIn: 'RecordsIn',
  /** Valid, non-duplicate records applied to at least one window. */
  RecordsApplied: 'RecordsApplied',
  /** (record, feature) pairs that arrived after their windows were final. */
  LateRecords: 'LateRecords',
  /** Records rejected as invalid (bad JSON, missing or malformed fields, too large). */
  InvalidRecords: 'InvalidRecords',
  /** Records whose event time is too far ahead of their arrival time. */
  FutureRecords: 'FutureRecords',
  /** Producer duplicates (same id field) skipped. */
  DuplicateRecords: 'DuplicateRecords',
  /** Records skipped because a previous delivery of the same Kinesis record was already applied. */
  RedeliveredRecords: 'RedeliveredRecords',
  /** Windows that became final in the batch. */
  FinalWindows: 'FinalWindows',
  /** Corrections emitted for final windows (latePolicy "update"). */
  Corrections: 'Corrections',
  /** Messages sent to the dead-letter queue. */
  DeadLetters: 'DeadLetters',
  /** now − watermark of the shard, in milliseconds. */
  WatermarkLagMs: 'WatermarkLagMs',
  /** Write time − event time of the newest record applied, in milliseconds. */
  FeatureFreshnessMs: 'FeatureFreshnessMs',
  /** DynamoDB write requests issued by the batch. */
  StateWrites: 'StateWrites',
  /** Conditional writes that failed their condition (a concurrent or stale writer). */
  ConditionConflicts: 'ConditionConflicts',
  /** Quiet shards whose watermark a tick advanced by the clock (caught up, nothing unread; SPEC §12). */
  IdleAdvances: 'IdleAdvances',
  /** Wall time of one handler invocation, in milliseconds. */
  BatchDurationMs: 'BatchDurationMs',
  /** Predictions written (scoring): one per applied record, once. */
  Predictions: 'Predictions',
  /** Predictions at or above the model's threshold. */
  PositivePredictions: 'PositivePredictions',
  /** Event arrival in the stream → its prediction written, per prediction (ms; read p50/p99). */
  PredictionLatencyMs: 'PredictionLatencyMs',
  /** Scoring time − newest event time among the features the model read, per prediction (ms). */
  ScoringFeatureAgeMs: 'ScoringFeatureAgeMs',
  /** Data quality at scoring time: the (prediction, feature) values the model read, and of them the empty ones, the stale ones (stale or written after the time asked for) and the unavailable ones. */
  ScoredFeatureValues: 'ScoredFeatureValues',
  ScoredFeaturesEmpty: 'ScoredFeaturesEmpty',
  ScoredFeaturesStale: 'ScoredFeaturesStale',
  ScoredFeaturesUnavailable: 'ScoredFeaturesUnavailable',
  /** Label records received (re-deliveries included). */
  LabelsIn: 'LabelsIn',
  /** Labels joined to their prediction, once each. */
  LabelsJoined: 'LabelsJoined',
  /** Labels after their label window, or for a window already final: dead-lettered. */
  LateLabels: 'LateLabels',
  /** Labels naming no known prediction: dead-lettered. */
  UnmatchedLabels: 'UnmatchedLabels',
  /** Labels that are not valid JSON label objects: dead-lettered. */
  InvalidLabels: 'InvalidLabels',
  /** A second label for an already labeled prediction (same value: skipped; another value: dead-lettered). */
  DuplicateLabels: 'DuplicateLabels',
  /** Precision of a final evaluation window (emitted once it is final). */
  EvaluationPrecision: 'EvaluationPrecision',
  /** Recall of a final evaluation window. */
  EvaluationRecall: 'EvaluationRecall',
  /** Share of positive predictions in an evaluation window, final: no record of it can be scored anymore. */
  EvaluationPositiveRate: 'EvaluationPositiveRate',
  /** Population stability index of a window's scores against the reference window, final like the above. */
  EvaluationPsi: 'EvaluationPsi',
  /** The same two, provisional: every shard's watermark passed the window's end (late-applied records may follow). */
  EvaluationPositiveRateProvisional: 'EvaluationPositiveRateProvisional',
  EvaluationPsiProvisional: 'EvaluationPsiProvisional',
  /** Predictions counted in a final evaluation window. */
  EvaluatedPredictions: 'EvaluatedPredictions',
  /** Label time − prediction event time, median and 99th percentile over a final window's labels (ms). */
  LabelDelayP50Ms: 'LabelDelayP50Ms',
  LabelDelayP99Ms: 'LabelDelayP99Ms',
  /** The largest PSI of a feature's values (at scoring time) against the reference window's, with the window's final PSI. */
  EvaluationFeaturePsiMax: 'EvaluationFeaturePsiMax',
  /** Precision and recall of a window estimated from its scores before labels (label-join.ts estimatedPerformance), with its final PSI. */
  EvaluationEstimatedPrecision: 'EvaluationEstimatedPrecision',
  EvaluationEstimatedRecall: 'EvaluationEstimatedRecall',
  /** ROC AUC of a window estimated before labels; only with a calibration fitted on final windows. */
  EvaluationEstimatedRocAuc: 'EvaluationEstimatedRocAuc',
  /** With a final window's realized figures: the estimate published when it closed, less the realized figure. */
  EvaluationPrecisionEstimateError: 'EvaluationPrecisionEstimateError',
  EvaluationRecallEstimateError: 'EvaluationRecallEstimateError',
  EvaluationRocAucEstimateError: 'EvaluationRocAucEstimateError',
  /** A feature's PSI against the reference window (dimension Feature), with the window's final PSI. */
  EvaluationFeaturePsi: 'EvaluationFeaturePsi',
  /** A feature's share of the window's predictions that read it with no value (dimension Feature), and the largest over features. */
  EvaluationFeatureEmptyShare: 'EvaluationFeatureEmptyShare',
  EvaluationFeatureEmptyShareMax: 'EvaluationFeatureEmptyShareMax',
  /** Threshold-free measures of a final window (lambda/core/score-metrics.ts): ROC AUC and PR AUC (average precision). */
  EvaluationRocAuc: 'EvaluationRocAuc',
  EvaluationPrAuc: 'EvaluationPrAuc',
  /** Mean log loss, Brier score and expected calibration error of a final window's scores against its labels. */
  EvaluationLogLoss: 'EvaluationLogLoss',
  EvaluationBrier: 'EvaluationBrier',
  EvaluationCalibrationError: 'EvaluationCalibrationError',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** Metrics under the Feature dimension (per feature): graphed or queried by feature, not on the dashboard's Pipeline graphs (their maxima are). */
export const FEATURE_METRICS: readonly MetricName[] = [MetricName.EvaluationFeaturePsi, MetricName.EvaluationFeatureEmptyShare];

/** The counts the labels consumer emits per batch (the dashboard graphs them together). */
export const LABELS_BATCH_METRICS: readonly MetricName[] = [
  MetricName.LabelsIn,
  MetricName.LabelsJoined,
  MetricName.LateLabels,
  MetricName.UnmatchedLabels,
  MetricName.InvalidLabels,
  MetricName.DuplicateLabels,
];

/** The metrics the labels consumer emits (the feature consumer emits the others, evaluation windows' closing included). */
export const LABELS_METRICS: readonly MetricName[] = [
  ...LABELS_BATCH_METRICS,
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
  MetricName.EvaluationPrecisionEstimateError,
  MetricName.EvaluationRecallEstimateError,
  MetricName.EvaluationRocAucEstimateError,
];
