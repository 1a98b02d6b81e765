/**
 * `npm start -- --config SPEC.json --input RECORDS.jsonl --out DIR`: a recorded file through the deployed code
 * path on emulators (Kinesis → event source mapping → consumer → DynamoDB/SQS), then the final windows and the
 * dead-letter queue read back into the replay's output format, so both can be compared line for line.
 *
 * Summary (the replay's fields, equal to its summary for one shard): `records` is the number of records put;
 * `invalid`, `future` and (latePolicy "dlq") `late` and `lateRecords` are counted from the dead letters read
 * back, one message per rejected record or (record, feature) pair; `duplicates` is summed over successful
 * invocations; `applied` is what remains (records − invalid − future − duplicates − lateRecords); `finalWindows`
 * is the number of final windows read back and `corrections` (latePolicy "update") the number of corrections read
 * back. Counting from what was stored checks the stored outputs themselves;
 * the plain sums of the successful invocations' counters (a failed invocation reports nothing, and its retry
 * judges every record as the first delivery did) are in the stats, for comparison. Under latePolicy "drop" and
 * "update" late records are not all in the queue, so `late` and `lateRecords` come from those counters.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { EmfFeed } from '../local/dashboard/emf-feed';
import { REPORT_FILE, fileRunReport } from '../local/dashboard/report';
import { basename, join } from 'node:path';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import { type InputRecord } from '../../lambda/core/engine';
import { type InputFormat, InputLineError, WRAPPED, inputLineParser } from '../../lambda/core/input-line';
import { type CorrectionLine, type RejectedLine, type ReplaySummary, type WindowLine, addCounters, emptySummary } from '../../lambda/core/output';
import type { PipelineSpec, SourceSpec } from '../../lambda/core/spec';
import { removeOutputs } from '../cli/files';
import { readLines } from '../cli/lines';
import { DrainTimeoutError, type EsmCounters } from '../local/esm-runner';
import { LocalPipeline } from '../local/pipeline';
import type { Reshard } from '../local/streams';
import type { ReshardStep } from './reshard';
import { type Usage, UsageRecorder } from '../local/usage';
import { EVENT_SOURCE_DEFAULTS } from '../../lambda/contract/resources';
import { ArrivalLedger } from './arrivals';
import { type LivePageOptions, LivePageSource } from './live-page';
import { FaultInjector } from './chaos';
import { onFailureLine } from './format';
import { decodeWtf8, encodeWtf8 } from '../../lambda/core/wtf8';
import { EVALUATION_FILE, PREDICTIONS_FILE, REJECTED_LABELS_FILE, evaluationLines, predictionLines, readLabelsFile, rejectedLabelLine } from './file-evaluation';
import type { LabelsOutcome } from '../../lambda/adapters/labels-processor';
import { windowPsi } from '../../lambda/core/label-join';
import type { Model } from '../../lambda/core/model';

/** Partition key of payloads without a usable key (invalid records): they all land on one shard. */
export const UNKEYED_PARTITION_KEY = '__no_key__';
/** Kinesis limit on partition key length (Unicode characters). */
const MAX_PARTITION_KEY = 256;
const PUT_CHUNK = 500;
/** Where a run that lost batches writes the on-failure queue's messages. */
export const ON_FAILURE_FILE = 'on-failure.jsonl';
/** Folder of the output that holds the stream archive's objects, in their S3 layout. */
export const ARCHIVE_DIR = 'archive';
/** The summary with the consumer's usage (docs/semantics.md §9). */
export const SUMMARY_FILE = 'summary.json';
/** Every file a run writes in its output folder. */
export const RUN_OUTPUT_FILES = ['windows.jsonl', 'rejected.jsonl', 'corrections.jsonl', 'firings.jsonl', SUMMARY_FILE, ON_FAILURE_FILE, PREDICTIONS_FILE, EVALUATION_FILE, REJECTED_LABELS_FILE] as const;
/** The most a Kinesis record holds (data and partition key together) on the local stream. */
export const MAX_KINESIS_RECORD_BYTES = 1_048_576;

/**
 * Removes an earlier run's outputs before a run starts, so a run that is stopped (SIGTERM) or fails leaves no
 * files that look like its own.
 */
export function clearRunOutputs(outDir: string): string[] {
  return removeOutputs(outDir, RUN_OUTPUT_FILES);
}

/** A line whose record a Kinesis stream cannot hold: refused with its line number before anything is put. */
function checkRecordSize(data: string, keyField: string | undefined, line: number): void {
  // Short payloads cannot be over: a UTF-16 unit takes at most 3 bytes, a partition key at most 256 characters.
  if (data.length * 3 + 768 <= MAX_KINESIS_RECORD_BYTES) return;
  const bytes = encodeWtf8(data).byteLength + (keyField === undefined ? 0 : Buffer.byteLength(partitionKeyOf(data, keyField), 'utf8'));
  if (bytes > MAX_KINESIS_RECORD_BYTES) {
    throw new InputLineError(line, `the record is ${bytes} bytes with its partition key, over the ${MAX_KINESIS_RECORD_BYTES} a Kinesis record holds on the local stream`);
  }
}

/** How long a file run waits for the next invocation before it reports the consumer as stalled. */
const NO_PROGRESS_TIMEOUT_MS = 300_000;

export interface FileRunOptions {
  readonly spec: PipelineSpec;
  readonly inputPath: string;
  /** How the input's lines are read. @default the replay's envelope */
  readonly format?: InputFormat;
  readonly outDir: string;
  /** Collects the EMF documents the handlers publish; DIR/report.html draws them. */
  readonly feed?: EmfFeed;
  /** Serves the live page of the run on localhost while it runs (its feed then draws DIR/report.html). @default none */
  readonly page?: LivePageOptions;
  /** @default 1 */
  readonly shards?: number;
  /** Fraction of invocations that fail part-way through their writes. @default 0 */
  readonly chaos?: number;
  /** Seed of the fault injector. @default 1 */
  readonly seed?: number;
  /** Resource name prefix (unique per run when several share the emulators). @default 'sandbox' */
  readonly name?: string;
  /** Records per invocation. @default the deployed mapping's batch size (EVENT_SOURCE_DEFAULTS) */
  readonly batchSize?: number;
  /** High enough that chaos never exhausts retries at P ≤ 0.5. @default 20 */
  readonly maximumRetryAttempts?: number;
  /** Batches of one shard in flight at once, 1 to 10, one partition key's records in order. @default 1 */
  readonly parallelizationFactor?: number;
  /** Splits and merges while the file is put, each after its count of records (parseReshards). @default none */
  readonly reshards?: readonly ReshardStep[];
  /** Pause before a failed batch is retried. @default AWS's: 1 s doubling to 15 s */
  readonly retryBackoffMs?: { readonly initialMs: number; readonly maxMs: number };
  /** Receives a progress line every `progressEveryMs` while records are put and consumed. */
  readonly progress?: (line: string) => void;
  /** @default 5000 */
  readonly progressEveryMs?: number;
  /** The spec's model (its scoring section): every applied record is scored, DIR/predictions.jsonl written. */
  readonly model?: Model;
  /** Labels file (with the model and the spec's evaluation section): the evaluation measured, DIR/evaluation.jsonl. */
  readonly labelsPath?: string;
}

/** What a file run scored and measured (with a model). */
export interface FileRunEvaluation {
  readonly predictions: number;
  /** Evaluation windows (with an evaluation section). */
  readonly windows: number;
  /** With labels: label lines put, joined, and dead-lettered (DIR/rejected-labels.jsonl). */
  readonly labels?: { readonly lines: number; readonly joined: number; readonly rejected: number };
}

/** How the run went; the CLI prints it on stderr after `figures: ` (fields documented in docs/sandbox.md). */
export interface FileRunStats {
  /** Records put on the stream: the input's non-blank lines (= the summary's `records`). */
  readonly records: number;
  /** Final windows read back from the feature table: the lines of windows.jsonl (= the summary's `finalWindows`). */
  readonly windows: number;
  /** Of `windows`, those made final by the end of the input (W = +∞), after the stream was drained. */
  readonly windowsFinalAtEndOfInput: number;
  /** Of `windows`, those that became final while the stream was consumed: `windows − windowsFinalAtEndOfInput`. */
  readonly windowsFinalWhileStreaming: number;
  /** Dead letters read back: the lines of rejected.jsonl. */
  readonly rejected: number;
  /** Objects of the stream archive, copied to DIR/archive/. */
  readonly archiveObjects: number;
  readonly shards: number;
  /** The splits and merges made while the file was put, each with the shards it closed and opened. */
  readonly reshards: ReadonlyArray<Reshard & { readonly afterRecords: number }>;
  /** Fault injection: its probability, the invocations it saw, those it armed, and the faults it raised. */
  readonly chaos: { readonly probability: number; readonly invocations: number; readonly armed: number; readonly faults: number };
  /** The local event source mapping's counts (invocations and records delivered include retries). */
  readonly esm: EsmCounters;
  /** Invocations retried because a put was still in flight (see ArrivalLedger). */
  readonly arrivalWaits: number;
  /** Records skipped by a successful invocation because the shard checkpoint showed them done. */
  readonly skipped: number;
  /** DynamoDB write requests and write capacity units of successful invocations. */
  readonly stateWrites: number;
  readonly writeUnits: number;
  /**
   * The least any design writes for this run's invocations (the end of input aside): per successful invocation
   * one unit per distinct key, one for the checkpoint and each new producer id at 8 bytes.
   */
  readonly boundWriteUnits: number;
  /**
   * Sums of the counters of successful invocations, in the summary's fields. A failed invocation reports nothing,
   * and what it stored before failing is not counted again by its retry (a window it fired and dropped from the
   * key's state does not fire twice), so under --chaos these sums can be below the stored counts; without chaos,
   * `finalWindows` here equals `windowsFinalWhileStreaming`. The summary counts from what was stored.
   */
  readonly invocationCounters: ReplaySummary;
  /** Time to put the file, with no consumer running yet. */
  readonly putMs: number;
  /** Time for the consumer to read and process the whole stream, from its start to the drained stream. */
  readonly drainMs: number;
  /** End of input, reading back and writing the files. */
  /** Records over the time from the first put to the drained stream (putMs + drainMs; export not included). */
  readonly recordsPerSecond: number;
  readonly exportMs: number;
}

export interface FileRunResult {
  readonly summary: ReplaySummary;
  /** With a model only. */
  readonly evaluation?: FileRunEvaluation;
  /** What the consumer used (bin/local/usage.ts); written with the summary to DIR/summary.json (docs/semantics.md §9). */
  readonly usage: Usage;
  readonly stats: FileRunStats;
}

/** The event source mapping gave up on batches: their records are missing from every output. */
export class RecordsLostError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'RecordsLostError';
  }
}

/** The outputs could not be related to the input (a bug in the pipeline or in the sandbox). */
export class ExportError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/** The record's key as Kinesis partition key, so one entity's records stay on one shard and in order. */
export function partitionKeyOf(data: string, keyField: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(data);
  } catch {
    return UNKEYED_PARTITION_KEY;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return UNKEYED_PARTITION_KEY;
  const v = (doc as Record<string, unknown>)[keyField];
  // Keys compare as strings (docs/semantics.md §2): 42 and "42" are one entity, so they must share a shard.
  const key = typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
  if (key === undefined) return UNKEYED_PARTITION_KEY;
  return key.length <= MAX_PARTITION_KEY ? key : createHash('sha256').update(key).digest('hex');
}

export function sortWindows(windows: readonly WindowLine[]): WindowLine[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...windows].sort((a, b) => cmp(a.feature, b.feature) || cmp(a.key, b.key) || a.windowStart - b.windowStart);
}

/**
 * A dead-letter message in the replay's rejected-line format (docs/replay.md). A payload too large for SQS arrives cut:
 * with its whole bytes (`whole`, read from the object the message names) the line holds them; otherwise it says
 * it is cut, with the whole payload's size and SHA-256 (`compare` matches them to the replay's).
 */
export function deadLetterToRejectedLine(m: DeadLetterMessage, line: number, whole?: Uint8Array): RejectedLine {
  if (whole !== undefined) return deadLetterToRejectedLine({ ...m, payload: Buffer.from(whole).toString('base64'), payloadEncoding: 'base64', truncated: false }, line);
  const data = m.payloadEncoding === 'base64' ? decodeWtf8(Buffer.from(m.payload, 'base64')) : m.payload;
  return {
    reason: m.reason,
    ...(m.feature === undefined ? {} : { feature: m.feature }),
    message: m.message,
    line,
    shard: m.shard,
    watermark: m.watermark,
    ...(m.eventTime === undefined ? {} : { eventTime: m.eventTime }),
    ...(m.key === undefined ? {} : { key: m.key }),
    data,
    ...(m.truncated ? { truncated: true, dataBytes: m.payloadBytes, dataSha256: m.payloadSha256 } : {}),
  };
}

export function sortCorrections(corrections: readonly CorrectionLine[]): CorrectionLine[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...corrections].sort((a, b) => cmp(a.feature, b.feature) || cmp(a.key, b.key) || a.windowStart - b.windowStart || a.new.count - b.new.count);
}

/** The run's summary from what was read back (see the definition at the top of this file). */
export function summarize(spec: PipelineSpec, records: number, counted: ReplaySummary, rejected: readonly RejectedLine[], finalWindows: number, corrections: number): ReplaySummary {
  const count = (reason: RejectedLine['reason']) => rejected.filter((r) => r.reason === reason).length;
  const invalid = count('invalid');
  const future = count('future');
  let late = counted.late;
  let lateRecords = counted.lateRecords;
  if (spec.latePolicy === 'dlq') {
    late = count('late');
    const perLine = new Map<number, number>();
    for (const r of rejected) if (r.reason === 'late') perLine.set(r.line, (perLine.get(r.line) ?? 0) + 1);
    lateRecords = [...perLine.values()].filter((n) => n === spec.features.length).length;
  }
  const duplicates = counted.duplicates;
  return {
    records,
    applied: records - invalid - future - duplicates - lateRecords,
    late,
    invalid,
    future,
    duplicates,
    lateRecords,
    finalWindows,
    corrections,
    firings: counted.firings,
  };
}

const jsonl = (rows: readonly unknown[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/** The input file could not be read. */
export class InputFileError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

/**
 * Checks every line of the input (docs/replay.md) before anything starts, so a bad line is reported with its number
 * without waiting for the emulators. Returns the number of records.
 */
export async function checkInputFile(path: string, source: SourceSpec, format: InputFormat = WRAPPED): Promise<number> {
  const parseLine = inputLineParser(format, source);
  let line = 0;
  let records = 0;
  try {
    for await (const text of readLines(path)) {
      line += 1;
      if (text.trim().length === 0) continue;
      checkRecordSize(parseLine(text, line).data as string, source.keyField, line);
      records += 1;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== undefined) throw new InputFileError(`cannot read input ${path}: ${(e as Error).message}`);
    throw e;
  }
  return records;
}

/** Runs the file through the pipeline. The emulator endpoints must already be in process.env. */
export async function runFile(o: FileRunOptions): Promise<FileRunResult> {
  clearRunOutputs(o.outDir);
  const shards = o.shards ?? 1;
  const counted = emptySummary();
  const ledger = new ArrivalLedger();
  const chaos = new FaultInjector({ probability: o.chaos ?? 0, seed: o.seed ?? 1 });
  let skipped = 0;
  let stateWrites = 0;
  let writeUnits = 0;
  let boundWriteUnits = 0;
  const usage = new UsageRecorder({ predictionsTable: `${o.name ?? 'sandbox'}-predictions` });
  const labelsUsage = new UsageRecorder({ predictionsTable: `${o.name ?? 'sandbox'}-predictions` });
  const live = o.page === undefined ? undefined : new LivePageSource(o.page, o.feed);
  const feed = live?.feed ?? o.feed ?? new EmfFeed();
  const labelLedger = new ArrivalLedger();
  let labelsJoined = 0;
  const pipeline = await LocalPipeline.start({
    usage,
    ...(o.model === undefined ? {} : { model: o.model, labelsUsage, labelsArrivalClock: labelLedger.clock, onLabelsOutcome: (l: LabelsOutcome) => void (labelsJoined += l.counters.joined + l.counters.redelivered) }),
    onEmf: (doc) => feed.add(doc),
    spec: o.spec,
    name: o.name ?? 'sandbox',
    shards,
    batchSize: o.batchSize ?? EVENT_SOURCE_DEFAULTS.batchSize,
    maximumRetryAttempts: o.maximumRetryAttempts ?? 20,
    ...(o.retryBackoffMs === undefined ? {} : { retryBackoffMs: o.retryBackoffMs }),
    ...(o.parallelizationFactor === undefined ? {} : { parallelizationFactor: o.parallelizationFactor }),
    arrivalClock: ledger.clock,
    // The whole file goes in before the consumer starts: every invocation gets a full batch (docs/semantics.md §9), so the
    // figures do not depend on how puts and polls interleave.
    startConsumer: false,
    ...((o.chaos ?? 0) > 0 ? { beforeInvoke: chaos.beforeInvoke, writeGate: chaos.writeGate } : {}),
    onOutcome: (outcome) => {
      live?.outcome(outcome);
      addCounters(counted, outcome.counters);
      skipped += outcome.skipped;
      stateWrites += outcome.stateWrites;
      writeUnits += outcome.writeUnits;
      boundWriteUnits += outcome.boundWriteUnits;
    },
  });
  let ticker: NodeJS.Timeout | undefined;
  try {
    await live?.start(`Feature pipeline run: ${basename(o.inputPath)}`, o.spec, pipeline);
    // 1. Put the file in order, remembering which input line each sequence number holds.
    const t0 = Date.now();
    let phase = 'put';
    ticker = o.progress
      ? setInterval(() => {
          const s = ((Date.now() - t0) / 1000).toFixed(0);
          o.progress!(phase === 'put' ? `${s} s: ${records.toLocaleString('en-US')} records put` : `${s} s: ${counted.records.toLocaleString('en-US')} of ${records.toLocaleString('en-US')} records consumed, ${pipeline.esm.counters.invocations} invocations`);
        }, o.progressEveryMs ?? 5000)
      : undefined;
    const lineOf = new Map<string, number>();
    const reshards: Array<Reshard & { afterRecords: number }> = [];
    let records = 0;
    let chunk: Array<InputRecord & { line: number }> = [];
    const putChunk = async (): Promise<void> => {
      const batch = chunk;
      chunk = [];
      const results = await ledger.put(
        batch.map((r) => r.arrivalTime),
        () => pipeline.put(batch.map((r) => ({ partitionKey: partitionKeyOf(r.data as string, o.spec.source.keyField), data: encodeWtf8(r.data as string) }))),
      );
      results.forEach((res, i) => lineOf.set(`${res.shard}\u0000${res.seq}`, batch[i]!.line));
    };
    let line = 0;
    const steps = [...(o.reshards ?? [])];
    const parseLine = inputLineParser(o.format ?? WRAPPED, o.spec.source);
    for await (const text of readLines(o.inputPath)) {
      line += 1;
      if (text.trim().length === 0) continue;
      const record = parseLine(text, line);
      checkRecordSize(record.data as string, o.spec.source.keyField, line);
      chunk.push({ ...record, line });
      records += 1;
      if (chunk.length >= PUT_CHUNK || steps[0]?.afterRecords === records) await putChunk();
      while (steps[0]?.afterRecords === records) {
        const step = steps.shift()!;
        reshards.push({ ...(await pipeline.reshard(step.kind)), afterRecords: records });
      }
    }
    if (chunk.length > 0) await putChunk();
    if (steps.length > 0) throw new InputFileError(`--reshard ${steps[0]!.kind}@${steps[0]!.afterRecords}: the input has only ${records} records`);
    const putMs = Date.now() - t0;

    // 2. Consume the stream from its start, wait until the consumer has caught up, then end the bounded input.
    const t1 = Date.now();
    phase = 'consume';
    await pipeline.startConsumer();
    // A stalled consumer is an error, a slow machine is not: wait as long as invocations keep starting.
    for (;;) {
      const started = pipeline.esm.counters.invocations;
      try {
        await pipeline.drain(NO_PROGRESS_TIMEOUT_MS);
        break;
      } catch (e) {
        if (!(e instanceof DrainTimeoutError) || pipeline.esm.counters.invocations === started) throw e;
      }
    }
    const drainMs = Date.now() - t1;
    if (ticker) clearInterval(ticker);
    // Taken before the end of input and the read-back, which are the sandbox's requests, not the consumer's.
    const consumed = usage.usage();
    const abandoned = await pipeline.takeOnFailureMessages();
    if (abandoned.length > 0) {
      // The on-failure queue's messages, kept whole for the reader, then the run stops: outputs would be incomplete.
      mkdirSync(o.outDir, { recursive: true });
      writeFileSync(join(o.outDir, ON_FAILURE_FILE), jsonl(abandoned));
      const lost = abandoned.reduce((n, m) => n + m.KinesisBatchInfo.batchSize, 0);
      const invalid = pipeline.esm.lastInvalidResponse;
      const error = pipeline.esm.lastFunctionError;
      throw new RecordsLostError(
        `${abandoned.length} batch(es), ${lost} record(s), abandoned by the event source mapping (on-failure queue, messages in ${join(o.outDir, ON_FAILURE_FILE)}); outputs would be incomplete: ${abandoned.map(onFailureLine).join('; ')}${invalid ? `; last invalid handler response: ${invalid}` : ''}${error ? `; last function error: ${error}` : ''}`,
      );
    }
    if (counted.records !== records) {
      throw new ExportError(`successful invocations counted ${counted.records} records but ${records} were put (skipped by checkpoint: ${skipped})`);
    }
    const t2 = Date.now();
    const windowsFinalAtEndOfInput = await pipeline.flush();

    // 3. Read the results back from DynamoDB and SQS.
    const windows = sortWindows(await pipeline.finalWindows());
    const letters = await pipeline.takeDeadLetters();
    const rejected: RejectedLine[] = [];
    for (const m of letters) {
      const l = lineOf.get(`${m.shard}\u0000${m.sequenceNumber}`);
      if (l === undefined) throw new ExportError(`dead letter for ${m.shard}/${m.sequenceNumber} matches no record put`);
      rejected.push(deadLetterToRejectedLine(m, l, m.payloadObject === undefined ? undefined : await pipeline.deadLetterPayload(m.payloadObject)));
    }
    const featureOrder = new Map(o.spec.features.map((f, i) => [f.name, i]));
    rejected.sort((a, b) => a.line - b.line || (featureOrder.get(a.feature ?? '') ?? -1) - (featureOrder.get(b.feature ?? '') ?? -1));
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(join(o.outDir, 'windows.jsonl'), jsonl(windows));
    writeFileSync(join(o.outDir, 'rejected.jsonl'), jsonl(rejected));
    const corrections = o.spec.latePolicy === 'update' ? sortCorrections(await pipeline.corrections()) : [];
    if (o.spec.latePolicy === 'update') writeFileSync(join(o.outDir, 'corrections.jsonl'), jsonl(corrections));
    const firings = (await pipeline.firings()).sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.firing - b.firing);
    if (o.spec.features.some((f) => f.window.type === 'global')) writeFileSync(join(o.outDir, 'firings.jsonl'), jsonl(firings));
    const summary = { ...summarize(o.spec, records, counted, rejected, windows.length, corrections.length), firings: firings.length };
    writeFileSync(join(o.outDir, REPORT_FILE), fileRunReport({ spec: o.spec, feed, summary, usage: { ...consumed }, input: o.inputPath }));
    // The archive the consumer wrote, in its S3 layout: `npm run replay -- --archive DIR/archive` reads it.
    rmSync(join(o.outDir, ARCHIVE_DIR), { recursive: true, force: true });
    const archiveObjects = (await pipeline.copyArchive(join(o.outDir, ARCHIVE_DIR))).length;
    const evaluation = o.model === undefined ? undefined : await scoreAndEvaluate(o, pipeline, labelLedger, () => labelsJoined);
    // With labels, what the labels consumer used (and the labels put) for the cost model, beside the consumer's.
    const labelsPart = evaluation?.labels === undefined ? {} : { labels: { records: evaluation.labels.lines, usage: labelsUsage.usage() } };
    writeFileSync(join(o.outDir, SUMMARY_FILE), `${JSON.stringify({ ...summary, usage: consumed, ...labelsPart }, null, 2)}\n`);
    return {
      summary,
      ...(evaluation === undefined ? {} : { evaluation }),
      usage: consumed,
      stats: {
        records,
        windows: windows.length,
        windowsFinalAtEndOfInput,
        windowsFinalWhileStreaming: windows.length - windowsFinalAtEndOfInput,
        rejected: rejected.length,
        archiveObjects,
        shards,
        reshards,
        chaos: { probability: o.chaos ?? 0, invocations: chaos.invocations, armed: chaos.armed, faults: chaos.faults },
        esm: { ...pipeline.esm.counters },
        arrivalWaits: ledger.waits,
        skipped,
        stateWrites,
        writeUnits,
        boundWriteUnits: Math.round(boundWriteUnits),
        invocationCounters: counted,
        putMs,
        drainMs,
        recordsPerSecond: Math.round(records / ((putMs + drainMs) / 1000)),
        exportMs: Date.now() - t2,
      },
    };
  } finally {
    if (ticker) clearInterval(ticker);
    await live?.close();
    await pipeline.stop();
  }
}

/**
 * After the records (and their end of input): the predictions read back to DIR/predictions.jsonl; with an
 * evaluation section every window's score figures made final (end of input), then the labels put and drained and
 * the label clock moved past every window (end of the labels), and every window read back to DIR/evaluation.jsonl.
 */
async function scoreAndEvaluate(o: FileRunOptions, pipeline: LocalPipeline, ledger: ArrivalLedger, joined: () => number): Promise<FileRunEvaluation> {
  const predictions = predictionLines(await pipeline.predictions());
  writeFileSync(join(o.outDir, PREDICTIONS_FILE), jsonl(predictions));
  const ev = o.spec.evaluation;
  if (ev === undefined) return { predictions: predictions.length, windows: 0 };
  await pipeline.closeEvaluation();
  let labels: FileRunEvaluation['labels'];
  if (o.labelsPath !== undefined) {
    const lines = await readLabelsFile(o.labelsPath);
    const lineOf = new Map<string, number>();
    for (let i = 0; i < lines.length; i += PUT_CHUNK) {
      const chunk = lines.slice(i, i + PUT_CHUNK);
      const results = await ledger.put(
        chunk.map((l) => l.arrivalTime),
        () => pipeline.putLabels(chunk.map((l) => ({ key: l.partitionKey, data: l.data }))),
      );
      results.forEach((r, j) => lineOf.set(`${r.shard}\u0000${r.seq}`, chunk[j]!.line));
    }
    await pipeline.drainLabels(NO_PROGRESS_TIMEOUT_MS);
    await pipeline.finalizeEvaluation();
    const rejected = (await pipeline.takeDeadLetters()).map((m) => {
      const l = lineOf.get(`${m.shard}\u0000${m.sequenceNumber}`);
      if (l === undefined) throw new ExportError(`labels dead letter for ${m.shard}/${m.sequenceNumber} matches no label put`);
      return rejectedLabelLine(m, l);
    });
    rejected.sort((a, b) => a.line - b.line);
    writeFileSync(join(o.outDir, REJECTED_LABELS_FILE), jsonl(rejected));
    labels = { lines: lines.length, joined: joined(), rejected: rejected.length };
  }
  const { windows, reference } = await pipeline.evaluationWindows();
  writeFileSync(join(o.outDir, EVALUATION_FILE), jsonl(evaluationLines(windows, reference, ev, (ref, w) => windowPsi(ref?.counts, w.counts))));
  return { predictions: predictions.length, windows: windows.length, ...(labels === undefined ? {} : { labels }) };
}
