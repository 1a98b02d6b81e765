/**
 * A key's features as of T from its stored item (the bytes the consumer writes): the one path from an item to
 * served values, taken by the client library, the endpoint and scoring alike.
 */
import { type Definitions, coveredFrom } from './coverage';
import { decodeKeyItem, featureFingerprint } from './key-item';
import { type ServedFeature, keyShard, serveFeatures } from './serving';
import type { FeatureRuntime } from './windows/kind';

export interface StoredKeyItem {
  /** The encoded key item. */
  readonly state: Uint8Array;
  /** When it was written, epoch ms. */
  readonly writtenAt: number | null;
}

export interface ServedItem {
  readonly found: boolean;
  readonly watermark: number | null;
  readonly writtenAt: number | null;
  readonly features: Record<string, ServedFeature>;
}

/**
 * `names`: the features wanted, in order (validated by the caller). `definitions`: per shard, the definitions its
 * state holds and since when (core/coverage.ts), read from the table's registry; a key is judged by its own
 * shard's, or by every shard's when it has no item yet. Without it (or for a shard it does not list), every
 * definition is taken as held from the start.
 */
export function serveItem(
  runtimes: readonly FeatureRuntime[],
  allowedLatenessMs: number,
  key: string,
  item: StoredKeyItem | undefined,
  at: number,
  names: readonly string[],
  definitions?: ReadonlyMap<string, Definitions>,
): ServedItem {
  const decoded = item === undefined ? undefined : decodeKeyItem(runtimes, key, item.state);
  const ents = decoded?.ents ?? [];
  // The key's shard: that of its newest record (any of its shards when no feature names one).
  const shard = keyShard(ents) ?? decoded?.shards.keys().next().value;
  const newest = shard === undefined ? null : (decoded?.shards.get(shard)?.maxEventTime ?? null);
  const held = definitions === undefined ? [] : shard !== undefined ? [definitions.get(shard)].filter((d): d is Definitions => d !== undefined) : [...definitions.values()];
  const meta = { watermark: newest === null ? null : newest - allowedLatenessMs, writtenAt: item?.writtenAt ?? null };
  const serving = held.length === 0 ? meta : { ...meta, coveredFrom: (f: FeatureRuntime) => coveredFrom(featureFingerprint(f), held) };
  const features: Record<string, ServedFeature> = Object.create(null) as Record<string, ServedFeature>;
  for (const f of serveFeatures(runtimes, ents, at, serving, names)) features[f.feature] = f;
  return { found: item !== undefined, ...meta, features };
}
