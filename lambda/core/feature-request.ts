/**
 * The online features request and response, shaped after Feast's `/get-online-features`: entity keys and
 * feature names in; per feature a column of values, statuses and event timestamps out (one entry per key, in
 * the request's order). Parsing refuses a bad request with the name of the field at fault.
 */
import { MAX_KEY_BYTES, parseEventTime } from './record';
import type { FeatureStatus, ServedFeature } from './serving';
import type { PipelineSpec } from './spec';

/** Keys one request may ask for: one BatchGetItem. */
export const MAX_KEYS_PER_REQUEST = 100;

/** A request that cannot be served, naming the field at fault (HTTP 400). */
export class FeatureRequestError extends Error {
  public constructor(
    public readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
    this.name = 'FeatureRequestError';
  }
}

export interface FeatureRequest {
  /** Entity keys as strings (keys compare as strings), in the request's order. */
  readonly keys: readonly string[];
  /** Feature names asked for; undefined: every feature of the spec. */
  readonly features: readonly string[] | undefined;
  /** Time the features are read as of (epoch ms); undefined: now. */
  readonly at: number | undefined;
}

/** One key's features as served: its state's watermark and write time, and each feature by name. */
export interface KeyFeatures {
  readonly key: string;
  /** False when the key has no stored state (every feature then reads empty). */
  readonly found: boolean;
  readonly watermark: number | null;
  readonly writtenAt: number | null;
  readonly features: Readonly<Record<string, ServedFeature>>;
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * A key as the pipeline compares it: a non-empty string or a finite number, as a string.
 * @throws FeatureRequestError naming `field`
 */
export function entityKey(v: unknown, field: string): string {
  let key: string;
  if (typeof v === 'string' && v.length > 0) key = v;
  else if (typeof v === 'number' && Number.isFinite(v)) key = String(v);
  else throw new FeatureRequestError(field, `must be a non-empty string or a finite number, got ${shown(v)}`);
  if (!key.isWellFormed()) throw new FeatureRequestError(field, 'holds a lone UTF-16 surrogate: no key has one');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new FeatureRequestError(field, `is over ${MAX_KEY_BYTES} bytes of UTF-8: no key is`);
  return key;
}

/**
 * A request time: epoch milliseconds or an ISO-8601 string (no offset: UTC), as records' times are read.
 * @throws FeatureRequestError naming `field`
 */
export function requestTime(v: unknown, field = 'at'): number {
  const t = parseEventTime(v);
  if (t === undefined) throw new FeatureRequestError(field, `must be a time (epoch milliseconds or ISO-8601), got ${shown(v)}`);
  return t;
}

/**
 * Checks feature names against the spec.
 * @throws FeatureRequestError naming `features[i]`
 */
export function checkFeatureNames(v: unknown, spec: PipelineSpec): string[] {
  if (!Array.isArray(v)) throw new FeatureRequestError('features', `must be an array of feature names, got ${shown(v)}`);
  const known = spec.features.map((f) => f.name);
  return v.map((name: unknown, i) => {
    if (typeof name !== 'string' || !known.includes(name)) throw new FeatureRequestError(`features[${i}]`, `is not a feature of this pipeline: ${shown(name)} (features: ${known.join(', ')})`);
    return name;
  });
}

/**
 * Parses a request body: `{"entities": {"<keyField>": [k1, k2, ...]}, "features"?: [...], "at"?: <time>}`.
 * @throws FeatureRequestError naming the field at fault
 */
export function parseFeatureRequest(body: unknown, spec: PipelineSpec): FeatureRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FeatureRequestError('body', `must be a JSON object, got ${shown(body)}`);
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'entities' && k !== 'features' && k !== 'at') throw new FeatureRequestError(k, 'is not a known field (allowed: entities, features, at)');
  const keyField = spec.source.keyField;
  const entities = o.entities;
  if (typeof entities !== 'object' || entities === null || Array.isArray(entities)) throw new FeatureRequestError('entities', `must be an object {"${keyField}": [keys]}, got ${shown(entities)}`);
  for (const k of Object.keys(entities)) if (k !== keyField) throw new FeatureRequestError(`entities.${k}`, `is not this pipeline's key field (it is "${keyField}")`);
  const field = `entities.${keyField}`;
  const raw = (entities as Record<string, unknown>)[keyField];
  if (!Array.isArray(raw)) throw new FeatureRequestError(field, `must be an array of keys, got ${shown(raw)}`);
  if (raw.length === 0) throw new FeatureRequestError(field, 'holds no keys: give at least one');
  if (raw.length > MAX_KEYS_PER_REQUEST) throw new FeatureRequestError(field, `holds ${raw.length} keys: at most ${MAX_KEYS_PER_REQUEST} a request`);
  const keys = raw.map((k: unknown, i) => entityKey(k, `${field}[${i}]`));
  const features = o.features === undefined ? undefined : checkFeatureNames(o.features, spec);
  const at = o.at === undefined ? undefined : requestTime(o.at);
  return { keys, features, at };
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const STATUS: Record<FeatureStatus, string> = { present: 'PRESENT', empty: 'EMPTY', stale: 'STALE', unavailable: 'UNAVAILABLE', 'written-after': 'WRITTEN_AFTER' };

/** Feast's response: `metadata.feature_names` (the key field first), then one column per name, one entry per key. */
export interface FeatureResponse {
  readonly metadata: {
    readonly feature_names: readonly string[];
    /** The request time, ISO-8601. */
    readonly at: string;
    /** Per key: whether it has stored state, its shard watermark and when its state was written (ISO-8601). */
    readonly found: readonly boolean[];
    readonly watermarks: readonly (string | null)[];
    readonly written_at: readonly (string | null)[];
  };
  readonly results: ReadonlyArray<{
    readonly values: readonly (number | string | null)[];
    readonly statuses: readonly string[];
    /** Newest event time in the value (ISO-8601), when known. */
    readonly event_timestamps: readonly (string | null)[];
    /** Features only: records in the window, and its bounds (ISO-8601; null for a global window or no session). */
    readonly counts?: readonly number[];
    readonly window_starts?: readonly (string | null)[];
    readonly window_ends?: readonly (string | null)[];
  }>;
}

export function featureResponse(spec: PipelineSpec, names: readonly string[], at: number, rows: readonly KeyFeatures[]): FeatureResponse {
  return {
    metadata: {
      feature_names: [spec.source.keyField, ...names],
      at: new Date(at).toISOString(),
      found: rows.map((r) => r.found),
      watermarks: rows.map((r) => iso(r.watermark)),
      written_at: rows.map((r) => iso(r.writtenAt)),
    },
    results: [
      { values: rows.map((r) => r.key), statuses: rows.map((r) => (r.found ? 'PRESENT' : 'NOT_FOUND')), event_timestamps: rows.map(() => null) },
      ...names.map((name) => {
        const col = rows.map((r) => r.features[name]!);
        return {
          values: col.map((f) => f.value),
          statuses: col.map((f) => STATUS[f.status]),
          event_timestamps: col.map((f) => iso(f.newestEventTime)),
          counts: col.map((f) => f.count),
          window_starts: col.map((f) => iso(f.windowStart)),
          window_ends: col.map((f) => iso(f.windowEnd)),
        };
      }),
    ],
  };
}
