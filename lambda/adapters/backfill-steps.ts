/**
 * The backfill's steps (core/backfill.ts; docs/history.md, "Backfills"), as the state machine's tasks run them:
 * plan → segment (one per segment, in a Distributed Map) → combine → partition (one per partition, in a
 * Distributed Map) → finish. State passes between them as S3 objects under the run's prefix; the state machine
 * carries only their names and indexes (its payload limit is 256 KB).
 *
 * Every object a step writes has a name fixed by the run, the step and its index, and is written whole: a retried
 * step overwrites its own objects with the same bytes, so a retry has exactly-once effect, and a later step reads
 * only the objects of indexes the plan listed (a stray object from an aborted run under another prefix is never read).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ArchiveError, archivedPayload, lineagePreset } from '../core/archive';
import {
  type PlannedRecord,
  type SegmentBase,
  type SegmentSummary,
  ShardSpread,
  checkPartitions,
  combineSegments,
  planSegment,
  plannedInput,
} from '../core/backfill';
import { type InputFormat, InputLineError, WRAPPED, inputLineParser } from '../core/input-line';
import { type ReplaySummary, emptySummary } from '../core/output';
import { RecordDecoder } from '../core/record';
import { ReplayLoop, lineSink } from '../core/replay-loop';
import type { InputRecord } from '../core/results';
import { type PipelineSpec, parseSpecJson } from '../core/spec';
import { type ArchiveRange, type ArchiveStore, S3ArchiveStore, archiveHourFolders, archiveHourKeys, readArchiveHour } from './archive-objects';

/** Where a backfill reads: the stack's archive in S3; locally also an archive folder or a records file. */
export type BackfillSource =
  | { readonly kind: 'archive'; readonly bucket: string; readonly prefix: string }
  | { readonly kind: 'folder'; readonly path: string }
  | { readonly kind: 'file'; readonly path: string; readonly format?: InputFormat };

/** A segment: an archive hour (its objects are listed when it is read), or a byte range of a records file starting at a line. */
export type Segment = { readonly hour: number } | { readonly start: number; readonly end: number };

/** The execution's input. */
export interface BackfillRequest {
  /** Names the run: its objects go under `<outPrefix><runId>/`. */
  readonly runId: string;
  readonly source: BackfillSource;
  /** Arrival-time bounds of an archive source (epoch ms): from included, to excluded. */
  readonly from?: number;
  readonly to?: number;
  readonly partitions: number;
  /** The spec to compute, as JSON text. @default the function's own (PIPELINE_SPEC) */
  readonly spec?: string;
  /** A records file is cut into segments of about this many bytes. @default 64 MiB */
  readonly segmentBytes?: number;
}

/** What the plan writes as `run.json`. */
interface RunPlan {
  readonly spec: string;
  readonly source: BackfillSource;
  readonly range: ArchiveRange;
  readonly partitions: number;
  readonly segments: readonly Segment[];
}

/** The state a task gets: the bucket, the run's prefix, and the prefix of its intermediate objects (each ends with '/'). */
export interface RunRef {
  readonly bucket: string;
  readonly prefix: string;
  /** Intermediate objects (planned records, counts): under a prefix of their own, which a lifecycle rule expires. */
  readonly work: string;
}

export interface BackfillDeps {
  readonly s3: S3Client;
  /** The bucket the run's objects go to. */
  readonly bucket: string;
  /** Where runs go in the bucket (ends with '/'). */
  readonly outPrefix: string;
  /** Where runs' intermediate objects go (ends with '/'). */
  readonly workPrefix: string;
  /** The function's own spec (JSON text), for a request without one. */
  readonly defaultSpec?: string;
  /** Local runs only: sources the function cannot read on AWS (a folder, a file). */
  readonly allowLocalSources?: boolean;
  /** The archive store of a source (tests count requests on it). */
  readonly openArchive?: (source: BackfillSource) => ArchiveStore;
}

/** Summary of a partition worker, and of the run (summed). */
export interface BackfillSummary extends ReplaySummary {
  /** Keys whose records came from more than one shard: their late verdicts can depend on shard interleaving. */
  readonly keysOnSeveralShards: number;
}

/** A partition worker's summary object: its counters and the chunks of each output it wrote. */
export interface PartitionSummary extends BackfillSummary {
  readonly chunks: Record<string, number>;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const RUN_ID = /^[A-Za-z0-9._-]{1,80}$/;

export class BackfillError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'BackfillError';
  }
}

// ---- objects ------------------------------------------------------------------------------------------------

const key = (run: RunRef, name: string): string => `${run.prefix}${name}`;
const workKey = (run: RunRef, name: string): string => `${run.work}${name}`;
const pad = (n: number): string => String(n).padStart(5, '0');
export const segmentPartKey = (run: RunRef, segment: number, partition: number): string => workKey(run, `seg/${pad(segment)}/part-${pad(partition)}.jsonl.gz`);
const segmentSummaryKey = (run: RunRef, segment: number): string => workKey(run, `seg/${pad(segment)}/summary.json`);
/** A partition's output object; `file` one of windows, rejected, corrections, firings. */
export const partitionOutputKey = (run: RunRef, partition: number, file: string): string => key(run, `out/${file}/part-${pad(partition)}.jsonl.gz`);
const partitionSummaryKey = (run: RunRef, partition: number): string => key(run, `out/summary/part-${pad(partition)}.json`);
/** What a partition reads of each segment: its records' count and the chunks they were written in. */
const partitionCountsKey = (run: RunRef, partition: number): string => workKey(run, `counts/part-${pad(partition)}.json`);

export async function partitionSummary(s3: S3Client, run: RunRef, partition: number): Promise<PartitionSummary> {
  return getJson<PartitionSummary>(s3, run, partitionSummaryKey(run, partition));
}

async function putObject(s3: S3Client, bucket: string, k: string, body: Uint8Array | string, type: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: body, ContentType: type }));
}

async function getObject(s3: S3Client, bucket: string, k: string): Promise<Uint8Array> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (e) {
    // A missing object is a broken run (named, not retried); anything else (throttling, a dropped connection) is
    // thrown as it is, for the state machine to retry.
    if ((e as Error).name === 'NoSuchKey' || (e as Error).name === 'NotFound') throw new BackfillError(`backfill object s3://${bucket}/${k}: missing`);
    throw e;
  }
}

/** An object's bytes, or undefined when there is none. */
async function findObject(s3: S3Client, bucket: string, k: string): Promise<Uint8Array | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey' || (e as Error).name === 'NotFound') return undefined;
    throw e;
  }
}

async function putJson(s3: S3Client, run: RunRef, k: string, value: unknown): Promise<void> {
  await putObject(s3, run.bucket, k, JSON.stringify(value), 'application/json');
}

async function getJson<T>(s3: S3Client, run: RunRef, k: string): Promise<T> {
  const text = Buffer.from(await getObject(s3, run.bucket, k)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new BackfillError(`backfill object s3://${run.bucket}/${k}: not JSON (${(e as Error).message})`);
  }
}

/**
 * Lines as gzip objects (level 6, no timestamp: the same lines always make the same bytes) of at most
 * CHUNK_CHARS characters before compression each: `k`, then `k` numbered .1, .2, … Returns how many.
 */
async function putLines(s3: S3Client, run: RunRef, k: string, lines: readonly string[]): Promise<number> {
  const chunks: string[][] = [[]];
  let size = 0;
  for (const l of lines) {
    if (size + l.length + 1 > CHUNK_CHARS && chunks[chunks.length - 1]!.length > 0) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1]!.push(l);
    size += l.length + 1;
  }
  await Promise.all(
    chunks.map((c, i) => putObject(s3, run.bucket, chunkKey(k, i), gzipSync(Buffer.from(c.length === 0 ? '' : `${c.join('\n')}\n`, 'utf8'), { level: 6 }), 'application/gzip')),
  );
  return chunks.length;
}

/**
 * Characters of lines per object before compression: S3 takes 5 GB in one PUT, but a worker holds an object whole,
 * and the S3 emulator refuses bodies over 11 MiB (JSON lines compress 4 to 10 times).
 */
const CHUNK_CHARS = 24 * 1024 * 1024;

const chunkKey = (k: string, i: number): string => (i === 0 ? k : k.replace(/\.jsonl\.gz$/, `.${i}.jsonl.gz`));

/** The lines of an object written in `chunks` chunks by `putLines`. */
export async function getChunkedLines(s3: S3Client, run: RunRef, k: string, chunks: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < chunks; i++) for (const l of await getLines(s3, run, chunkKey(k, i))) out.push(l);
  return out;
}

/** A gzip lines object's lines; a truncated or corrupt one is an error naming it. */
async function getLines(s3: S3Client, run: RunRef, k: string): Promise<string[]> {
  let text: string;
  try {
    text = gunzipSync(await getObject(s3, run.bucket, k)).toString('utf8');
  } catch (e) {
    if (e instanceof BackfillError) throw e;
    throw new BackfillError(`backfill object s3://${run.bucket}/${k}: not a complete gzip object (${(e as Error).message})`);
  }
  if (text.length === 0) return [];
  if (!text.endsWith('\n')) throw new BackfillError(`backfill object s3://${run.bucket}/${k}: truncated (the last line has no newline)`);
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

// ---- steps --------------------------------------------------------------------------------------------------

export interface PlanResult {
  readonly run: RunRef;
  readonly segments: number[];
  readonly partitions: number[];
}

/** Lists the segments of the source and writes the run's plan. */
export async function planStep(deps: BackfillDeps, req: BackfillRequest): Promise<PlanResult> {
  if (typeof req.runId !== 'string' || !RUN_ID.test(req.runId)) throw new BackfillError(`runId must be 1-80 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(req.runId)}`);
  const partitions = checkPartitions(req.partitions);
  const specText = req.spec ?? deps.defaultSpec;
  if (specText === undefined) throw new BackfillError('spec: the request names none and the function has no PIPELINE_SPEC');
  parseSpecJson(specText);
  for (const [name, t] of [['from', req.from], ['to', req.to]] as const) {
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t))) throw new BackfillError(`${name} must be epoch milliseconds, got ${JSON.stringify(t)}`);
  }
  if (req.from !== undefined && req.to !== undefined && req.from >= req.to) throw new BackfillError(`from (${req.from}) must be before to (${req.to}): the arrival-time range is empty`);
  const run: RunRef = { bucket: deps.bucket, prefix: `${deps.outPrefix}${req.runId}/`, work: `${deps.workPrefix}${req.runId}/` };
  const range: ArchiveRange = { ...(req.from === undefined ? {} : { from: req.from }), ...(req.to === undefined ? {} : { to: req.to }) };
  const source = req.source;
  let segments: Segment[];
  if (source.kind === 'file') {
    if (!deps.allowLocalSources) throw new BackfillError('source: a records file is read by local runs only; on AWS give the archive');
    if (req.from !== undefined || req.to !== undefined) throw new BackfillError('from/to bound an archive\'s arrival times; a records file is read whole');
    segments = fileSegments(source.path, req.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
  } else {
    if (source.kind === 'folder' && !deps.allowLocalSources) throw new BackfillError('source: an archive folder is read by local runs only; on AWS give the archive bucket');
    segments = (await archiveHourFolders(openStore(deps, source), range)).map((hour) => ({ hour }));
    if (segments.length === 0) throw new ArchiveError(`archive ${storeName(source)}: no object in the range (${rangeText(range)})`);
  }
  const plan = JSON.stringify({ spec: specText, source, range, partitions, segments } satisfies RunPlan);
  // A run id names one run: a retried plan finds its own plan; another run's objects are never mixed in.
  const earlier = await findObject(deps.s3, run.bucket, key(run, 'run.json'));
  if (earlier !== undefined && Buffer.from(earlier).toString('utf8') !== plan) {
    throw new BackfillError(`runId ${req.runId}: already names a run with other inputs (s3://${run.bucket}/${key(run, 'run.json')}); give a new runId`);
  }
  await putObject(deps.s3, run.bucket, key(run, 'run.json'), plan, 'application/json');
  return { run, segments: segments.map((_, i) => i), partitions: Array.from({ length: partitions }, (_, i) => i) };
}

/** Plans one segment: its summary, and its records routed to their partitions. */
export async function segmentStep(deps: BackfillDeps, run: RunRef, index: number): Promise<{ records: number }> {
  const plan = await getJson<RunPlan>(deps.s3, run, key(run, 'run.json'));
  const segment = plan.segments[index];
  if (segment === undefined) throw new BackfillError(`segment ${index}: the plan has ${plan.segments.length}`);
  const spec = parseSpecJson(plan.spec);
  const decoder = new RecordDecoder(spec);
  let records: InputRecord[];
  let lines: number;
  let lineError: SegmentSummary['lineError'];
  if ('hour' in segment) {
    const store = openStore(deps, plan.source);
    const archived = await readArchiveHour(store, await archiveHourKeys(store, segment.hour), plan.range);
    records = archived.map((r, i) => ({ data: archivedPayload(r.data), shard: r.shard, seq: String(i + 1), ...(r.arrivalTime === null ? {} : { arrivalTime: r.arrivalTime }), ...lineagePreset(r) }));
    lines = records.length;
  } else {
    if (plan.source.kind !== 'file') throw new BackfillError(`segment ${index}: a byte range needs a records file`);
    ({ records, lines, lineError } = readFileSegment(plan.source.path, segment.start, segment.end, inputLineParser(plan.source.format ?? WRAPPED, spec.source)));
  }
  const { summary, parts } = planSegment(spec, records, lines, plan.partitions, decoder);
  const chunks = await Promise.all(parts.map((part, p) => (part.length === 0 ? 0 : putLines(deps.s3, run, segmentPartKey(run, index, p), part.map((r) => JSON.stringify(r))))));
  const counts = parts.map((p) => p.length);
  // The summary last: a segment whose summary exists has written every part.
  await putJson(deps.s3, run, segmentSummaryKey(run, index), { ...summary, ...(lineError === undefined ? {} : { lineError }), counts, chunks });
  return { records: records.length };
}

/** Each segment's base, from all summaries; fails the run on an unreadable input line or an empty range. */
export async function combineStep(deps: BackfillDeps, run: RunRef): Promise<{ run: RunRef; partitions: number[]; records: number }> {
  const plan = await getJson<RunPlan>(deps.s3, run, key(run, 'run.json'));
  const summaries = await mapLimit(plan.segments.length, 16, (i) => getJson<SegmentSummary & { counts: number[]; chunks: number[] }>(deps.s3, run, segmentSummaryKey(run, i)));
  const bases = combineSegments(summaries);
  const records = summaries.reduce((n, s) => n + s.records, 0);
  // An empty records file gives empty outputs, as the replay's; an archive range without records is an error, as there.
  if (records === 0 && plan.source.kind !== 'file') {
    throw new ArchiveError(`archive ${storeName(plan.source)}: no record arrived in the range (${rangeText(plan.range)})`);
  }
  await putJson(deps.s3, run, workKey(run, 'bases.json'), bases);
  // Each partition reads only its own column of the segments' counts (segments × partitions numbers in all).
  await mapLimit(plan.partitions, 16, (p) => putJson(deps.s3, run, partitionCountsKey(run, p), { counts: summaries.map((s) => s.counts[p] ?? 0), chunks: summaries.map((s) => s.chunks[p] ?? 0) }));
  return { run, partitions: Array.from({ length: plan.partitions }, (_, i) => i), records };
}

/** Runs the replay loop over one partition's records in the global order and writes its outputs. */
export async function partitionStep(deps: BackfillDeps, run: RunRef, partition: number, batchSize = 2000): Promise<BackfillSummary> {
  const plan = await getJson<RunPlan>(deps.s3, run, key(run, 'run.json'));
  if (!Number.isInteger(partition) || partition < 0 || partition >= plan.partitions) throw new BackfillError(`partition ${partition}: the plan has ${plan.partitions}`);
  const bases = await getJson<SegmentBase[]>(deps.s3, run, workKey(run, 'bases.json'));
  const { counts, chunks } = await getJson<{ counts: number[]; chunks: number[] }>(deps.s3, run, partitionCountsKey(run, partition));
  const spec: PipelineSpec = parseSpecJson(plan.spec);
  const { sink, lines: out } = lineSink();
  const loop = new ReplayLoop(spec, sink);
  const spread = new ShardSpread(bases[0]?.parents);
  const decoder = new RecordDecoder(spec);
  let batch: InputRecord[] = [];
  // Segments are read a few ahead of the loop.
  const wanted = bases.map((_, i) => i).filter((i) => (counts[i] ?? 0) > 0);
  const fetches = new Map<number, Promise<string[]>>();
  const fetch = (j: number): void => {
    const i = wanted[j];
    if (i !== undefined && !fetches.has(i)) fetches.set(i, getChunkedLines(deps.s3, run, segmentPartKey(run, i, partition), chunks[i]!));
  };
  for (let j = 0; j < wanted.length; j++) {
    for (let a = j; a < j + 4; a++) fetch(a);
    const i = wanted[j]!;
    const lines = await fetches.get(i)!;
    fetches.delete(i);
    if (lines.length !== counts[i]) throw new BackfillError(`backfill object s3://${run.bucket}/${segmentPartKey(run, i, partition)}: ${lines.length} records, the segment's summary says ${counts[i]}`);
    for (const text of lines) {
      const r = plannedInput(bases[i]!, JSON.parse(text) as PlannedRecord, decoder);
      if (r.decoded?.ok) spread.note(r.decoded.record.key, r.shard);
      batch.push(r);
      if (batch.length >= batchSize) {
        loop.batch(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) loop.batch(batch);
  const summary: BackfillSummary = { ...loop.finish(), keysOnSeveralShards: spread.keysOnSeveralShards };
  const files = outputFiles(spec);
  const written = await Promise.all(files.map((f) => putLines(deps.s3, run, partitionOutputKey(run, partition, f), out[f])));
  // The summary last: a partition whose summary exists has written every output.
  await putJson(deps.s3, run, partitionSummaryKey(run, partition), { ...summary, chunks: Object.fromEntries(files.map((f, i) => [f, written[i]!])) } satisfies PartitionSummary);
  return summary;
}

/** The run's summary (the partitions' summed) as `summary.json`; the outputs stay as the partitions wrote them. */
export async function finishStep(deps: BackfillDeps, run: RunRef): Promise<BackfillSummary & { partitions: number; outputs: string[] }> {
  const plan = await getJson<RunPlan>(deps.s3, run, key(run, 'run.json'));
  const parts = await mapLimit(plan.partitions, 16, (p) => partitionSummary(deps.s3, run, p));
  const total: BackfillSummary & { keysOnSeveralShards: number } = { ...emptySummary(), keysOnSeveralShards: 0 };
  for (const s of parts) for (const k of Object.keys(total) as Array<keyof typeof total>) total[k] += s[k];
  for (const s of parts) if (s.chunks === undefined) throw new BackfillError('a partition summary without its chunks');
  const outputs = outputFiles(parseSpecJson(plan.spec));
  await putJson(deps.s3, run, key(run, 'summary.json'), total);
  return { ...total, partitions: plan.partitions, outputs };
}

/** The replay's output files a spec has: corrections under "update", firings with a global window. */
function outputFiles(spec: PipelineSpec): Array<'windows' | 'rejected' | 'corrections' | 'firings'> {
  return ['windows', 'rejected', ...(spec.latePolicy === 'update' ? (['corrections'] as const) : []), ...(spec.features.some((f) => f.window.type === 'global') ? (['firings'] as const) : [])];
}

// ---- sources ------------------------------------------------------------------------------------------------

function openStore(deps: BackfillDeps, source: BackfillSource): ArchiveStore {
  if (deps.openArchive) return deps.openArchive(source);
  if (source.kind !== 'archive') throw new BackfillError(`source: a ${source.kind} is read by local runs only`);
  return new S3ArchiveStore(deps.s3, source.bucket, source.prefix);
}

function storeName(source: BackfillSource): string {
  return source.kind === 'archive' ? `s3://${source.bucket}/${source.prefix}` : source.path;
}

function rangeText(range: ArchiveRange): string {
  return `${range.from === undefined ? 'the start' : new Date(range.from).toISOString()} to ${range.to === undefined ? 'the end' : new Date(range.to).toISOString()}`;
}

/** Byte ranges of about `size` bytes, each starting at a line's start. */
export function fileSegments(path: string, size: number): Segment[] {
  if (!Number.isInteger(size) || size < 1) throw new BackfillError(`segmentBytes must be a positive integer, got ${size}`);
  let total: number;
  try {
    total = statSync(path).size;
  } catch (e) {
    throw new BackfillError(`input ${path}: cannot read (${(e as Error).message})`);
  }
  const fd = openSync(path, 'r');
  try {
    const out: Segment[] = [];
    let start = 0;
    const buf = Buffer.allocUnsafe(64 * 1024);
    while (start < total) {
      let end = Math.min(total, start + size);
      // Move the cut to just after the next line feed.
      while (end < total) {
        const n = readSync(fd, buf, 0, buf.length, end - 1);
        const at = buf.subarray(0, n).indexOf(10);
        if (at >= 0) {
          end = end - 1 + at + 1;
          break;
        }
        end += n;
      }
      end = Math.min(end, total);
      out.push({ start, end });
      start = end;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** A file segment's records, numbered from 1 as the replay's reader numbers lines (blank lines skipped, counted). */
function readFileSegment(path: string, start: number, end: number, parseLine: (text: string, line: number) => InputRecord): { records: InputRecord[]; lines: number; lineError?: { line: number; detail: string } } {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(end - start);
  try {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const text = buf.toString('utf8');
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  const records: InputRecord[] = [];
  for (let i = 0; i < parts.length; i++) {
    // A CRLF line reads as the replay's reader reads it.
    const line = parts[i]!.endsWith('\r') ? parts[i]!.slice(0, -1) : parts[i]!;
    if (line.length === 0 || (line.charCodeAt(0) !== 123 && line.trim().length === 0)) continue;
    try {
      records.push(parseLine(line, i + 1));
    } catch (e) {
      if (e instanceof InputLineError) return { records, lines: parts.length, lineError: { line: e.line, detail: e.detail } };
      throw e;
    }
  }
  return { records, lines: parts.length };
}

async function mapLimit<T>(n: number, limit: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await f(i);
      }
    }),
  );
  return out;
}
