/**
 * Publishes one batch's figures as CloudWatch metrics (EMF via Powertools Metrics), under the names the
 * dashboard and alarms use (metric-names.ts).
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchOutcome } from './batch-processor';
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
  metrics.publishStoredMetrics();
}
