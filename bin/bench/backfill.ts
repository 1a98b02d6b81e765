/**
 * `npm run bench -- --backfill [--records N] [--keys N]`: the bench's workload through the local backfill state
 * machine at 1, 2 and 4 partitions (one worker thread each), beside one replay process over the same file. Prints
 * wall times and each stage's, and records per second per partition worker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackfill } from '../backfill/run';
import { type Emulators, startEmulators } from '../local/emulators';
import { replay } from '../replay/run';
import { BENCH_SPEC, writeLongWorkload } from './workload';

export interface BackfillBenchRow {
  readonly partitions: number;
  readonly wallMs: number;
  readonly segmentsMs: number;
  readonly partitionsMs: number;
  /** Records over the partition stage's wall time, per partition worker. */
  readonly perWorkerRecordsPerS: number;
}

export interface BackfillBench {
  readonly records: number;
  readonly replayMs: number;
  readonly rows: readonly BackfillBenchRow[];
}

export async function runBackfillBench(o: { records: number; keys: number; partitions?: readonly number[]; progress?: (line: string) => void }): Promise<BackfillBench> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-backfill-'));
  let emulators: Emulators | undefined;
  const saved = { ...process.env };
  try {
    const input = join(dir, 'records.jsonl');
    await writeLongWorkload(input, { records: o.records, keys: o.keys, seed: 7, spacingMs: 50 });
    let t = Date.now();
    await replay({ spec: BENCH_SPEC, inputPath: input, outDir: join(dir, 'replay') });
    const replayMs = Date.now() - t;
    o.progress?.(`replay, one process: ${replayMs} ms`);
    if (process.env.AWS_ENDPOINT_URL_S3 === undefined) {
      emulators = await startEmulators({ services: ['s3'] });
      Object.assign(process.env, emulators.env());
    }
    const rows: BackfillBenchRow[] = [];
    for (const p of o.partitions ?? [1, 2, 4]) {
      t = Date.now();
      const r = await runBackfill({ specText: JSON.stringify(BENCH_SPEC), source: { kind: 'file', path: input }, partitions: p, outDir: join(dir, `backfill-${p}`), workers: p, segmentBytes: 16 * 1024 * 1024 });
      const row = { partitions: p, wallMs: r.wallMs, segmentsMs: r.segmentsMs, partitionsMs: r.partitionsMs, perWorkerRecordsPerS: Math.round(o.records / p / (r.partitionsMs / 1000)) };
      rows.push(row);
      o.progress?.(`backfill P=${p}: ${Date.now() - t} ms`);
    }
    return { records: o.records, replayMs, rows };
  } finally {
    process.env = saved;
    await emulators?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBackfillBench(b: BackfillBench): string[] {
  const n = b.records.toLocaleString('en-US');
  return [
    `backfill of ${n} records (bench spec), local state machine, S3 emulator, one worker thread per partition:`,
    `  replay, one process:  ${(b.replayMs / 1000).toFixed(1)} s  (${Math.round(b.records / (b.replayMs / 1000)).toLocaleString('en-US')} records/s)`,
    '  P   wall s   plan segments s   partitions s   records/s per worker',
    ...b.rows.map((r) => `  ${String(r.partitions).padEnd(3)} ${(r.wallMs / 1000).toFixed(1).padStart(6)}   ${(r.segmentsMs / 1000).toFixed(1).padStart(15)}   ${(r.partitionsMs / 1000).toFixed(1).padStart(12)}   ${r.perWorkerRecordsPerS.toLocaleString('en-US').padStart(20)}`),
  ];
}
