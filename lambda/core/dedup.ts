/**
 * Producer-id memory (de-duplication): a valid record whose id the key has already seen is a producer retry. Ids
 * are remembered per key for the id retention of event time behind the watermark; a retry arriving later is late
 * for every window it could belong to, so it can never be applied twice.
 */
import { longestWindowMs, type PipelineSpec } from './spec';
import type { SeenId } from './state';

/**
 * How long a producer id is remembered, in event time behind the watermark: the longest window plus allowed
 * lateness. A retry arriving later is late for every window it could belong to (they all end by its event time
 * plus the longest window), so it is rejected as late and cannot be applied twice. Under "update" late records
 * are applied, and a global window is never final, so then ids are kept for good.
 */
export function idRetentionMs(spec: PipelineSpec): number {
  if (spec.latePolicy === 'update' || spec.features.some((f) => f.window.type === 'global')) return Infinity;
  return longestWindowMs(spec) + spec.watermark.allowedLatenessMs;
}

export class ProducerIds {
  public constructor(
    private readonly retentionMs: number,
    private readonly watermark: (shard: string) => number,
  ) {}

  /**
   * True for a producer retry. Otherwise remembers the id and returns false. An id past its retention counts as
   * unseen at lookup, so the outcome never depends on batch boundaries. It is judged on the retry's own shard:
   * there the retry is then late for every window, so never applied twice.
   */
  public isDuplicate(ids: Map<string, SeenId>, id: string, shard: string, seq: string, time: number): SeenId | boolean {
    const first = ids.get(id);
    if (first === undefined || first.time + this.retentionMs <= this.watermark(shard)) {
      const seen = { shard, seq, time };
      ids.set(id, seen);
      return seen;
    }
    // The same Kinesis record delivered again is not a producer duplicate.
    return !(first.shard === shard && first.seq === seq);
  }

  /** Forgets ids whose event time is so far behind their shard's watermark that no window takes them. */
  public prune(ids: Map<string, SeenId>): void {
    if (!Number.isFinite(this.retentionMs)) return;
    // Ids are inserted roughly in event-time order: prune from the oldest, stop at the first one still needed.
    for (const [id, s] of ids) {
      if (s.time + this.retentionMs > this.watermark(s.shard)) break;
      ids.delete(id);
    }
  }
}
