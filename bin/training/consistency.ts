/**
 * Online/offline consistency (after Chronon): rows that serving answered (a sample the features client logs, one
 * JSON line each: `{"key", "at", "features": {"<name>": value}}`) are recomputed with the training rows' code from
 * the events, and compared feature by feature. A mismatch means the online answer did not hold exactly the records
 * that had arrived by its time: consumer lag (records arrived but not yet written), or a bug.
 */
import type { InputRecord } from '../../lambda/core/engine';
import { FeatureRequestError, entityKey, requestTime } from '../../lambda/core/feature-request';
import type { PipelineSpec } from '../../lambda/core/spec';
import { specDigest } from '../../lambda/core/spec-digest';
import { readLines } from '../cli/lines';
import { PointInTimeRows } from './rows';

export class ServedFileError extends Error {
  public constructor(line: number, detail: string) {
    super(`--served line ${line}: ${detail}`);
    this.name = 'ServedFileError';
  }
}

export interface ServedRow {
  readonly line: number;
  readonly key: string;
  readonly at: number;
  readonly features: Readonly<Record<string, number | null>>;
  /** The digest of the spec it was served under (core/spec-digest.ts); absent in logs written without one. */
  readonly spec?: string;
}

/**
 * Two numbers agree when equal within `relativeTolerance` of the larger magnitude: served sums add naively in
 * arrival order and the recomputation may round differently (1e-13 relative was seen), which is not a mismatch.
 */
export const DEFAULT_RELATIVE_TOLERANCE = 1e-9;

export interface FeatureConsistency {
  /** Served values compared. */
  readonly compared: number;
  readonly mismatches: number;
  /** mismatches / compared (0 when nothing was compared). */
  readonly mismatchShare: number;
  /** Largest |served − recomputed| among numeric mismatches; null when none (or only null against a number). */
  readonly largestDifference: number | null;
  /** Up to 5 mismatches, for a look: line, key, at, served, recomputed. */
  readonly examples: readonly { line: number; key: string; at: number; served: number | null; recomputed: number | null }[];
}

export interface ConsistencyReport {
  /** True when every feature of the spec was compared, nothing mismatched and every row was served under this spec. */
  readonly ok: boolean;
  readonly rows: number;
  readonly relativeTolerance: number;
  /** Features of the spec no served row holds: nothing about them was checked. */
  readonly notCompared: readonly string[];
  /** Rows served under other definitions (lateness, late policy, features) than the spec given: lines, up to 5. */
  readonly otherSpec: { readonly rows: number; readonly lines: readonly number[] };
  /** Rows without a spec digest (older logs): their lateness and late policy cannot be checked. */
  readonly specUnverified: number;
  readonly features: Readonly<Record<string, FeatureConsistency>>;
}

/** Whether a served value agrees with the recomputed one. */
export function agrees(served: number | null, recomputed: number | null, relativeTolerance = DEFAULT_RELATIVE_TOLERANCE): boolean {
  if (served === recomputed) return true;
  if (served === null || recomputed === null) return false;
  return Math.abs(served - recomputed) <= relativeTolerance * Math.max(Math.abs(served), Math.abs(recomputed));
}

/** One served line. @throws ServedFileError naming the line */
export function parseServedLine(text: string, line: number, spec: PipelineSpec): ServedRow {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ServedFileError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ServedFileError(line, 'must be a JSON object {"key", "at", "features"}');
  const o = doc as Record<string, unknown>;
  let key: string;
  let at: number;
  try {
    key = entityKey(o.key, 'key');
    at = requestTime(o.at, 'at');
  } catch (e) {
    if (e instanceof FeatureRequestError) throw new ServedFileError(line, e.message);
    throw e;
  }
  const f = o.features;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new ServedFileError(line, '"features" must be an object of feature name to value');
  const features: Record<string, number | null> = {};
  const known = new Set(spec.features.map((x) => x.name));
  for (const [name, v] of Object.entries(f as Record<string, unknown>)) {
    if (!known.has(name)) throw new ServedFileError(line, `feature ${JSON.stringify(name)} is not in the spec`);
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new ServedFileError(line, `features.${name} must be a number or null`);
    features[name] = v as number | null;
  }
  const digest = o.spec;
  if (digest !== undefined && typeof digest !== 'string') throw new ServedFileError(line, '"spec" must be a string (the spec digest)');
  return { line, key, at, features, ...(digest === undefined ? {} : { spec: digest }) };
}

export async function readServed(path: string, spec: PipelineSpec): Promise<ServedRow[]> {
  const rows: ServedRow[] = [];
  let line = 0;
  for await (const text of readLines(path)) {
    line += 1;
    if (text.trim().length > 0) rows.push(parseServedLine(text, line, spec));
  }
  return rows;
}

/** Compares served rows with the rows recomputed from `events` (batches in arrival order). */
export async function checkConsistency(
  spec: PipelineSpec,
  served: readonly ServedRow[],
  events: AsyncIterable<readonly InputRecord[]> | Iterable<readonly InputRecord[]>,
  relativeTolerance = DEFAULT_RELATIVE_TOLERANCE,
): Promise<ConsistencyReport> {
  const rows = new PointInTimeRows(
    spec,
    served.map((s) => ({ key: s.key, time: s.at })),
  );
  for await (const batch of events) rows.feed(batch);
  rows.finish();
  const features: Record<string, FeatureConsistency> = {};
  spec.features.forEach((f, fi) => {
    let compared = 0;
    let mismatches = 0;
    let largest: number | null = null;
    const examples: FeatureConsistency['examples'][number][] = [];
    served.forEach((s, i) => {
      if (!Object.hasOwn(s.features, f.name)) return;
      compared += 1;
      const got = s.features[f.name]!;
      const want = rows.value(i, fi);
      if (agrees(got, want, relativeTolerance)) return;
      mismatches += 1;
      if (got !== null && want !== null) largest = Math.max(largest ?? 0, Math.abs(got - want));
      if (examples.length < 5) examples.push({ line: s.line, key: s.key, at: s.at, served: got, recomputed: want });
    });
    features[f.name] = { compared, mismatches, mismatchShare: compared === 0 ? 0 : mismatches / compared, largestDifference: largest, examples };
  });
  const digest = specDigest(spec);
  const other = served.filter((s) => s.spec !== undefined && s.spec !== digest);
  const notCompared = spec.features.filter((f) => features[f.name]!.compared === 0).map((f) => f.name);
  const ok = other.length === 0 && notCompared.length === 0 && Object.values(features).every((f) => f.mismatches === 0);
  return {
    ok,
    rows: served.length,
    relativeTolerance,
    notCompared,
    otherSpec: { rows: other.length, lines: other.slice(0, 5).map((s) => s.line) },
    specUnverified: served.filter((s) => s.spec === undefined).length,
    features,
  };
}
