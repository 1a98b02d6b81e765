/**
 * The consumer at steady state: a long stretch of event time through `processBatch` on the emulators (one shard,
 * one batch size), with write and read units reported per quarter of the run beside their lower bounds. Short
 * runs mostly write keys for the first time and fire few windows; what grows with time (timers falling due, producer
 * ids piling up within their retention) only shows after the windows' and the ids' horizons have passed, so the
 * figure to judge is the last quarter's.
 */
import type { PipelineSpec } from '../../lambda/core/spec';
import { type BatchUnits, type EmulatorBenchRow, runEmulatorBench } from './emulator-bench';

export interface SteadyStateOptions {
  /** Events per second of event time. */
  readonly rate: number;
  /** Minutes of event time. */
  readonly minutes: number;
  readonly batchSize: number;
  readonly keys: number;
  readonly spec?: PipelineSpec;
  readonly progress?: (line: string) => void;
}

export interface QuarterFigures {
  readonly quarter: number;
  readonly batches: number;
  readonly records: number;
  readonly writeUnits: number;
  readonly boundUnits: number;
  readonly readUnits: number;
  readonly boundReadUnits: number;
  /** Units by what they were spent on. */
  readonly by: ReadonlyMap<string, number>;
}

export interface SteadyStateResult {
  readonly label: string;
  readonly row: EmulatorBenchRow;
  readonly quarters: readonly QuarterFigures[];
  readonly totalMs: number;
}

/** Splits the batches into four runs of (nearly) equal length and sums each. */
export function quarters(perBatch: readonly BatchUnits[]): QuarterFigures[] {
  const out: QuarterFigures[] = [];
  for (let q = 0; q < 4; q++) {
    const part = perBatch.slice(Math.floor((q * perBatch.length) / 4), Math.floor(((q + 1) * perBatch.length) / 4));
    const sum = (f: (b: BatchUnits) => number): number => part.reduce((a, b) => a + f(b), 0);
    const by = new Map<string, number>();
    for (const b of part) b.by.forEach((u, k) => by.set(k, (by.get(k) ?? 0) + u));
    out.push({
      quarter: q + 1,
      batches: part.length,
      records: sum((b) => b.records),
      writeUnits: sum((b) => b.writeUnits),
      boundUnits: sum((b) => b.boundUnits),
      readUnits: sum((b) => b.readUnits),
      boundReadUnits: sum((b) => b.boundReadUnits),
      by,
    });
  }
  return out;
}

export async function runSteadyStateBench(o: SteadyStateOptions): Promise<SteadyStateResult> {
  for (const [name, n] of [['rate', o.rate], ['minutes', o.minutes], ['batch size', o.batchSize], ['keys', o.keys]] as const) {
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`steady state: ${name} must be positive, got ${n}`);
  }
  const records = Math.round(o.rate * o.minutes * 60);
  const result = await runEmulatorBench({
    records,
    keys: o.keys,
    batchSizes: [o.batchSize],
    spacingMs: 1000 / o.rate,
    roundTrips: 10,
    ...(o.spec === undefined ? {} : { spec: o.spec }),
    ...(o.progress === undefined ? {} : { progress: o.progress }),
  });
  const row = result.rows[0]!;
  return {
    label: `${fmt(records, 0)} records: ${fmt(o.minutes, 0)} min of event time at ${fmt(o.rate, 0)} events/s over ${fmt(o.keys, 0)} Zipf keys, one shard, batches of ${fmt(o.batchSize, 0)}`,
    row,
    quarters: quarters(row.perBatch),
    totalMs: result.totalMs,
  };
}

const fmt = (n: number, digits: number): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function formatSteadyState(r: SteadyStateResult): string[] {
  const head = ['quarter', 'batches', 'records', 'WCU/1k rec', 'bound/1k', 'WCU/bound', 'RCU/1k rec', 'read bound/1k', 'RCU/bound'];
  const body = r.quarters.map((q) => {
    const per1k = (n: number): string => fmt((n * 1000) / q.records, 1);
    return [String(q.quarter), fmt(q.batches, 0), fmt(q.records, 0), per1k(q.writeUnits), per1k(q.boundUnits), `${fmt(q.writeUnits / q.boundUnits, 2)}x`, per1k(q.readUnits), per1k(q.boundReadUnits), `${fmt(q.readUnits / q.boundReadUnits, 2)}x`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const last = r.quarters[3]!;
  const row = r.row;
  return [
    r.label,
    'Units as dynalite reports them (ConsumedCapacity). Write bound: per batch one unit per distinct key, one for the',
    'checkpoint, each new producer id at 8 bytes. Read bound: per batch half a unit per distinct key (one eventually',
    'consistent read of an item under 4 KB). Targets at steady state (the last quarter): writes at most 1.5x, reads at most 3x.',
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    `last quarter, units per 1,000 records by what they were spent on: ${[...last.by].sort((a, b) => a[0].localeCompare(b[0])).map(([k, u]) => `${k} ${fmt((u * 1000) / last.records, 1)}`).join(', ')}`,
    `last quarter: write units ${fmt(last.writeUnits / last.boundUnits, 2)}x the bound (target 1.5x: ${last.writeUnits <= 1.5 * last.boundUnits ? 'met' : 'missed'}), read units ${fmt(last.readUnits / last.boundReadUnits, 2)}x (target 3x: ${last.readUnits <= 3 * last.boundReadUnits ? 'met' : 'missed'})`,
    `whole run: ${fmt(row.writeUnits, 0)} write units (bound ${fmt(row.boundUnits, 0)}), ${fmt(row.readUnits, 0)} read units (bound ${fmt(row.boundReadUnits, 0)}), ${fmt(row.s3Puts, 0)} S3 PUTs, ${fmt(row.idPages, 0)} id pages, ${fmt(row.failedAttempts, 0)} failed attempts; handler time ${fmt(row.batchMs.reduce((a, b) => a + b, 0) / 1000, 1)} s, CPU of this process ${fmt(row.clientCpuMs / 1000, 1)} s; whole section ${fmt(r.totalMs / 1000, 1)} s`,
  ];
}
