/** The accumulator of each aggregate kind (docs/semantics.md §3, §6). */
import type { Aggregator } from './accumulator';
import type { AggregateParams } from './kinds';
import { BasicAggregator, isBasic } from './basic';
import { DistinctAggregator } from './distinct';
import { PickAggregator } from './first-last';
import { PercentileAggregator } from './percentile';

export type { Aggregator } from './accumulator';

export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/** Accumulators are opaque to the windows: they only move them between the aggregator's methods. */
export type AnyAcc = unknown;

export function aggregatorFor(f: AggregateParams): Aggregator<AnyAcc> {
  const kind = f.aggregate;
  if (isBasic(kind)) return new BasicAggregator(kind) as Aggregator<AnyAcc>;
  switch (kind) {
    case 'distinct':
      return new DistinctAggregator() as Aggregator<AnyAcc>;
    case 'percentile':
      return new PercentileAggregator(f.percentile!, f.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY) as Aggregator<AnyAcc>;
    case 'first':
    case 'last':
      return new PickAggregator(kind) as Aggregator<AnyAcc>;
  }
}
