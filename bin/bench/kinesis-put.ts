/**
 * Put and read time of the local Kinesis emulator as its stream fills, with no consumer running: records go into a
 * one-shard stream in steps (PutRecords of 500, as the sandbox puts them), each step timed, then the whole stream is
 * read back from TRIM_HORIZON (GetRecords of 1,000). A put time that grows with what the stream holds makes large
 * local file runs quadratic; this is the measurement behind the choice of kinesalite (bin/local/emulators.ts).
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../local/kinesis-client';
import { type KinesisEmulator, type ProcessUsage, startEmulators } from '../local/emulators';

export interface KinesisPutBenchOptions {
  readonly emulator: KinesisEmulator;
  /** Records put in all. */
  readonly records: number;
  /** Records per timed step (a multiple of 500 keeps every request full). */
  readonly step: number;
  /** Bytes of each record's payload. @default 100 (about the bench workload's records) */
  readonly recordBytes?: number;
  readonly progress?: (line: string) => void;
}

export interface KinesisPutStep {
  /** Records the stream held before this step. */
  readonly held: number;
  readonly records: number;
  readonly ms: number;
}

export interface KinesisPutBenchResult {
  readonly emulator: KinesisEmulator;
  readonly steps: readonly KinesisPutStep[];
  /** Records read back from TRIM_HORIZON, and the time that took. */
  readonly readRecords: number;
  readonly readMs: number;
  /** The emulator process at the end. */
  readonly usage: ProcessUsage | undefined;
}

const PUT_REQUEST = 500;

export async function runKinesisPutBench(o: KinesisPutBenchOptions): Promise<KinesisPutBenchResult> {
  for (const [name, n] of [['records', o.records], ['step', o.step]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`kinesis put bench: ${name} must be a positive integer, got ${n}`);
  }
  const em = await startEmulators({ services: ['kinesis'], kinesisEmulator: o.emulator });
  const kinesis = kinesisClient({ endpoint: em.endpoints.kinesis, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const stream = 'put-bench';
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    while ((await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const data = Buffer.alloc(o.recordBytes ?? 100, 'x');
    const steps: KinesisPutStep[] = [];
    for (let held = 0; held < o.records; ) {
      const n = Math.min(o.step, o.records - held);
      const t0 = performance.now();
      for (let i = 0; i < n; i += PUT_REQUEST) {
        const count = Math.min(PUT_REQUEST, n - i);
        const res = await kinesis.send(
          new PutRecordsCommand({ StreamName: stream, Records: Array.from({ length: count }, (_, j) => ({ PartitionKey: `k${held + i + j}`, Data: data })) }),
        );
        if (res.FailedRecordCount) throw new Error(`kinesis put bench: ${res.FailedRecordCount} records refused`);
      }
      steps.push({ held, records: n, ms: performance.now() - t0 });
      o.progress?.(`  ${held.toLocaleString('en-US')} held: put ${n.toLocaleString('en-US')} in ${(steps.at(-1)!.ms / 1000).toFixed(1)} s`);
      held += n;
    }
    const shardId = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards![0]!.ShardId!;
    const t0 = performance.now();
    let iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    let readRecords = 0;
    while (iterator !== undefined && readRecords < o.records) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      readRecords += page.Records?.length ?? 0;
      iterator = page.NextShardIterator;
    }
    return { emulator: o.emulator, steps, readRecords, readMs: performance.now() - t0, usage: em.usage().kinesis };
  } finally {
    kinesis.destroy();
    await em.stop();
  }
}

const rate = (records: number, ms: number): string => `${Math.round(records / (ms / 1000)).toLocaleString('en-US')} records/s`;

export function formatKinesisPutBench(r: KinesisPutBenchResult): string[] {
  const out = [`${r.emulator}: one shard, PutRecords of ${PUT_REQUEST}, no consumer`, '  held before   put time   put rate'];
  for (const s of r.steps) out.push(`  ${s.held.toLocaleString('en-US').padStart(11)}  ${`${(s.ms / 1000).toFixed(1)} s`.padStart(9)}   ${rate(s.records, s.ms)}`);
  out.push(`  read back ${r.readRecords.toLocaleString('en-US')} records from TRIM_HORIZON in ${(r.readMs / 1000).toFixed(1)} s (${rate(r.readRecords, r.readMs)})`);
  if (r.usage) out.push(`  emulator: ${(r.usage.cpuMs / 1000).toFixed(1)} s CPU, peak ${Math.round(r.usage.peakRssMb)} MB resident`);
  return out;
}
