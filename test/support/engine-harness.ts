/**
 * Test harness around the window engine: builds specs and stream records, runs batches and folds the results
 * the way a consumer of final windows does (a final window, then its corrections in order).
 */
import {
  type BatchCounters,
  type BatchResult,
  type Correction,
  type EngineOptions,
  type InputRecord,
  type Rejection,
  type WindowResult,
  WindowEngine,
} from '../../lambda/core/engine';
import { type PipelineSpec, parseSpec } from '../../lambda/core/spec';

export type WindowRow = WindowResult;

export const SHARD = 'shard-0';

/** A spec document with the test defaults (keyField "user", timeField "ts", idField "id"); fields may be overridden. */
export function specDoc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: { keyField: 'user', timeField: 'ts', idField: 'id' },
    watermark: { allowedLatenessMs: 0 },
    latePolicy: 'dlq',
    features: [{ name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' }],
    // Test streams span a few hundred milliseconds of event time: every final window stays correctable.
    ...(overrides.latePolicy === 'update' && overrides.correctionHorizonMs === undefined ? { correctionHorizonMs: TEST_CORRECTION_HORIZON_MS } : {}),
    ...overrides,
  };
}

/** Correction horizon of test specs under "update" (longer than any test stream's event-time span). */
export const TEST_CORRECTION_HORIZON_MS = 200;

export function makeSpec(overrides: Record<string, unknown> = {}): PipelineSpec {
  return parseSpec(specDoc(overrides));
}

export function makeEngine(overrides: Record<string, unknown> = {}, options: EngineOptions = {}): WindowEngine {
  return new WindowEngine(makeSpec(overrides), options);
}

export interface RecordOptions {
  readonly shard?: string;
  readonly arrivalTime?: number;
  /** Explicit sequence number (to model a re-delivery); by default the feed numbers records 1, 2, 3… */
  readonly seq?: string;
}

/** Builds stream records with increasing sequence numbers, like one Kinesis shard iterator would deliver. */
export class Feed {
  private next = 0;

  public record(payload: unknown, opts: RecordOptions = {}): InputRecord {
    const seq = opts.seq ?? String(++this.next);
    const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const rec: InputRecord = { data, shard: opts.shard ?? SHARD, seq };
    return opts.arrivalTime === undefined ? rec : { ...rec, arrivalTime: opts.arrivalTime };
  }

  /** Shorthand for the default test spec: `{user, ts, ...extra}`. */
  public ev(user: string | number, ts: number | string, extra: Record<string, unknown> = {}, opts: RecordOptions = {}): InputRecord {
    return this.record({ user, ts, ...extra }, opts);
  }
}

export interface Collected {
  /** Every final window result, as emitted (a window must appear at most once). */
  readonly finals: WindowRow[];
  readonly corrections: Correction[];
  readonly rejected: Rejection[];
  /** Final windows after applying corrections in order: what windows.jsonl holds under every policy. */
  readonly windows: WindowRow[];
  readonly counters: BatchCounters;
}

export function rowOf(w: WindowRow): WindowRow {
  return { feature: w.feature, key: w.key, windowStart: w.windowStart, windowEnd: w.windowEnd, value: w.value, count: w.count };
}

export function rowId(w: { feature: string; key: string; windowStart: number }): string {
  return `${w.feature}|${w.key}|${w.windowStart}`;
}

export function sortRows(rows: readonly WindowRow[]): WindowRow[] {
  return [...rows].map(rowOf).sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.windowStart - b.windowStart || a.windowEnd - b.windowEnd);
}

function zeroCounters(): BatchCounters {
  return { records: 0, applied: 0, late: 0, lateRecords: 0, invalid: 0, future: 0, duplicates: 0, redelivered: 0, finalWindows: 0, corrections: 0, firings: 0 };
}

export function sumCounters(results: readonly BatchResult[]): BatchCounters {
  const total = zeroCounters();
  for (const r of results) for (const k of Object.keys(total) as (keyof BatchCounters)[]) total[k] += r.counters[k];
  return total;
}

export function collect(results: readonly BatchResult[]): Collected {
  const finals: WindowRow[] = [];
  const corrections: Correction[] = [];
  const rejected: Rejection[] = [];
  const latest = new Map<string, WindowRow>();
  for (const r of results) {
    for (const f of r.finals) {
      finals.push(rowOf(f));
      latest.set(rowId(f), rowOf(f));
    }
    for (const c of r.corrections) {
      corrections.push(c);
      latest.set(rowId(c), { feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, value: c.new.value, count: c.new.count });
    }
    rejected.push(...r.rejected);
  }
  return { finals, corrections, rejected, windows: sortRows([...latest.values()]), counters: sumCounters(results) };
}

/** Runs each chunk as one batch, then flushes (end of a bounded input). */
export function runBatches(engine: WindowEngine, chunks: readonly (readonly InputRecord[])[]): BatchResult[] {
  const results = chunks.map((c) => engine.processBatch(c));
  results.push(engine.flush());
  return results;
}

/** Runs the records as one batch plus flush and folds the results. */
export function runAll(engine: WindowEngine, records: readonly InputRecord[]): Collected {
  return collect(runBatches(engine, [records]));
}

/** Ids of windows emitted as final more than once (must be empty). */
export function repeatedFinals(finals: readonly WindowRow[]): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (const f of finals) {
    const id = rowId(f);
    if (seen.has(id)) repeated.push(id);
    seen.add(id);
  }
  return repeated;
}

/** Cuts items into consecutive chunks, cutting after item i when cuts[i] (cycled) is true. */
export function chunk<T>(items: readonly T[], cuts: readonly boolean[]): T[][] {
  const out: T[][] = [[]];
  items.forEach((item, i) => {
    out[out.length - 1]!.push(item);
    if (cuts[i % Math.max(cuts.length, 1)] && i < items.length - 1) out.push([]);
  });
  return out;
}
