/** Builds each feature's runtime: its accumulator and its window kind. */
import { type Aggregator, type AnyAcc, aggregatorFor } from '../aggregates';
import { type FeatureSpec, type PipelineSpec, servingRetentionMs } from '../spec';
import { GlobalWindows } from './global';
import type { FeatureRuntime, WindowKind } from './kind';
import { SessionWindows } from './session';
import { SlicedWindows } from './sliced';

export type { FeatureRuntime, FireSink, OpenWindow, WindowKind } from './kind';

function windowKind(f: FeatureSpec, agg: Aggregator<AnyAcc>, keepFinals: boolean, retainMs: number): WindowKind {
  switch (f.window.type) {
    case 'session':
      return new SessionWindows(f.window.gapMs, agg, retainMs);
    case 'global':
      return new GlobalWindows(f.window.trigger, agg);
    default:
      return new SlicedWindows({ ...f, window: f.window }, agg, keepFinals, retainMs);
  }
}

/**
 * One runtime per feature, in spec order. Under latePolicy "update", sliced windows keep their finals for
 * corrections; under every policy, final windows and sessions are kept for `servingRetentionMs` after they fire.
 */
export function featureRuntimes(spec: PipelineSpec): FeatureRuntime[] {
  const keepFinals = spec.latePolicy === 'update';
  const retainMs = servingRetentionMs(spec.watermark);
  return spec.features.map((f, fi) => {
    const agg = aggregatorFor(f);
    const window = windowKind(f, agg, keepFinals, retainMs);
    const rt: FeatureRuntime = { fi, spec: f, agg, window };
    window.runtime = rt;
    return rt;
  });
}
