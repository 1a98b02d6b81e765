/**
 * `--archive LOCATION [--from T] [--to T]` for the replay, training-set and consistency CLIs: the stream archive
 * (docs/history.md) as the engine's input. LOCATION is a local folder in the archive's S3 layout (what
 * `npm start` copies to DIR/archive/) or `s3://bucket/prefix` (the stack's archive bucket and
 * `archive/<pipeline>/`). Records come hour by hour, each once, in the order one consumer met them; each gets
 * its ordinal in that order as its line number, so for a one-shard archive of a file the rejected lines name
 * the file's lines.
 */
import { type Dirent, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type ArchiveRange, type ArchiveStore, S3ArchiveStore, readArchive } from '../../lambda/adapters/archive-objects';
import { s3Client } from '../../lambda/adapters/s3-client';
import { ArchiveError, archivedPayload, lineagePreset } from '../../lambda/core/archive';
import type { InputRecord } from '../../lambda/core/engine';
import { RecordDecoder, parseEventTime } from '../../lambda/core/record';
import type { PipelineSpec } from '../../lambda/core/spec';
import { type ParsedArgs, UsageError } from '../cli/args';
import type { RecordBatch } from '../replay/record-reader';

/** A local folder holding archive objects in their S3 layout. */
export class FolderArchiveStore implements ArchiveStore {
  /** The folder, ending with '/' so that name + key is the object's path. */
  public readonly name: string;

  public constructor(folder: string) {
    this.name = folder.endsWith('/') ? folder : `${folder}/`;
  }

  public async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) out.push(relative(this.name, p).split(sep).join('/'));
      }
    };
    walk(this.name);
    return out;
  }

  public async listLevel(prefix: string): Promise<{ keys: string[]; folders: string[] }> {
    const keys: string[] = [];
    const folders: string[] = [];
    let entries: Dirent[];
    try {
      entries = readdirSync(join(this.name, ...prefix.split('/').filter((p) => p.length > 0)), { withFileTypes: true });
    } catch {
      return { keys, folders };
    }
    for (const e of entries) {
      if (e.isDirectory()) folders.push(`${prefix}${e.name}/`);
      else if (e.isFile()) keys.push(`${prefix}${e.name}`);
    }
    return { keys: keys.sort(), folders: folders.sort() };
  }

  public async get(key: string): Promise<Uint8Array> {
    try {
      return readFileSync(join(this.name, ...key.split('/')));
    } catch (e) {
      throw new ArchiveError(`archive object ${join(this.name, key)}: cannot read (${(e as Error).message})`);
    }
  }
}

/** The store a LOCATION names; a folder must exist. */
export function openArchive(location: string): ArchiveStore {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (m !== null) {
    const prefix = m[2]!.length === 0 || m[2]!.endsWith('/') ? m[2]! : `${m[2]!}/`;
    return new S3ArchiveStore(s3Client({ maxAttempts: 8 }), m[1]!, prefix);
  }
  let isDir = false;
  try {
    isDir = statSync(location).isDirectory();
  } catch {
    throw new UsageError(`--archive ${location}: no such folder (give a folder in the archive layout, or s3://bucket/prefix)`);
  }
  if (!isDir) throw new UsageError(`--archive ${location} is a file; give the archive's folder (dt=.../hh=.../ below it), or s3://bucket/prefix`);
  return new FolderArchiveStore(location);
}

/** `--from` / `--to` as epoch ms; a usage error naming the option otherwise. */
export function archiveRange(from: unknown, to: unknown): ArchiveRange {
  const time = (name: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const t = parseEventTime(typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    if (t === undefined) throw new UsageError(`--${name} must be a time (epoch milliseconds or ISO-8601), got "${String(v)}"`);
    return t;
  };
  const range = { from: time('from', from), to: time('to', to) };
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) {
    throw new UsageError(`--from (${new Date(range.from).toISOString()}) must be before --to (${new Date(range.to).toISOString()}): the arrival-time range is empty`);
  }
  return { ...(range.from === undefined ? {} : { from: range.from }), ...(range.to === undefined ? {} : { to: range.to }) };
}

/**
 * The archive's records of the range as engine input batches. Reading an archive with no record in the range is
 * an error naming the location and range, never an empty result passed off as complete.
 */
export async function* archiveRecordBatches(store: ArchiveStore, range: ArchiveRange, spec: PipelineSpec, batchSize: number): AsyncGenerator<RecordBatch> {
  // Decoded here as the file reader decodes each line: readers of `decoded` (training rows) see the same.
  const decoder = new RecordDecoder(spec);
  let line = 0;
  let batch: InputRecord[] = [];
  for await (const hour of readArchive(store, range)) {
    for (const r of hour) {
      line += 1;
      const data = archivedPayload(r.data);
      batch.push({ data, shard: r.shard, seq: String(line), arrivalTime: r.arrivalTime ?? undefined, decoded: decoder.decode(data), ...lineagePreset(r) });
      if (batch.length >= batchSize) {
        yield { records: batch, lastLine: line, bytesRead: 0 };
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield { records: batch, lastLine: line, bytesRead: 0 };
  if (line === 0) {
    const bounds = `${range.from === undefined ? 'the start' : new Date(range.from).toISOString()} to ${range.to === undefined ? 'the end' : new Date(range.to).toISOString()}`;
    throw new ArchiveError(`archive ${store.name}: no record arrived in the range (${bounds})`);
  }
}

/** What a CLI reads: a records file, or an archive's range. */
export type EventsInput = { readonly path: string } | { readonly store: ArchiveStore; readonly range: ArchiveRange };

/** Exactly one of `--<fileOption>` and `--archive`; `--from`/`--to` only with `--archive`. */
export function chooseInput(args: ParsedArgs, fileOption: string): EventsInput {
  const file = args[fileOption] as string | undefined;
  const archive = args.archive as string | undefined;
  if (file !== undefined && archive !== undefined) throw new UsageError(`give --${fileOption} or --archive, not both`);
  if (file === undefined && archive === undefined) throw new UsageError(`--${fileOption} or --archive is required`);
  if (archive === undefined) {
    for (const o of ['from', 'to']) if (args[o] !== undefined) throw new UsageError(`--${o} needs --archive (it bounds the archive's arrival times)`);
    return { path: file! };
  }
  const range = archiveRange(args.from, args.to);
  return { store: openArchive(archive), range };
}
