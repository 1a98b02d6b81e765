/**
 * The stream archive in S3 (layout: core/archive.ts, docs/history.md). The consumer puts each delivered batch's
 * records before it processes them, so every record it was given is archived whether or not the batch then
 * succeeds; one PUT per batch, shard and arrival hour. Readers list objects, keep the hours of an arrival-time
 * range, and de-duplicate by (shard, sequence number), so neither a retried nor a bisected batch shows a record
 * twice.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ARCHIVE_OBJECT_PREFIX } from '../contract/resources';
import { ARCHIVE_SUFFIX, ArchiveError, type ArchivedRecord, archiveObjects, dedupeAndOrder, hourFolder, hourOfKey, parseArchiveLine } from '../core/archive';
import type { WriteGate } from './state-store';

/** The prefix of a pipeline's archive in its bucket (ends with '/'). */
export function archivePrefix(pipeline: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(pipeline)) throw new ArchiveError(`pipeline name must be 1-128 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(pipeline)}`);
  return `${ARCHIVE_OBJECT_PREFIX}/${pipeline}/`;
}

export interface ArchiveWriterOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly pipeline: string;
  readonly writeGate?: WriteGate;
}

export class ArchiveWriter {
  /** PutObject calls made (each billed as a PUT request). */
  public puts = 0;
  /** Compressed bytes put. */
  public bytes = 0;

  public constructor(private readonly o: ArchiveWriterOptions) {}

  /** Puts the batch's records, one object per shard and arrival hour, concurrently. Returns the keys written. */
  public async putBatch(records: readonly ArchivedRecord[]): Promise<string[]> {
    const objects = archiveObjects(archivePrefix(this.o.pipeline), records);
    return Promise.all(
      objects.map(async (obj) => {
        await this.o.writeGate?.(`PutObject ${obj.key}`);
        // Level 6 and no timestamp in the gzip header: the same records always compress to the same bytes.
        const body = gzipSync(Buffer.from(obj.body, 'utf8'), { level: 6 });
        await this.o.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: obj.key, Body: body, ContentType: 'application/gzip' }));
        this.puts++;
        this.bytes += body.length;
        return obj.key;
      }),
    );
  }
}

/** Where archive objects are read from: S3 (below) or a local folder in the same layout (bin/history). */
export interface ArchiveStore {
  /** How the location is named in messages. */
  readonly name: string;
  /** Every object key under the location, relative to it. */
  list(): Promise<string[]>;
  /** An object's bytes; an error naming the key when it is missing. */
  get(key: string): Promise<Uint8Array>;
  /** The keys right under `prefix` (a folder, ending with '/', or '') and its sub-folders: one level, not all. */
  listLevel?(prefix: string): Promise<{ keys: string[]; folders: string[] }>;
}

export class S3ArchiveStore implements ArchiveStore {
  public readonly name: string;
  /** Requests made, for cost figures. */
  public lists = 0;
  public gets = 0;

  public constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {
    this.name = `s3://${bucket}/${prefix}`;
  }

  public async list(): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      this.lists++;
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  public async listLevel(prefix: string): Promise<{ keys: string[]; folders: string[] }> {
    const keys: string[] = [];
    const folders: string[] = [];
    let token: string | undefined;
    const base = `${this.prefix}${prefix}`;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, Delimiter: '/', ...(token === undefined ? {} : { ContinuationToken: token }) }));
      this.lists++;
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key.slice(this.prefix.length));
      for (const c of page.CommonPrefixes ?? []) if (c.Prefix !== undefined) folders.push(c.Prefix.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return { keys, folders };
  }

  public async get(key: string): Promise<Uint8Array> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${key}` }));
      this.gets++;
      return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (e) {
      const err = e as Error;
      // A missing object is named and final; a throttled or dropped request keeps its name, so callers may retry it.
      if (err.name === 'NoSuchKey' || err.name === 'NotFound') throw new ArchiveError(`archive object ${this.name}${key}: cannot read (${err.name}: ${err.message})`);
      err.message = `archive object ${this.name}${key}: cannot read (${err.name}: ${err.message})`;
      throw err;
    }
  }
}

export interface ArchiveRange {
  /** First arrival time included (epoch ms). @default the archive's start */
  readonly from?: number;
  /** First arrival time excluded (epoch ms). @default the archive's end */
  readonly to?: number;
}

/** The archive's object keys of the range, grouped by arrival hour, hours in order. */
export async function archiveHours(store: ArchiveStore, range: ArchiveRange = {}): Promise<Array<{ hour: number; keys: string[] }>> {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  if (from >= to) throw new ArchiveError(`empty arrival-time range: from ${from} is not before to ${to}`);
  const hours = new Map<number, string[]>();
  for (const key of await store.list()) {
    if (!key.endsWith(ARCHIVE_SUFFIX)) continue;
    const hour = hourOfKey(key);
    if (hour === undefined) throw new ArchiveError(`archive object ${store.name}${key}: not in the archive layout (dt=yyyy-mm-dd/hh=hh/<shard>-<first>-<last>${ARCHIVE_SUFFIX})`);
    if (hour + 3_600_000 <= from || hour >= to) continue;
    (hours.get(hour) ?? hours.set(hour, []).get(hour)!).push(key);
  }
  return [...hours.entries()].sort(([a], [b]) => a - b).map(([hour, keys]) => ({ hour, keys: keys.sort() }));
}

/** An object's records; a truncated or corrupt object is an error naming it (and the line). */
export async function readArchiveObject(store: ArchiveStore, key: string): Promise<ArchivedRecord[]> {
  const where = `archive object ${store.name}${key}`;
  let text: string;
  try {
    text = gunzipSync(await store.get(key)).toString('utf8');
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`${where}: not a complete gzip object (${(e as Error).message})`);
  }
  if (text.length > 0 && !text.endsWith('\n')) throw new ArchiveError(`${where}: truncated (the last line has no newline)`);
  const lines = text.split('\n');
  lines.pop();
  const hour = hourOfKey(key);
  return lines.map((line, i) => {
    const r = parseArchiveLine(line, `${where} line ${i + 1}`);
    // Objects are partitioned by each record's own arrival hour: a record elsewhere means a corrupt object.
    const at = r.arrivalTime ?? 0;
    if (hour !== undefined && (at < hour || at >= hour + 3_600_000)) {
      throw new ArchiveError(`${where} line ${i + 1}: arrival time ${r.arrivalTime} is outside the object's hour`);
    }
    return r;
  });
}

/**
 * The records of an arrival-time range, hour by hour, each record once, in the order one consumer met them
 * (`dedupeAndOrder`). Memory holds one hour of records.
 */
export async function* readArchive(store: ArchiveStore, range: ArchiveRange = {}): AsyncGenerator<ArchivedRecord[]> {
  for (const { keys } of await archiveHours(store, range)) {
    const records = await readArchiveHour(store, keys, range);
    if (records.length > 0) yield records;
  }
}

/**
 * The arrival hours of a range, found by listing folders level by level (dates, then their hours) where the store
 * can: a plan over months of archive makes a few hundred requests, not one per thousand objects. Hours come in
 * order; their objects are listed by `archiveHourKeys` when read.
 */
export async function archiveHourFolders(store: ArchiveStore, range: ArchiveRange = {}): Promise<number[]> {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  if (from >= to) throw new ArchiveError(`empty arrival-time range: from ${from} is not before to ${to}`);
  // Anything outside the plain layout is read (or refused, by name) exactly as the one-process reader does.
  const whole = async (): Promise<number[]> => (await archiveHours(store, range)).map((h) => h.hour);
  if (store.listLevel === undefined) return whole();
  const hours: number[] = [];
  const top = await store.listLevel('');
  if (top.keys.some((k) => k.endsWith(ARCHIVE_SUFFIX))) return whole();
  for (const day of top.folders) {
    const d = /^dt=(\d{4}-\d{2}-\d{2})\/$/.exec(day);
    const start = d === null ? NaN : Date.parse(`${d[1]}T00:00:00Z`);
    if (Number.isNaN(start)) return whole();
    if (start + 86_400_000 <= from || start >= to) continue;
    const level = await store.listLevel(day);
    if (level.keys.some((k) => k.endsWith(ARCHIVE_SUFFIX))) return whole();
    for (const folder of level.folders) {
      const hour = /^dt=\d{4}-\d{2}-\d{2}\/hh=\d{2}\/$/.test(folder) ? hourOfKey(`${folder}x`) : undefined;
      if (hour === undefined) return whole();
      if (hour + 3_600_000 <= from || hour >= to) continue;
      hours.push(hour);
    }
  }
  return hours.sort((a, b) => a - b);
}

/** The object keys of one arrival hour, sorted. */
export async function archiveHourKeys(store: ArchiveStore, hour: number): Promise<string[]> {
  const folder = hourFolder(hour);
  if (store.listLevel === undefined) return (await store.list()).filter((k) => k.startsWith(folder) && k.endsWith(ARCHIVE_SUFFIX)).sort();
  const level = await store.listLevel(folder);
  if (level.folders.length > 0) throw new ArchiveError(`archive folder ${store.name}${level.folders[0]}: not in the archive layout (dt=yyyy-mm-dd/hh=hh/<shard>-<first>-<last>${ARCHIVE_SUFFIX})`);
  return level.keys.filter((k) => k.endsWith(ARCHIVE_SUFFIX)).sort();
}

/** One hour's records of the range (its objects' keys as `archiveHours` lists them), each once, in order. */
export async function readArchiveHour(store: ArchiveStore, keys: readonly string[], range: ArchiveRange = {}): Promise<ArchivedRecord[]> {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  const objects = await Promise.all(keys.map((k) => readArchiveObject(store, k)));
  // A record of unknown arrival is in no bounded range.
  return dedupeAndOrder(objects.flat().filter((r) => (r.arrivalTime === null ? from === -Infinity && to === Infinity : r.arrivalTime >= from && r.arrivalTime < to)));
}
