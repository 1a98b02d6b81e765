/**
 * Producer-id memory (de-duplication): a valid record whose id the key has already seen is a producer retry. Ids
 * are remembered per key, as 53-bit hashes with the record's event time, for the id retention of event time
 * behind the watermark; a retry arriving later is late for every window it could belong to, so it can never be
 * applied twice. A hash costs 7 bytes where the id itself could take hundreds: two distinct ids of one key share
 * a hash with a chance of n / 2^53 per new id (n ids remembered; 6e-11 for a key holding 500,000).
 */
import { hash53 } from './aggregates/hash';
import { correctionHorizonMs, longestWindowMs, type PipelineSpec } from './spec';

/** Remembered ids of a key: id hash → event time of its first sighting. */
export type IdMemory = Map<number, number>;

/**
 * Id hash → a 16-bit tag of the sequence number of its first sighting (the consumer only). A Lambda re-delivery
 * of a record the key already handled is told apart from a producer retry handled alongside it by its tag, so a
 * retried delivery counts a retry as a duplicate again (a tag collision, 1 in 65,536, changes a counter only).
 */
export type IdTags = Map<number, number>;

export function seqTag(seq: string): number {
  return hash53(seq) % 65_536;
}

/**
 * How long a producer id is remembered, in event time behind the watermark: the longest window plus allowed
 * lateness (plus the correction horizon under "update", whose late records are still applied). A retry arriving
 * later is late for every window it could belong to, so it is rejected as late and cannot be applied twice. A
 * global window is never final, so with one ids are kept for good.
 */
export function idRetentionMs(spec: PipelineSpec): number {
  if (spec.features.some((f) => f.window.type === 'global')) return Infinity;
  return longestWindowMs(spec) + spec.watermark.allowedLatenessMs + correctionHorizonMs(spec);
}

export function idHash(id: string): number {
  return hash53(id);
}

export class ProducerIds {
  public constructor(
    private readonly retentionMs: number,
    private readonly watermark: (shard: string) => number,
  ) {}

  /**
   * True for a producer retry. Otherwise remembers the id and returns false. An id past its retention counts as
   * unseen at lookup, so the outcome never depends on batch boundaries. It is judged on the retry's own shard:
   * there the retry is then late for every window, so never applied twice. `older` holds ids loaded from
   * elsewhere (the consumer's id pages), read only.
   */
  public isDuplicate(ids: IdMemory, older: ReadonlyMap<number, number> | undefined, id: string, shard: string, time: number, tags?: IdTags, seq?: string): boolean {
    const h = idHash(id);
    const w = this.watermark(shard);
    const first = ids.get(h) ?? older?.get(h);
    if (first === undefined || first + this.retentionMs <= w) {
      ids.set(h, time);
      if (tags !== undefined && seq !== undefined) tags.set(h, seqTag(seq));
      return false;
    }
    return true;
  }

  /** True while an id first seen at event time `time` must still be remembered, given the watermark. */
  public live(time: number, watermark: number): boolean {
    return time + this.retentionMs > watermark;
  }

  /** Forgets ids whose event time is so far behind the watermark that no window takes them. */
  public prune(ids: IdMemory, watermark: number): void {
    if (!Number.isFinite(this.retentionMs)) return;
    for (const [h, t] of ids) if (t + this.retentionMs <= watermark) ids.delete(h);
  }
}
