/**
 * The consumer's batch work against local emulators: dynalite (DynamoDB) and fauxqs (SQS, S3) on loopback. For
 * each workload (event rate, with or without one very hot key) and batch size, a fresh table, bucket and
 * dead-letter queue receive the bench workload through `processBatch` (the consumer handler's work without the
 * Kinesis polling), and the figures reported are:
 *
 * - DynamoDB write requests (PutItem, BatchWriteItem calls) and write capacity units per 1000 records, the units
 *   as the emulator reports them in ConsumedCapacity, beside the lower bound any design must write: one unit per
 *   distinct key per batch, one per batch for the checkpoint, and each new producer id at 8 bytes;
 * - S3 PUTs (result objects) per 1000 records;
 * - handler time per batch (median, p95) beside the median time of one DynamoDB round trip (a consistent GetItem
 *   of an existing item), and their ratio.
 *
 * Loopback round trips are far shorter than DynamoDB's, so the ratio says how many sequential round trips a batch
 * costs here; it is not a prediction of Lambda duration.
 */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { dynamoClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { type BatchOutcome, processBatch } from '../../lambda/adapters/batch-processor';
import { DeadLetterSender } from '../../lambda/adapters/dead-letters';
import { ResultObjectWriter } from '../../lambda/adapters/result-objects';
import { s3Client } from '../../lambda/adapters/s3-client';
import { StateStore } from '../../lambda/adapters/state-store';
import type { InputRecord } from '../../lambda/core/engine';
import type { PipelineSpec } from '../../lambda/core/spec';
import { DEAD_LETTER_QUEUE, STATE_TABLE, createQueueInput } from '../../lambda/contract/resources';
import { startEmulators } from '../local/emulators';
import { BENCH_SPEC, generateWorkload } from './workload';
import { createActiveTable } from '../local/tables';

export interface EmulatorBenchOptions {
  /** Records processed per batch size (raised to two batches where a batch is larger than half of it). */
  readonly records: number;
  readonly keys: number;
  /** @default [100, 1000, 10000] */
  readonly batchSizes?: readonly number[];
  /** Mean event-time gap between events (ms). @default 50 (20 events/s) */
  readonly spacingMs?: number;
  /** Share of events from one very hot key. @default 0 */
  readonly hotKeyShare?: number;
  /** Sequential GetItem calls timed per batch size. @default 50 */
  readonly roundTrips?: number;
  /** Retries of a failed batch before the run gives up (Lambda would retry too; re-delivery is harmless). @default 3 */
  readonly maxRetries?: number;
  readonly seed?: number;
  readonly spec?: PipelineSpec;
  /** Progress lines (one per batch size). */
  readonly progress?: (line: string) => void;
}

export interface EmulatorBenchRow {
  readonly batchSize: number;
  readonly batches: number;
  readonly records: number;
  /** DynamoDB write requests (PutItem, UpdateItem, BatchWriteItem calls, retries included). */
  readonly writeRequests: number;
  /** Write capacity units as reported by the emulator (ConsumedCapacity). */
  readonly writeUnits: number;
  /** The least any design writes: per batch, one unit per distinct key, one for the checkpoint, new ids at 8 bytes. */
  readonly boundUnits: number;
  /** Read units as reported by the emulator. */
  readonly readUnits: number;
  /** A read lower bound: per batch, half a unit per distinct key of its valid records. */
  readonly boundReadUnits: number;
  /** Per successful batch, in order: its units (a failed attempt's units count with the batch it retried). */
  readonly perBatch: readonly BatchUnits[];
  /** Write units of the hot key's items (key item and id pages); 0 without a hot key. */
  readonly hotKeyUnits: number;
  readonly s3Puts: number;
  readonly idPages: number;
  /** Handler time of every successful batch, ms. */
  readonly batchMs: readonly number[];
  /** Time of each timed GetItem, ms. */
  readonly roundTripMs: readonly number[];
  readonly deadLetters: number;
  readonly conflicts: number;
  /** Batch attempts that threw and were retried. */
  readonly failedAttempts: number;
  /** CPU time of this process (engine, SDK marshalling, HTTP client) while the batches ran, ms. */
  readonly clientCpuMs: number;
  readonly applied: number;
  readonly lateRecords: number;
  /** (record, feature) pairs that were late. */
  readonly latePairs: number;
  readonly invalid: number;
  readonly duplicates: number;
}

export interface BatchUnits {
  readonly records: number;
  readonly writeUnits: number;
  readonly boundUnits: number;
  readonly readUnits: number;
  readonly boundReadUnits: number;
  /** Units by what they were spent on (StateStore.unitsBy). */
  readonly by: ReadonlyMap<string, number>;
}

export interface EmulatorBenchResult {
  /** The workload, in words (rate, hot key). */
  readonly label?: string;
  readonly rows: readonly EmulatorBenchRow[];
  readonly startupMs: number;
  readonly totalMs: number;
}

const DEFAULT_BATCH_SIZES = [100, 1000, 10_000] as const;

/** Records as Kinesis delivers them from one shard: bytes, increasing sequence numbers, arrival time. */
function toRecords(count: number, keys: number, seed: number, spacingMs: number, hotKeyShare: number): InputRecord[] {
  const lines = generateWorkload({ records: count, keys, seed, spacingMs, hotKeyShare });
  const seqs = new Map<string, number>();
  return lines.map((l) => {
    const n = (seqs.get(l.shard) ?? 0) + 1;
    seqs.set(l.shard, n);
    // Kinesis sequence numbers are long decimal strings; a fixed width keeps them increasing in compareSeq order.
    return { data: Buffer.from(l.data, 'utf8'), shard: l.shard, seq: `49${String(n).padStart(54, '0')}`, arrivalTime: l.arrivalTime };
  });
}

async function createResources(dynamo: DynamoDBClient, sqs: SQSClient, s3: S3Client, prefix: string): Promise<{ stateTable: string; bucket: string; queueUrl: string }> {
  const stateTable = `${prefix}-state`;
  const bucket = `${prefix.toLowerCase()}-results`;
  const [, , queue] = await Promise.all([
    createActiveTable(dynamo, STATE_TABLE, stateTable),
    s3.send(new CreateBucketCommand({ Bucket: bucket })),
    sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `${prefix}-dead-letters`))),
  ]);
  return { stateTable, bucket, queueUrl: queue.QueueUrl! };
}

async function timeRoundTrips(dynamo: DynamoDBClient, table: string, shard: string, n: number): Promise<number[]> {
  const get = () => dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `shard#${shard}` }, sk: { S: 'watermark' } }, ConsistentRead: true }));
  const warm = await get();
  if (!warm.Item) throw new Error(`round-trip probe: no watermark item for ${shard} in ${table}`);
  // Let the emulator finish what the last batch left it (garbage collection) before timing.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (let i = 0; i < 10; i++) await get();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await get();
    out.push(performance.now() - t0);
  }
  return out;
}

async function runOneSize(
  dynamo: DynamoDBClient,
  sqs: SQSClient,
  s3: S3Client,
  prefix: string,
  spec: PipelineSpec,
  records: readonly InputRecord[],
  batchSize: number,
  roundTrips: number,
  maxRetries: number,
): Promise<EmulatorBenchRow> {
  const names = await createResources(dynamo, sqs, s3, prefix);
  const batchMs: number[] = [];
  let writeRequests = 0;
  let writeUnits = 0;
  let boundUnits = 0;
  let readUnits = 0;
  let boundReadUnits = 0;
  const perBatch: BatchUnits[] = [];
  let hotKeyUnits = 0;
  let s3Puts = 0;
  let idPages = 0;
  let deadLetters = 0;
  let conflicts = 0;
  let failedAttempts = 0;
  let applied = 0;
  let lateRecords = 0;
  let latePairs = 0;
  let invalid = 0;
  let duplicates = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < records.length; i += batchSize) {
    const batch = records.slice(i, i + batchSize);
    let failedWriteUnits = 0;
    let failedReadUnits = 0;
    const by = new Map<string, number>();
    const addBy = (m: ReadonlyMap<string, number>): void => m.forEach((u, k) => by.set(k, (by.get(k) ?? 0) + u));
    for (let attempt = 0; ; attempt++) {
      // New store instances per invocation, as the handler builds them: their counters are this batch's.
      // Units of the hot key's items, from the per-item consumed capacity its writes report.
      const state = new StateStore({ client: dynamo, tableName: names.stateTable, onItemUnits: (pk, u) => void (pk === 'entity#user_hot' && (hotKeyUnits += u)) });
      const results = new ResultObjectWriter({ client: s3, bucket: names.bucket });
      const sender = new DeadLetterSender({ client: sqs, queueUrl: names.queueUrl });
      const t0 = performance.now();
      let outcome: BatchOutcome;
      try {
        outcome = await processBatch(batch, { spec, pipelineName: 'bench', state, results, deadLetters: sender, parallelizationFactor: 1 });
      } catch (e) {
        writeRequests += state.writes;
        writeUnits += state.consumedWriteUnits;
        readUnits += state.consumedReadUnits;
        failedWriteUnits += state.consumedWriteUnits;
        failedReadUnits += state.consumedReadUnits;
        addBy(state.unitsBy);
        s3Puts += results.puts;
        conflicts += state.conflicts;
        deadLetters += sender.sent;
        failedAttempts++;
        if (attempt >= maxRetries) throw e;
        continue;
      }
      batchMs.push(performance.now() - t0);
      writeRequests += outcome.stateWrites;
      writeUnits += outcome.writeUnits;
      readUnits += state.consumedReadUnits;
      s3Puts += results.puts;
      idPages += outcome.idPages;
      boundUnits += outcome.boundWriteUnits;
      boundReadUnits += outcome.boundReadUnits;
      addBy(state.unitsBy);
      perBatch.push({
        by,
        records: batch.length,
        writeUnits: outcome.writeUnits + failedWriteUnits,
        boundUnits: outcome.boundWriteUnits,
        readUnits: state.consumedReadUnits + failedReadUnits,
        boundReadUnits: outcome.boundReadUnits,
      });
      deadLetters += outcome.deadLetters;
      conflicts += outcome.conflicts;
      // A retried batch counts its records once: from the attempt that succeeded.
      applied += outcome.counters.applied;
      lateRecords += outcome.counters.lateRecords;
      latePairs += outcome.counters.late;
      invalid += outcome.counters.invalid + outcome.counters.future;
      duplicates += outcome.counters.duplicates;
      break;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const roundTripMs = await timeRoundTrips(dynamo, names.stateTable, records[0]!.shard, roundTrips);
  return {
    batchSize,
    batches: batchMs.length,
    records: records.length,
    writeRequests,
    writeUnits,
    boundUnits,
    readUnits,
    boundReadUnits,
    perBatch,
    hotKeyUnits,
    s3Puts,
    idPages,
    batchMs,
    roundTripMs,
    deadLetters,
    conflicts,
    failedAttempts,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    applied,
    lateRecords,
    latePairs,
    invalid,
    duplicates,
  };
}

/** Starts dynalite and fauxqs, runs every batch size on its own tables, and stops the emulators (also on error). */
export async function runEmulatorBench(o: EmulatorBenchOptions): Promise<EmulatorBenchResult> {
  const sizes = o.batchSizes ?? DEFAULT_BATCH_SIZES;
  for (const [name, n] of [['records', o.records], ['keys', o.keys], ...sizes.map((s) => ['batch size', s] as const)] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`emulator bench: ${name} must be a positive integer, got ${n}`);
  }
  const spec = o.spec ?? BENCH_SPEC;
  const perSize = (size: number): number => Math.max(o.records, 2 * size);
  const all = toRecords(Math.max(...sizes.map(perSize)), o.keys, o.seed ?? 7, o.spacingMs ?? 50, o.hotKeyShare ?? 0);
  const t0 = performance.now();
  const em = await startEmulators({ services: ['dynamodb', 'sqs', 's3'] });
  const startupMs = performance.now() - t0;
  const savedEnv = { ...process.env };
  let dynamo: DynamoDBClient | undefined;
  let sqs: SQSClient | undefined;
  let s3: S3Client | undefined;
  try {
    Object.assign(process.env, em.env());
    dynamo = dynamoClient({ maxAttempts: 8 });
    sqs = sqsClient({ maxAttempts: 8 });
    s3 = s3Client({ maxAttempts: 8 });
    const run = `bench-${Date.now().toString(36)}`;
    const rows: EmulatorBenchRow[] = [];
    for (const size of sizes) {
      const records = all.slice(0, perSize(size));
      const row = await runOneSize(dynamo, sqs, s3, `${run}-b${size}`, spec, records, size, o.roundTrips ?? 50, o.maxRetries ?? 3);
      o.progress?.(`  batch size ${size}: ${row.batches} batches in ${(sum(row.batchMs) / 1000).toFixed(1)} s`);
      rows.push(row);
    }
    const rate = 1000 / (o.spacingMs ?? 50);
    const label = `workload: ${fmt(rate, 0)} events/s over ${fmt(o.keys, 0)} Zipf keys${o.hotKeyShare ? `, one hot key with ${fmt(o.hotKeyShare * 100, 0)}% of events` : ''}`;
    return { label, rows, startupMs, totalMs: performance.now() - t0 };
  } finally {
    dynamo?.destroy();
    sqs?.destroy();
    s3?.destroy();
    await em.stop();
    for (const k of Object.keys(em.env())) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  }
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Nearest-rank percentile (q in 0..1). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const fmt = (n: number, digits: number): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The figures as printable lines: a table, then the counts behind it. */
export function formatEmulatorBench(r: EmulatorBenchResult): string[] {
  const head = ['batch size', 'batches', 'records', 'writes/1k rec', 'WCU/1k rec', 'bound/1k rec', 'WCU/bound', 'RCU/1k rec', 'S3 PUT/1k rec', 'handler p50 ms', 'handler p95 ms', 'GetItem p50 ms'];
  const body = r.rows.map((row) => {
    const per1k = (n: number) => (n * 1000) / row.records;
    const p50 = percentile(row.batchMs, 0.5);
    const rt = percentile(row.roundTripMs, 0.5);
    return [
      fmt(row.batchSize, 0),
      fmt(row.batches, 0),
      fmt(row.records, 0),
      fmt(per1k(row.writeRequests), 0),
      fmt(per1k(row.writeUnits), 0),
      fmt(per1k(row.boundUnits), 0),
      `${fmt(row.writeUnits / row.boundUnits, 2)}x`,
      fmt(per1k(row.readUnits), 0),
      fmt(per1k(row.s3Puts), 1),
      fmt(p50, 1),
      fmt(percentile(row.batchMs, 0.95), 1),
      fmt(rt, 2),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const out = [
    'DynamoDB here is dynalite and SQS is fauxqs, each a local Node process on 127.0.0.1: no network, no service-side',
    'latency, no throttling. Write capacity units are the ones dynalite reports in ConsumedCapacity (it charges 1 per',
    'started KB of the larger of old and new item, as DynamoDB does for standard writes). The bound is the least any',
    'design writes: per batch one unit per distinct key, one for the checkpoint, each new producer id at 8 bytes;',
    'target: WCU at most 2x the bound. Handler time is processBatch',
    '(reads, engine, dead-letter sends, writes, checkpoint) on fresh tables per batch size; round trip = one consistent',
    'GetItem of an existing item, timed sequentially.',
    '',
    ...(r.label === undefined ? [] : [r.label]),
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ];
  for (const row of r.rows) {
    out.push(
      `batch size ${fmt(row.batchSize, 0)}: dead letters sent ${fmt(row.deadLetters, 0)}, conflicts ${fmt(row.conflicts, 0)}, failed attempts retried ${fmt(row.failedAttempts, 0)}, id pages ${fmt(row.idPages, 0)}${row.hotKeyUnits > 0 ? `, hot key's items ${fmt(row.hotKeyUnits, 0)} WCU (${fmt(row.hotKeyUnits / row.batches, 2)} per batch)` : ''}`,
      `  applied ${fmt(row.applied, 0)}, late records ${fmt(row.lateRecords, 0)} (late record-feature pairs ${fmt(row.latePairs, 0)}), invalid ${fmt(row.invalid, 0)}, duplicates ${fmt(row.duplicates, 0)}`,
      `  GetItem p95 ${fmt(percentile(row.roundTripMs, 0.95), 2)} ms over ${row.roundTripMs.length} calls; CPU of this process ${fmt(row.clientCpuMs / 1000, 1)} s of ${fmt(sum(row.batchMs) / 1000, 1)} s handler time`,
    );
  }
  out.push(`emulator start-up ${fmt(r.startupMs / 1000, 1)} s, whole section ${fmt(r.totalMs / 1000, 1)} s`);
  return out;
}
