/** Builds each feature's runtime: its accumulator and its window kind. */
import { type Aggregator, type AnyAcc, aggregatorFor } from '../aggregates';
import type { FeatureSpec, PipelineSpec } from '../spec';
import { GlobalWindows } from './global';
import type { FeatureRuntime, WindowKind } from './kind';
import { SessionWindows } from './session';
import { SlicedWindows } from './sliced';

export type { FeatureRuntime, FireSink, OpenWindow, WindowKind } from './kind';

function windowKind(f: FeatureSpec, agg: Aggregator<AnyAcc>, keepFinals: boolean): WindowKind {
  switch (f.window.type) {
    case 'session':
      return new SessionWindows(f.window.gapMs, agg);
    case 'global':
      return new GlobalWindows(f.window.trigger, agg);
    default:
      return new SlicedWindows({ ...f, window: f.window }, agg, keepFinals);
  }
}

/** One runtime per feature, in spec order. Under latePolicy "update", sliced windows keep their finals for corrections. */
export function featureRuntimes(spec: PipelineSpec): FeatureRuntime[] {
  const keepFinals = spec.latePolicy === 'update';
  return spec.features.map((f, fi) => {
    const agg = aggregatorFor(f);
    const window = windowKind(f, agg, keepFinals);
    const rt: FeatureRuntime = { fi, spec: f, agg, window };
    window.runtime = rt;
    return rt;
  });
}
