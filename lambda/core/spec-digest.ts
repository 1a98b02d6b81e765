/**
 * A short digest of what decides a served value besides the records: the allowed lateness, the future-skew guard,
 * the late policy, the correction horizon and each feature's definition. The served log carries it, so the
 * consistency check can tell a row served under another definition (which may match by chance, or not at all)
 * from a row that disagrees.
 */
import { hash53 } from './aggregates/hash';
import type { PipelineSpec } from './spec';

export function specDigest(spec: PipelineSpec): string {
  const { allowedLatenessMs, maxFutureSkewMs } = spec.watermark;
  const features = spec.features.map((f) => [f.name, f.window, f.aggregate, f.field ?? null, (f as { percentile?: number }).percentile ?? null, (f as { relativeAccuracy?: number }).relativeAccuracy ?? null]);
  const text = JSON.stringify([allowedLatenessMs, maxFutureSkewMs ?? null, spec.latePolicy, spec.correctionHorizonMs ?? null, features]);
  return hash53(text).toString(16).padStart(14, '0');
}
