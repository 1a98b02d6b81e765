/**
 * Final windows as append-only objects in S3, for training sets and audit: one JSON-lines object per batch, in the
 * format of `windows.jsonl` (lambda/core/output.ts), under a key that sorts by time:
 *
 *   finals/<pipeline>/<yyyy>/<mm>/<dd>/<hh>/<shardId>-<firstSeq>-<lastSeq>.jsonl
 *
 * The hour is the Kinesis arrival time of the batch's first record, not the time of the write: a retried batch
 * has the same records, so the same key, and its put overwrites the first attempt's object (idempotent). A retry
 * over a different range (a bisected batch) can put one window into two objects, always with the same value, so
 * the reader keeps one line per window.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type WindowLine, windowId, windowLineText } from '../core/output';

export const FINALS_PREFIX = 'finals';

/** A batch's final windows and the coordinates that name its object. */
export interface FinalWindowBatch {
  readonly pipeline: string;
  readonly shardId: string;
  /** Sequence numbers of the batch's first and last record (decimal strings, as Kinesis gives them). */
  readonly firstSeq: string;
  readonly lastSeq: string;
  /** Arrival time of the batch's first record, epoch ms (Kinesis approximateArrivalTimestamp × 1000). */
  readonly arrivalTime: number;
  readonly windows: readonly WindowLine[];
}

/** A name, sequence number, time or object that cannot make or be read as a final-window object. */
export class FinalWindowObjectError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'FinalWindowObjectError';
  }
}

// Characters that need no escaping in an S3 key and cannot fake a path level.
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const SEQ = /^(0|[1-9][0-9]{0,128})$/;

function checkName(what: string, value: string): void {
  if (!NAME.test(value) || value === '.' || value === '..') {
    throw new FinalWindowObjectError(`${what} must be 1-128 of A-Z a-z 0-9 . _ - (and not . or ..), got ${JSON.stringify(value)}`);
  }
}

/** The prefix under which a pipeline's objects live (ends with '/'). */
export function finalsPrefix(pipeline: string): string {
  checkName('pipeline name', pipeline);
  return `${FINALS_PREFIX}/${pipeline}/`;
}

/** The object key of a batch (see the top of this file); the same coordinates always give the same key. */
export function finalWindowObjectKey(b: Pick<FinalWindowBatch, 'pipeline' | 'shardId' | 'firstSeq' | 'lastSeq' | 'arrivalTime'>): string {
  checkName('shard id', b.shardId);
  for (const [what, seq] of [['first sequence number', b.firstSeq], ['last sequence number', b.lastSeq]] as const) {
    if (!SEQ.test(seq)) throw new FinalWindowObjectError(`${what} must be a decimal Kinesis sequence number, got ${JSON.stringify(seq)}`);
  }
  if (!Number.isFinite(b.arrivalTime) || b.arrivalTime < 0 || b.arrivalTime >= 253_402_300_800_000) {
    throw new FinalWindowObjectError(`arrival time must be epoch milliseconds from 1970 to 9999, got ${b.arrivalTime}`);
  }
  const hour = new Date(b.arrivalTime).toISOString().slice(0, 13).replace(/[-T]/g, '/'); // yyyy/mm/dd/hh, UTC
  return `${finalsPrefix(b.pipeline)}${hour}/${b.shardId}-${b.firstSeq}-${b.lastSeq}.jsonl`;
}

export interface FinalWindowObjectsOptions {
  readonly client: S3Client;
  readonly bucket: string;
}

export class FinalWindowObjectWriter {
  /** PutObject calls made (each one billed as a PUT request). */
  public puts = 0;
  public bytes = 0;

  public constructor(private readonly o: FinalWindowObjectsOptions) {}

  /** Puts the batch's windows as one object; a batch without windows puts nothing. Returns the key written. */
  public async putBatch(batch: FinalWindowBatch): Promise<string | undefined> {
    const key = finalWindowObjectKey(batch);
    if (batch.windows.length === 0) return undefined;
    let body = '';
    for (const w of batch.windows) body += `${windowLineText(w.feature, w.key, w.windowStart, w.windowEnd, w.value, w.count)}\n`;
    const bytes = Buffer.from(body, 'utf8');
    await this.o.client.send(
      new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: bytes, ContentType: 'application/x-ndjson' }),
    );
    this.puts++;
    this.bytes += bytes.length;
    return key;
  }
}

export interface ListFinalsOptions {
  /** Only keys after this one (an earlier read's last key, to read incrementally). */
  readonly startAfter?: string;
  /** Keys per ListObjectsV2 page. @default 1000 (the most S3 returns) */
  readonly pageSize?: number;
}

export class FinalWindowObjectReader {
  public constructor(private readonly o: FinalWindowObjectsOptions) {}

  /** A pipeline's object keys in key order (time, then shard, then sequence number). */
  public async keys(pipeline: string, opts: ListFinalsOptions = {}): Promise<string[]> {
    const prefix = finalsPrefix(pipeline);
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

  /** The lines of one object. */
  public async readObject(key: string): Promise<WindowLine[]> {
    const res = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
    const text = (await res.Body?.transformToString('utf8')) ?? '';
    const lines: WindowLine[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.length === 0) return;
      lines.push(parseWindowLine(line, `${key} line ${i + 1}`));
    });
    return lines;
  }

  /** Every final window of a pipeline, one line per window (a window met again in a later object replaces it). */
  public async readAll(pipeline: string, opts: ListFinalsOptions = {}): Promise<WindowLine[]> {
    const byId = new Map<string, WindowLine>();
    for (const key of await this.keys(pipeline, opts)) {
      for (const w of await this.readObject(key)) byId.set(windowId(w), w);
    }
    return [...byId.values()];
  }
}

function parseWindowLine(text: string, where: string): WindowLine {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FinalWindowObjectError(`${where}: not JSON`);
  }
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
  if (!ok) throw new FinalWindowObjectError(`${where}: not a final window line (feature, key, windowStart, windowEnd, value, count)`);
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
