/**
 * Publishes one batch's figures as CloudWatch metrics (EMF via Powertools Metrics), under the names the
 * dashboard and alarms use (metric-names.ts).
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchOutcome, ScoringOutcome } from './batch-processor';
import { featureAgeMs, featureQuality } from '../core/scoring';
import { MetricName } from '../contract/metric-names';

export function publishBatchMetrics(metrics: Metrics, recordsIn: number, o: BatchOutcome, durationMs: number): void {
  const c = o.counters;
  const count = (name: string, v: number): void => {
    metrics.addMetric(name, MetricUnit.Count, v);
  };
  count(MetricName.RecordsIn, recordsIn);
  count(MetricName.RecordsApplied, c.applied);
  count(MetricName.LateRecords, c.late);
  count(MetricName.InvalidRecords, c.invalid);
  count(MetricName.FutureRecords, c.future);
  count(MetricName.DuplicateRecords, c.duplicates);
  count(MetricName.RedeliveredRecords, c.redelivered + o.skipped);
  count(MetricName.FinalWindows, c.finalWindows);
  count(MetricName.Corrections, c.corrections);
  count(MetricName.DeadLetters, o.deadLetters);
  count(MetricName.StateWrites, o.stateWrites);
  count(MetricName.ConditionConflicts, o.conflicts);
  for (const lag of o.watermarkLagMs.values()) metrics.addMetric(MetricName.WatermarkLagMs, MetricUnit.Milliseconds, lag);
  if (o.freshnessMs !== undefined) metrics.addMetric(MetricName.FeatureFreshnessMs, MetricUnit.Milliseconds, o.freshnessMs);
  metrics.addMetric(MetricName.BatchDurationMs, MetricUnit.Milliseconds, durationMs);
  if (o.scoring !== undefined) addScoringMetrics(metrics, o.scoring);
  metrics.publishStoredMetrics();
}

/** EMF takes at most 100 values per metric in one document. */
const MAX_VALUES = 100;

/** At most 100 of the values, at evenly spaced ranks of their order: the distribution CloudWatch's percentiles read. */
export function spreadSample(values: readonly number[], max = MAX_VALUES): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length <= max) return sorted;
  return Array.from({ length: max }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]!);
}

/**
 * Scoring's figures: predictions written, positives, arrival → prediction latency, the age of the features used,
 * and the features the model read by status (data quality at scoring time).
 */
export function addScoringMetrics(metrics: Metrics, s: ScoringOutcome): void {
  metrics.addMetric(MetricName.Predictions, MetricUnit.Count, s.predictions.length);
  metrics.addMetric(MetricName.PositivePredictions, MetricUnit.Count, s.predictions.filter((p) => p.positive).length);
  for (const v of spreadSample(s.latencyMs)) metrics.addMetric(MetricName.PredictionLatencyMs, MetricUnit.Milliseconds, v);
  const ages = s.predictions.map(featureAgeMs).filter((a): a is number => a !== null);
  for (const v of spreadSample(ages)) metrics.addMetric(MetricName.ScoringFeatureAgeMs, MetricUnit.Milliseconds, v);
  // Counts, not shares: a share over many batches is Sum(empty) / Sum(values), which averaging shares would skew.
  const q = featureQuality(s.predictions);
  metrics.addMetric(MetricName.ScoredFeatureValues, MetricUnit.Count, q.values);
  metrics.addMetric(MetricName.ScoredFeaturesEmpty, MetricUnit.Count, q.empty);
  metrics.addMetric(MetricName.ScoredFeaturesStale, MetricUnit.Count, q.stale);
  metrics.addMetric(MetricName.ScoredFeaturesUnavailable, MetricUnit.Count, q.unavailable);
}
