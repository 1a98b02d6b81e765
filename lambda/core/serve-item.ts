/**
 * A key's features as of T from its stored item (the bytes the consumer writes): the one path from an item to
 * served values, taken by the client library, the endpoint and scoring alike.
 */
import { decodeKeyItem } from './key-item';
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

/** `names`: the features wanted, in order (validated by the caller). */
export function serveItem(runtimes: readonly FeatureRuntime[], allowedLatenessMs: number, key: string, item: StoredKeyItem | undefined, at: number, names: readonly string[]): ServedItem {
  const decoded = item === undefined ? undefined : decodeKeyItem(runtimes, key, item.state);
  const ents = decoded?.ents ?? [];
  // The key's shard: that of its newest record (any of its shards when no feature names one).
  const shard = keyShard(ents) ?? decoded?.shards.keys().next().value;
  const newest = shard === undefined ? null : (decoded?.shards.get(shard)?.maxEventTime ?? null);
  const meta = { watermark: newest === null ? null : newest - allowedLatenessMs, writtenAt: item?.writtenAt ?? null };
  const features: Record<string, ServedFeature> = Object.create(null) as Record<string, ServedFeature>;
  for (const f of serveFeatures(runtimes, ents, at, meta, names)) features[f.feature] = f;
  return { found: item !== undefined, ...meta, features };
}
