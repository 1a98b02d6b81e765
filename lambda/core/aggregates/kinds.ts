/** The aggregate kinds, and what a feature tells its accumulator (the spec's feature fields it reads). */
export type AggregateKind = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'distinct' | 'percentile' | 'first' | 'last';

export interface AggregateParams {
  readonly aggregate: AggregateKind;
  /** `percentile` only: the rank read, in (0, 1). */
  readonly percentile?: number;
  /** `percentile` only: relative error of the sketch. */
  readonly relativeAccuracy?: number;
}
