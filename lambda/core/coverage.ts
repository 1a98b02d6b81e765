/**
 * Which feature definitions a shard's state holds, and since when (docs/semantics.md §7, "Changed definitions").
 * A feature added or changed while the stream runs has state only from the records the new definition was applied
 * to: its windows that began before are partial. Per shard, each definition (its fingerprint, key-item.ts) is
 * registered with the event time from which every record of the shard was applied to it; serving reads a window
 * that began before then, or a definition never registered, as "unavailable", never as a partial or empty value.
 */

/** Per definition fingerprint: the event time from which the shard's records were all applied to it (null: all). */
export type Definitions = ReadonlyMap<number, number | null>;

/** `fp:since` pairs ("-" for all), comma-separated, in fingerprint order: a stable attribute value. */
export function encodeDefinitions(d: Definitions): string {
  return [...d]
    .sort(([a], [b]) => a - b)
    .map(([fp, since]) => `${fp}:${since === null ? '-' : since}`)
    .join(',');
}

/** @throws RangeError for text `encodeDefinitions` does not write. */
export function decodeDefinitions(text: string): Map<number, number | null> {
  const out = new Map<number, number | null>();
  if (text === '') return out;
  for (const pair of text.split(',')) {
    const m = /^(\d+):(-|-?\d+(?:\.\d+)?)$/.exec(pair);
    if (m === null) throw new RangeError(`definitions: ${JSON.stringify(pair)} is not fingerprint:since`);
    out.set(Number(m[1]), m[2] === '-' ? null : Number(m[2]));
  }
  return out;
}

/**
 * A shard's definitions once a batch of `fingerprints` runs on it: those not registered yet are, from just after
 * the shard's highest event time before the batch (`maxBefore`; null: the shard had no record, so from the start).
 * `registered` undefined means the shard has none recorded (a shard older than this record, or a new one): every
 * definition counts from the start, unless `inherited` (a child shard's, from its parents) says otherwise.
 * Returns undefined when nothing changes.
 */
export function registerDefinitions(
  registered: Definitions | undefined,
  fingerprints: readonly number[],
  maxBefore: number | null,
  inherited?: Definitions,
): Map<number, number | null> | undefined {
  const base = new Map(registered ?? inherited ?? []);
  let changed = registered === undefined;
  for (const fp of fingerprints) {
    if (base.has(fp)) continue;
    // Records at or below maxBefore may never have been applied to it; later ones all are.
    base.set(fp, registered === undefined && inherited === undefined ? null : maxBefore === null ? null : maxBefore + 1);
    changed = true;
  }
  return changed ? base : undefined;
}

/**
 * A child shard's definitions from its parents' (a split or merge): a definition counts from the latest of its
 * parents' times; a parent that did not hold it holds nothing of it up to its highest event time.
 */
export function inheritDefinitions(parents: ReadonlyArray<{ readonly definitions?: Definitions; readonly maxEventTime: number | null }>): Map<number, number | null> {
  const fps = new Set<number>();
  for (const p of parents) for (const fp of p.definitions?.keys() ?? []) fps.add(fp);
  const out = new Map<number, number | null>();
  for (const fp of fps) {
    let since: number | null = null;
    for (const p of parents) {
      // A parent with nothing recorded counts every definition from the start (see registerDefinitions).
      const s = p.definitions === undefined ? null : p.definitions.has(fp) ? p.definitions.get(fp)! : p.maxEventTime === null ? null : p.maxEventTime + 1;
      if (s !== null && (since === null || s > since)) since = s;
    }
    out.set(fp, since);
  }
  return out;
}

/**
 * The event time from which a definition's state is whole for a key on one of `shards` (its own shard when
 * known): the latest of their times; +∞ when one of them never held it. No shard recorded at all: −∞ (a table
 * written before definitions were recorded is read as before).
 */
export function coveredFrom(fp: number, shards: readonly Definitions[]): number {
  let from = -Infinity;
  for (const d of shards) {
    if (!d.has(fp)) return Infinity;
    const s = d.get(fp)!;
    if (s !== null && s > from) from = s;
  }
  return from;
}

/**
 * Both sets of definitions, each at the later of its times (null, from the start, is earliest): what a shard's
 * checkpoint keeps when a concurrent batch registered some too.
 */
export function mergeDefinitions(a: Definitions | undefined, b: Definitions | undefined): Definitions | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const out = new Map(a);
  for (const [fp, s] of b) {
    const t = out.get(fp);
    if (!out.has(fp) || (s !== null && (t === null || t === undefined || s > t))) out.set(fp, s);
  }
  return out;
}
