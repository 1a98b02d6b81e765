/**
 * The archive of the feature stream (docs/history.md): every record the consumer was delivered, as JSON lines in
 * gzip objects, one object per delivered batch, shard and arrival hour:
 *
 *   <prefix>dt=<yyyy-mm-dd>/hh=<hh>/<shardId>-<firstSeq>-<lastSeq>.jsonl.gz
 *
 * `prefix` is `archive/<pipeline>/` in the bucket; the hour is each record's own arrival hour (UTC), so a batch
 * spanning an hour boundary makes two objects and every copy of a record lands under the same hour. A retried
 * delivery names its objects alike and overwrites them with the same bytes; a bisected retry writes objects over
 * sub-ranges instead, so readers keep one record per (shard, sequence number) (`dedupeAndOrder`).
 *
 * One line per record: `{"shard", "seq", "sub"?, "pk", "at", "data", "lineage"?}` — Kinesis sequence number, KPL
 * sub-sequence number (aggregated records only), partition key, approximate arrival time (epoch ms), the payload
 * bytes in base64, and on the first records of a shard made by a split or merge, what it inherits from its parents
 * (docs/semantics.md §3, "Resharding"). Pure: compression and I/O live in the adapters.
 */
import { compareSeq } from './state';
import { decodeWtf8, encodeWtf8 } from './wtf8';

export interface ArchivedRecord {
  readonly shard: string;
  /** The Kinesis sequence number (decimal string). */
  readonly seq: string;
  /** The KPL sub-sequence number of a user record inside an aggregated record. */
  readonly sub?: number;
  readonly partitionKey: string;
  /**
   * Approximate arrival time, epoch ms; null when unknown (a local file run's line without one, which the replay
   * reads without a future check): such records are kept under the epoch's first hour.
   */
  readonly arrivalTime: number | null;
  readonly data: Uint8Array;
  /** Only on a child shard's first records: its parents and the highest event time they had seen. */
  readonly lineage?: ShardLineage;
}

/**
 * What a shard made by a split or merge takes over from its parents (docs/semantics.md §3): their ids, and the
 * highest event time of their valid records (null when they had none), which its watermark starts from.
 */
export interface ShardLineage {
  readonly parents: readonly string[];
  readonly maxEventTime: number | null;
}

/**
 * What an archived record's lineage gives the engine's input: a child shard's first record raises its watermark to
 * its parents' (`preset`), and names them (`parents`).
 */
export function lineagePreset(r: Pick<ArchivedRecord, 'lineage'>): { preset?: { shardMax: number; newestArrival: null }; parents?: readonly string[] } {
  const l = r.lineage;
  if (l === undefined) return {};
  return { parents: l.parents, ...(l.maxEventTime === null ? {} : { preset: { shardMax: l.maxEventTime, newestArrival: null } }) };
}

/** An archive object or line that cannot be read, or a record that cannot be archived; names the object and line. */
export class ArchiveError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** The sequence number the engine orders a record by: a KPL sub-record's carries its sub-sequence number. */
export function engineSeq(r: Pick<ArchivedRecord, 'seq' | 'sub'>): string {
  return r.sub === undefined ? r.seq : `${r.seq}.${String(r.sub).padStart(10, '0')}`;
}

const SHARD = /^[A-Za-z0-9._-]{1,128}$/;
const SEQ = /^(0|[1-9][0-9]{0,128})$/;
/** Year 10000: arrival times the archive's hour folders can name lie in [0, ARCHIVE_MAX_TIME). */
export const ARCHIVE_MAX_TIME = 253_402_300_800_000;
const MAX_TIME = ARCHIVE_MAX_TIME;
export const ARCHIVE_SUFFIX = '.jsonl.gz';

/** The `dt=…/hh=…/` folder of an arrival time. */
export function hourFolder(arrivalTime: number): string {
  const iso = new Date(arrivalTime).toISOString();
  return `dt=${iso.slice(0, 10)}/hh=${iso.slice(11, 13)}/`;
}

/** Start of the arrival hour a key's `dt=…/hh=…/` folder names (epoch ms); undefined for keys not in the layout. */
export function hourOfKey(key: string): number | undefined {
  const m = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})\/hh=(\d{2})\/[^/]+$/.exec(key);
  if (m === null) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}:00:00Z`);
  return Number.isNaN(t) ? undefined : t;
}

function checkRecord(r: ArchivedRecord): void {
  if (!SHARD.test(r.shard)) throw new ArchiveError(`shard id must be 1-128 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(r.shard)}`);
  if (!SEQ.test(r.seq)) throw new ArchiveError(`sequence number must be a decimal Kinesis sequence number, got ${JSON.stringify(r.seq)}`);
  if (r.sub !== undefined && (!Number.isInteger(r.sub) || r.sub < 0 || r.sub > 9_999_999_999)) throw new ArchiveError(`sub-sequence number must be an integer from 0 to 9999999999, got ${r.sub}`);
  if (r.arrivalTime !== null && (!Number.isFinite(r.arrivalTime) || r.arrivalTime < 0 || r.arrivalTime >= MAX_TIME)) throw new ArchiveError(`arrival time must be epoch milliseconds from 1970 to 9999, got ${r.arrivalTime}`);
  if (r.lineage !== undefined) {
    const bad = lineageProblem(r.lineage);
    if (bad !== undefined) throw new ArchiveError(`lineage ${bad}`);
  }
}

/** Why a lineage is malformed, or undefined. */
function lineageProblem(l: unknown): string | undefined {
  if (typeof l !== 'object' || l === null || Array.isArray(l)) return 'must be an object {"parents", "maxEventTime"}';
  const { parents, maxEventTime } = l as Record<string, unknown>;
  if (!Array.isArray(parents) || parents.length < 1 || parents.length > 2 || !parents.every((p) => typeof p === 'string' && SHARD.test(p))) {
    return `parents must be one or two shard ids, got ${JSON.stringify(parents)}`;
  }
  if (maxEventTime !== null && (typeof maxEventTime !== 'number' || !Number.isFinite(maxEventTime))) return `maxEventTime must be a number or null, got ${JSON.stringify(maxEventTime)}`;
  return undefined;
}

/** One archive line (without its newline). */
export function archiveLine(r: ArchivedRecord): string {
  return JSON.stringify({ shard: r.shard, seq: r.seq, ...(r.sub === undefined ? {} : { sub: r.sub }), pk: r.partitionKey, at: r.arrivalTime, data: Buffer.from(r.data).toString('base64'), ...(r.lineage === undefined ? {} : { lineage: { parents: r.lineage.parents, maxEventTime: r.lineage.maxEventTime } }) });
}

export interface ArchiveObject {
  readonly key: string;
  /** The object's lines, newline-terminated (compressed by the writer). */
  readonly body: string;
  readonly records: number;
}

/** The objects of one delivered batch: one per (shard, arrival hour), each named by its first and last record. */
export function archiveObjects(prefix: string, records: readonly ArchivedRecord[]): ArchiveObject[] {
  const groups = new Map<string, ArchivedRecord[]>();
  for (const r of records) {
    checkRecord(r);
    const g = `${hourFolder(r.arrivalTime ?? 0)}${r.shard}`;
    (groups.get(g) ?? groups.set(g, []).get(g)!).push(r);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([g, rs]) => {
    const sorted = [...rs].sort((a, b) => compareSeq(engineSeq(a), engineSeq(b)));
    const folder = g.slice(0, g.lastIndexOf('/') + 1);
    const shard = sorted[0]!.shard;
    return {
      key: `${prefix}${folder}${shard}-${engineSeq(sorted[0]!)}-${engineSeq(sorted[sorted.length - 1]!)}${ARCHIVE_SUFFIX}`,
      body: sorted.map((r) => `${archiveLine(r)}\n`).join(''),
      records: sorted.length,
    };
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses one archive line; `where` names the object and line in the error. */
export function parseArchiveLine(text: string, where: string): ArchivedRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ArchiveError(`${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ArchiveError(`${where}: not an archive line (a JSON object)`);
  const o = doc as Record<string, unknown>;
  const field = (name: string, ok: boolean, what: string): void => {
    if (!ok) throw new ArchiveError(`${where}: "${name}" must be ${what}`);
  };
  field('shard', typeof o.shard === 'string' && SHARD.test(o.shard), 'a shard id');
  field('seq', typeof o.seq === 'string' && SEQ.test(o.seq), 'a decimal sequence number string');
  field('sub', o.sub === undefined || (typeof o.sub === 'number' && Number.isInteger(o.sub) && o.sub >= 0), 'a non-negative integer');
  field('pk', typeof o.pk === 'string', 'a string (the partition key)');
  field('at', o.at === null || (typeof o.at === 'number' && Number.isFinite(o.at) && o.at >= 0), 'epoch milliseconds or null');
  field('data', typeof o.data === 'string' && o.data.length % 4 === 0 && BASE64.test(o.data), 'base64');
  const lineageBad = o.lineage === undefined ? undefined : lineageProblem(o.lineage);
  if (lineageBad !== undefined) throw new ArchiveError(`${where}: "lineage" ${lineageBad}`);
  const lineage = o.lineage as ShardLineage | undefined;
  return {
    shard: o.shard as string,
    seq: o.seq as string,
    ...(o.sub === undefined ? {} : { sub: o.sub as number }),
    partitionKey: o.pk as string,
    arrivalTime: o.at as number | null,
    data: Buffer.from(o.data as string, 'base64'),
    ...(lineage === undefined ? {} : { lineage: { parents: [...lineage.parents], maxEventTime: lineage.maxEventTime } }),
  };
}

/**
 * One hour's records, each (shard, sequence number) once, in the order a single consumer meets them: per shard in
 * sequence order; shards interleaved by arrival time (ties: shard id), as they arrived.
 */
export function dedupeAndOrder(records: readonly ArchivedRecord[]): ArchivedRecord[] {
  const byShard = new Map<string, Map<string, ArchivedRecord>>();
  for (const r of records) {
    const m = byShard.get(r.shard) ?? byShard.set(r.shard, new Map()).get(r.shard)!;
    const s = engineSeq(r);
    // A copy marked with its shard's lineage wins: a delivery that began with the record marked it.
    const had = m.get(s);
    if (had === undefined || (had.lineage === undefined && r.lineage !== undefined)) m.set(s, r);
  }
  const queues = [...byShard.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, m]) => [...m.entries()].sort(([a], [b]) => compareSeq(a, b)).map(([, r]) => r));
  const heads = queues.map(() => 0);
  const out: ArchivedRecord[] = [];
  for (;;) {
    let best = -1;
    for (let q = 0; q < queues.length; q++) {
      const r = queues[q]![heads[q]!];
      if (r !== undefined && (best < 0 || (r.arrivalTime ?? -Infinity) < (queues[best]![heads[best]!]!.arrivalTime ?? -Infinity))) best = q;
    }
    if (best < 0) return out;
    out.push(queues[best]![heads[best]!++]!);
  }
}

/**
 * An archived payload as the file replay holds it: a string (lone surrogates come back from their WTF-8 bytes);
 * bytes that no string encodes to (invalid UTF-8 from a producer) stay bytes, judged as the consumer judged them.
 */
export function archivedPayload(bytes: Uint8Array): string | Uint8Array {
  const text = decodeWtf8(bytes);
  return encodeWtf8(text).equals(bytes) ? text : bytes;
}
