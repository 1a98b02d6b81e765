/**
 * Random streams for the serving and training-rows property tests: several keys on two shards, out of order,
 * late, ahead of their arrival (future ones among them), invalid, re-sent by the producer; and features of every
 * window kind and aggregate. The test specs' fields: key "user", time "ts", id "id" (see engine-harness.ts).
 */
import fc from 'fast-check';
import type { InputRecord } from '../../lambda/core/engine';
import type { RefStreamRecord } from './serving-reference';

export const WINDOWED = [
  { name: 'tum5', window: { type: 'tumbling', sizeMs: 5 }, aggregate: 'count' },
  { name: 'tum7', window: { type: 'tumbling', sizeMs: 7 }, aggregate: 'sum', field: 'amount' },
  { name: 'sl6by2', window: { type: 'sliding', sizeMs: 6, slideMs: 2 }, aggregate: 'max', field: 'amount' },
  { name: 'sl6by4', window: { type: 'sliding', sizeMs: 6, slideMs: 4 }, aggregate: 'avg', field: 'amount' },
  { name: 'sl10by5', window: { type: 'sliding', sizeMs: 10, slideMs: 5 }, aggregate: 'min', field: 'amount' },
  { name: 'merchants6by3', window: { type: 'sliding', sizeMs: 6, slideMs: 3 }, aggregate: 'distinct', field: 'merchant' },
  { name: 'median8by4', window: { type: 'sliding', sizeMs: 8, slideMs: 4 }, aggregate: 'percentile', field: 'amount', percentile: 0.5, relativeAccuracy: 0.02 },
  { name: 'p90_7', window: { type: 'tumbling', sizeMs: 7 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
  { name: 'first4', window: { type: 'tumbling', sizeMs: 4 }, aggregate: 'first', field: 'amount' },
  { name: 'last6by2', window: { type: 'sliding', sizeMs: 6, slideMs: 2 }, aggregate: 'last', field: 'amount' },
  { name: 'ses4', window: { type: 'session', gapMs: 4 }, aggregate: 'sum', field: 'amount' },
  { name: 'ses3_last', window: { type: 'session', gapMs: 3 }, aggregate: 'last', field: 'amount' },
  { name: 'ses5_merchants', window: { type: 'session', gapMs: 5 }, aggregate: 'distinct', field: 'merchant' },
  { name: 'ses6_first', window: { type: 'session', gapMs: 6 }, aggregate: 'first', field: 'amount' },
];
export const GLOBAL = [
  { name: 'g_sum_every3', window: { type: 'global', trigger: { count: 3, purge: true } }, aggregate: 'sum', field: 'amount' },
  { name: 'g_count_5ms', window: { type: 'global', trigger: { everyMs: 5, purge: true } }, aggregate: 'count' },
  { name: 'g_max_4ms', window: { type: 'global', trigger: { everyMs: 4 } }, aggregate: 'max', field: 'amount' },
  { name: 'g_last_both', window: { type: 'global', trigger: { count: 2, everyMs: 6, purge: true } }, aggregate: 'last', field: 'amount' },
  { name: 'g_p50', window: { type: 'global', trigger: { count: 4 } }, aggregate: 'percentile', field: 'amount', percentile: 0.5 },
];
export const ACCURACY: Record<string, number> = { median8by4: 0.02, p90_7: 0.01, g_p50: 0.01 };
export const SHARD_OF: Record<string, string> = { a: 's0', b: 's0', c: 's1' };

export interface Raw {
  readonly key: 'a' | 'b' | 'c';
  readonly step: number;
  readonly offset: number;
  readonly amount: number;
  readonly bad: boolean;
  readonly merchant: string | number;
  readonly dupOf: number | null;
}

export const rawArb = fc.record({
  key: fc.constantFrom('a' as const, 'b' as const, 'c' as const),
  step: fc.integer({ min: 0, max: 3 }),
  // Event time relative to arrival: mostly behind it, sometimes ahead (beyond the skew: rejected as future).
  offset: fc.oneof(fc.integer({ min: -25, max: 0 }), fc.integer({ min: 0, max: 12 })),
  amount: fc.integer({ min: -20, max: 20 }),
  bad: fc.boolean().map((b) => b && Math.random() < 0.2),
  merchant: fc.oneof(fc.constantFrom('m1', 'm2', 'm3', '42'), fc.constant(42)),
  dupOf: fc.option(fc.nat({ max: 40 }), { freq: 6 }),
});

/** Stream records in arrival order; a re-send copies an earlier record's payload and id, arriving later. */
export function streamOf(raws: readonly Raw[]): RefStreamRecord[] {
  const out: RefStreamRecord[] = [];
  let arrival = 0;
  raws.forEach((r, i) => {
    arrival += r.step;
    const orig = r.dupOf !== null && r.dupOf < out.length ? out[r.dupOf]! : undefined;
    if (orig) out.push({ ...orig, arrival });
    else out.push({ key: r.key, shard: SHARD_OF[r.key]!, time: arrival + r.offset, arrival, id: `e${i}`, fields: { amount: r.bad ? 'x' : r.amount, merchant: r.merchant } });
  });
  return out;
}

export function toInput(records: readonly RefStreamRecord[]): InputRecord[] {
  return records.map((r, i) => ({
    data: JSON.stringify({ user: r.key, ts: r.time, id: r.id, ...r.fields }),
    shard: r.shard,
    seq: String(i + 1),
    arrivalTime: r.arrival,
  }));
}

