/**
 * Final results as append-only objects in S3, for training sets and audit: per batch, one JSON-lines object per
 * kind of result that has lines — final windows (`windows.jsonl` lines), global-window firings, corrections —
 * under a key that sorts by time:
 *
 *   <kind>/<pipeline>/<yyyy>/<mm>/<dd>/<hh>/<shardId>-<firstSeq>-<lastSeq>-<digest>.jsonl
 *
 * The hour is the Kinesis arrival time of the batch's first record. The digest is of the object's contents: a
 * retried batch that computes the same lines puts the same object again (idempotent), and one that computes
 * fewer (some keys' state already written before a crash, so their windows do not fire again) puts a second
 * object instead of overwriting the first. A line can so appear in two objects, always identical: readers keep
 * one (`ResultObjectReader` does). One PUT per kind and batch, where a DynamoDB item per window cost a write each;
 * a kind's lines over `maxObjectBytes` (8 MiB) are cut into several objects at line ends.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FINALS_OBJECT_PREFIXES } from '../contract/resources';
import { type CorrectionLine, type FiringLine, type WindowLine, correctionLine, firingLine, windowLineText } from '../core/output';
import type { Correction, FinalWindow, Firing } from '../core/results';
import { pool } from './concurrency';
import type { WriteGate } from './state-store';

/** The kinds of result, each under its own top-level prefix (defined with the bucket's grant, in the contract). */
export type ResultKind = Exclude<keyof typeof FINALS_OBJECT_PREFIXES, 'deadLetterPayloads'>;

/** Where a batch's objects go: its pipeline, shard, sequence range and first arrival. */
export interface ResultBatch {
  readonly pipeline: string;
  readonly shardId: string;
  /** Sequence numbers of the batch's first and last record (decimal strings, as Kinesis gives them). */
  readonly firstSeq: string;
  readonly lastSeq: string;
  /** Arrival time of the batch's first record, epoch ms. */
  readonly arrivalTime: number;
}

/** A name, sequence number, time or object that cannot make or be read as a result object. */
export class ResultObjectError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ResultObjectError';
  }
}

// Characters that need no escaping in an S3 key and cannot fake a path level.
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const SEQ = /^(0|[1-9][0-9]{0,128})(\.[0-9]{10})?$/;

function checkName(what: string, value: string): void {
  if (!NAME.test(value) || value === '.' || value === '..') {
    throw new ResultObjectError(`${what} must be 1-128 of A-Z a-z 0-9 . _ - (and not . or ..), got ${JSON.stringify(value)}`);
  }
}

/** The prefix under which a pipeline's objects of one kind live (ends with '/'). */
export function resultPrefix(kind: ResultKind, pipeline: string): string {
  checkName('pipeline name', pipeline);
  return `${FINALS_OBJECT_PREFIXES[kind]}/${pipeline}/`;
}

/**
 * The arrival time that names a batch's objects: the record's own, or (a recorded clock with no usable time: a
 * replayed line without one, or before 1970) the write time. Readers skip a retry's copies by line, so the name
 * needs no stability across retries.
 */
export function objectArrivalTime(arrivalTime: number | undefined, writtenAt: number): number {
  return arrivalTime !== undefined && Number.isFinite(arrivalTime) && arrivalTime >= 0 && arrivalTime < 253_402_300_800_000 ? arrivalTime : writtenAt;
}

/** The object key of a batch's lines of one kind (see the top of this file). */
export function resultObjectKey(kind: ResultKind, b: ResultBatch, body: string): string {
  checkName('shard id', b.shardId);
  for (const [what, seq] of [['first sequence number', b.firstSeq], ['last sequence number', b.lastSeq]] as const) {
    if (!SEQ.test(seq)) throw new ResultObjectError(`${what} must be a decimal Kinesis sequence number, got ${JSON.stringify(seq)}`);
  }
  if (!Number.isFinite(b.arrivalTime) || b.arrivalTime < 0 || b.arrivalTime >= 253_402_300_800_000) {
    throw new ResultObjectError(`arrival time must be epoch milliseconds from 1970 to 9999, got ${b.arrivalTime}`);
  }
  const hour = new Date(b.arrivalTime).toISOString().slice(0, 13).replace(/[-T]/g, '/'); // yyyy/mm/dd/hh, UTC
  const digest = createHash('sha256').update(body, 'utf8').digest('hex').slice(0, 16);
  return `${resultPrefix(kind, b.pipeline)}${hour}/${b.shardId}-${b.firstSeq}-${b.lastSeq}-${digest}.jsonl`;
}

export interface ResultObjectsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly writeGate?: WriteGate;
  /**
   * Most bytes of one object: a kind's lines beyond it go to further objects (cut at line ends, each named by its
   * own digest), so an end-of-input flush of millions of windows is many bounded PUTs, not one huge one.
   * @default 8388608 (8 MiB)
   */
  readonly maxObjectBytes?: number;
}

export const DEFAULT_MAX_OBJECT_BYTES = 8 * 1024 * 1024;

/**
 * Lines cut into bodies of at most `max` UTF-8 bytes each, in order, at line ends (a single longer line is a body
 * of its own). The cut depends only on the lines, so a retry that computes the same lines names the same objects.
 */
export function splitBodies(lines: readonly string[], max: number): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line, 'utf8');
    if (part.length > 0 && bytes + size > max) {
      out.push(part.join(''));
      part = [];
      bytes = 0;
    }
    part.push(line);
    bytes += size;
  }
  if (part.length > 0) out.push(part.join(''));
  return out;
}

/** A batch's results as the engine returns them. */
export interface BatchResults {
  readonly finals: readonly FinalWindow[];
  readonly firings: readonly Firing[];
  readonly corrections: readonly Correction[];
}

export class ResultObjectWriter {
  /** PutObject calls made (each billed as a PUT request). */
  public puts = 0;
  public bytes = 0;

  public constructor(private readonly o: ResultObjectsOptions) {}

  /**
   * Puts the batch's results, one object per kind that has lines (more where they exceed `maxObjectBytes`), at most
   * four PUTs at a time. Returns the keys written.
   */
  public async putBatch(b: ResultBatch, r: BatchResults): Promise<string[]> {
    const max = this.o.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    const bodies: Array<[ResultKind, string]> = [];
    const add = (kind: ResultKind, lines: readonly string[]): void => {
      for (const body of splitBodies(lines, max)) bodies.push([kind, body]);
    };
    if (r.finals.length > 0) add('finals', r.finals.map((w) => `${windowLineText(w.feature, w.key, w.windowStart, w.windowEnd, w.value, w.count)}\n`));
    if (r.firings.length > 0) add('firings', r.firings.map((f) => `${JSON.stringify(firingLine(f))}\n`));
    if (r.corrections.length > 0) add('corrections', r.corrections.map((c) => `${JSON.stringify(correctionLine(c))}\n`));
    return pool(bodies, 4, ([kind, body]) => this.put(resultObjectKey(kind, b, body), body));
  }

  private async put(key: string, body: string): Promise<string> {
    await this.o.writeGate?.(`PutObject ${key}`);
    const bytes = Buffer.from(body, 'utf8');
    await this.o.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: bytes, ContentType: 'application/x-ndjson' }));
    this.puts++;
    this.bytes += bytes.length;
    return key;
  }
}

export interface ListResultsOptions {
  /** Only keys after this one (an earlier read's last key, to read incrementally). */
  readonly startAfter?: string;
  /** Keys per ListObjectsV2 page. @default 1000 (the most S3 returns) */
  readonly pageSize?: number;
}

export class ResultObjectReader {
  public constructor(private readonly o: Pick<ResultObjectsOptions, 'client' | 'bucket'>) {}

  /** A pipeline's object keys of one kind in key order (time, then shard, then sequence number). */
  public async keys(kind: ResultKind, pipeline: string, opts: ListResultsOptions = {}): Promise<string[]> {
    const prefix = resultPrefix(kind, pipeline);
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.o.client.send(
        new ListObjectsV2Command({
          Bucket: this.o.bucket,
          Prefix: prefix,
          MaxKeys: opts.pageSize ?? 1000,
          ...(token === undefined && opts.startAfter !== undefined ? { StartAfter: opts.startAfter } : {}),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  /** The lines of one object, as text. */
  public async readLines(key: string): Promise<string[]> {
    const res = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
    const text = (await res.Body?.transformToString('utf8')) ?? '';
    return text.split('\n').filter((l) => l.length > 0);
  }

  /** Every distinct line of a kind, in object order (a line met again in a later object is a retry's copy). */
  private async distinct(kind: ResultKind, pipeline: string, opts: ListResultsOptions): Promise<Array<[string, string]>> {
    const seen = new Set<string>();
    const out: Array<[string, string]> = [];
    for (const key of await this.keys(kind, pipeline, opts)) {
      (await this.readLines(key)).forEach((line, i) => {
        if (seen.has(line)) return;
        seen.add(line);
        out.push([line, `${key} line ${i + 1}`]);
      });
    }
    return out;
  }

  public async readWindows(pipeline: string, opts: ListResultsOptions = {}): Promise<WindowLine[]> {
    return (await this.distinct('finals', pipeline, opts)).map(([line, where]) => parseWindowLine(line, where));
  }

  public async readFirings(pipeline: string, opts: ListResultsOptions = {}): Promise<FiringLine[]> {
    return (await this.distinct('firings', pipeline, opts)).map(([line, where]) => parseJson(line, where) as FiringLine);
  }

  public async readCorrections(pipeline: string, opts: ListResultsOptions = {}): Promise<CorrectionLine[]> {
    return (await this.distinct('corrections', pipeline, opts)).map(([line, where]) => parseJson(line, where) as CorrectionLine);
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ResultObjectError(`${where}: not JSON`);
  }
}

function parseWindowLine(text: string, where: string): WindowLine {
  const v = parseJson(text, where);
  const o = v as Record<string, unknown>;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    typeof o.feature === 'string' &&
    typeof o.key === 'string' &&
    typeof o.windowStart === 'number' &&
    typeof o.windowEnd === 'number' &&
    (typeof o.value === 'number' || o.value === null) &&
    typeof o.count === 'number';
  if (!ok) throw new ResultObjectError(`${where}: not a final window line (feature, key, windowStart, windowEnd, value, count)`);
  return {
    feature: o.feature as string,
    key: o.key as string,
    windowStart: o.windowStart as number,
    windowEnd: o.windowEnd as number,
    // JSON has no NaN: the formatter writes a non-finite value as null, read back as NaN.
    value: o.value === null ? NaN : (o.value as number),
    count: o.count as number,
  };
}
