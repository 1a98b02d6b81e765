/**
 * Per-shard watermark (docs/semantics.md §2): W = max event time of valid, non-future records seen on the shard − allowed
 * lateness; −∞ before any record. A record is judged against W before it is observed.
 */
export interface ShardWatermark {
  /** Highest event time observed on the shard; null before any record. */
  maxEventTime: number | null;
}

export function watermarkOf(s: ShardWatermark, allowedLatenessMs: number): number {
  return s.maxEventTime === null ? -Infinity : s.maxEventTime - allowedLatenessMs;
}

export function observe(s: ShardWatermark, eventTime: number): void {
  if (s.maxEventTime === null || eventTime > s.maxEventTime) s.maxEventTime = eventTime;
}

/**
 * True for a record too far ahead of its arrival (maxFutureSkewMs): it is refused and never observed. One rule for
 * the engine and the backfill plan, which computes each shard's watermark ahead of the workers.
 */
export function aheadOfArrival(maxFutureSkewMs: number | undefined, eventTime: number, arrivalTime: number | undefined): boolean {
  return maxFutureSkewMs !== undefined && arrivalTime !== undefined && eventTime - arrivalTime > maxFutureSkewMs;
}
