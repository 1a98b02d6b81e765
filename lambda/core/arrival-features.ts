/**
 * The features a record is scored with: its key's, as of the record's own arrival, from the engine's state right
 * after it applied the record. The state then holds the key's records that arrived before it and, of those that
 * arrived in the same millisecond, the ones up to the record itself in sequence order: the docs/semantics.md §7 answer as of
 * the arrival, except that a record of the same millisecond after it is left out (taking it in would make the
 * answer depend on where Lambda cut the batch). So it depends on the record and its shard's history alone: not
 * on the batch cut, nor on how far behind the consumer runs, nor on a retry. The consumer writes the predictions
 * before the key items, so a record found applied on a re-delivery always has its prediction already.
 */
import type { AppliedRecord } from './results';
import { type ServedFeature, keyShard, serveFeatures } from './serving';
import type { Entity } from './state';
import type { FeatureRuntime } from './windows/kind';

export interface ArrivalSource {
  readonly runtimes: readonly FeatureRuntime[];
  /** The key's entities in spec order, as held now. */
  entities(key: string): readonly (Entity | undefined)[];
  /** The shard's watermark now (−∞ before any record). */
  watermark(shard: string): number;
  /** From when the shard's state holds every record of a feature's definition (core/coverage.ts); default: always. */
  coveredFrom?(shard: string, f: FeatureRuntime): number;
}

export class ArrivalFeatures {
  private readonly taken = new Map<string, Readonly<Record<string, ServedFeature>>>();

  /**
   * `names`: the features the model reads. `fallbackAt`: the time a record without an arrival time is served
   * as of (the batch's clock).
   */
  public constructor(
    private readonly source: ArrivalSource,
    private readonly names: readonly string[],
    private readonly fallbackAt: number,
  ) {}

  /** Call after the engine applied `r` (a re-delivered record is not applied again: nothing to take). */
  public applied(r: AppliedRecord): void {
    if (r.redelivered) return;
    const at = this.at(r);
    const ents = this.source.entities(r.key);
    const shard = keyShard(ents) ?? r.shard;
    const w = this.source.watermark(shard);
    const covered = this.source.coveredFrom?.bind(this.source);
    // Served as from an item written at the arrival, holding the records applied so far.
    const meta = { watermark: Number.isFinite(w) ? w : null, writtenAt: at, ...(covered === undefined ? {} : { coveredFrom: (f: FeatureRuntime) => covered(shard, f) }) };
    const features: Record<string, ServedFeature> = {};
    for (const f of serveFeatures(this.source.runtimes, ents, at, meta, this.names)) features[f.feature] = f;
    this.taken.set(ArrivalFeatures.ref(r), features);
  }

  /** The time `r` is served as of: its arrival. */
  public at(r: Pick<AppliedRecord, 'arrivalTime'>): number {
    return r.arrivalTime ?? this.fallbackAt;
  }

  /** The features `r` is scored with; undefined for a record this batch did not apply (re-delivered). */
  public features(r: AppliedRecord): Readonly<Record<string, ServedFeature>> | undefined {
    return r.redelivered ? undefined : this.taken.get(ArrivalFeatures.ref(r));
  }

  /** One per record: a Kinesis (sub-)sequence number is unique within its shard. */
  private static ref(r: Pick<AppliedRecord, 'shard' | 'seq'>): string {
    return `${r.shard}|${r.seq}`;
  }
}
