/**
 * The backfill's plan is exact: for any input cut into any segments and spread over any number of partitions, the
 * partitions' replay loops together write what one replay loop over the whole input writes — final windows,
 * corrections and firings as sets, rejected records line for line in input order, and the same counters. The
 * reference is one process (core/replay-loop.ts over every record, as `npm run replay` runs it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BENCH_SPEC, SKETCH_SPEC, generateWorkload } from '../../../bin/bench/workload';
import { type SegmentPlan, ShardSpread, combineSegments, partitionOf, planSegment, plannedInput } from '../../../lambda/core/backfill';
import type { ReplaySummary } from '../../../lambda/core/output';
import { ReplayLoop, lineSink } from '../../../lambda/core/replay-loop';
import type { InputRecord } from '../../../lambda/core/results';
import type { PipelineSpec } from '../../../lambda/core/spec';

interface Outputs {
  readonly windows: string[];
  readonly rejected: string[];
  readonly corrections: string[];
  readonly firings: string[];
  readonly summary: ReplaySummary;
}

function loopOver(spec: PipelineSpec, batches: Iterable<readonly InputRecord[]>): Outputs {
  const { sink, lines: o } = lineSink();
  const loop = new ReplayLoop(spec, sink);
  for (const b of batches) loop.batch(b);
  return { ...o, summary: loop.finish() };
}

function* chunks<T>(xs: readonly T[], n: number): Generator<T[]> {
  for (let i = 0; i < xs.length; i += n) yield xs.slice(i, i + n);
}

/** What the backfill computes: segments planned alone, combined, each partition's loop over its records in order. */
function backfill(spec: PipelineSpec, records: readonly InputRecord[], cuts: readonly number[], partitions: number, batch: number): Outputs {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < records.length).sort((a, b) => a - b), records.length];
  const plans: SegmentPlan[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const seg = records.slice(bounds[i], bounds[i + 1]).map((r, j) => ({ ...r, seq: String(j + 1) }));
    plans.push(planSegment(spec, seg, seg.length, partitions));
  }
  const bases = combineSegments(plans.map((p) => p.summary));
  const outs = Array.from({ length: partitions }, (_, p) => loopOver(spec, chunks(plans.flatMap((plan, i) => plan.parts[p]!.map((r) => plannedInput(bases[i]!, r))), batch)));
  const summary = outs.map((o) => o.summary).reduce((a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof ReplaySummary] + b[k as keyof ReplaySummary]])) as unknown as ReplaySummary);
  const rejected = outs.flatMap((o) => o.rejected.map((text) => ({ text, line: (JSON.parse(text) as { line: number }).line }))).sort((a, b) => a.line - b.line);
  return { windows: outs.flatMap((o) => o.windows), rejected: rejected.map((r) => r.text), corrections: outs.flatMap((o) => o.corrections), firings: outs.flatMap((o) => o.firings), summary };
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

const SPECS: Record<string, PipelineSpec> = {
  'dlq, sketches and a count-triggered global window': SKETCH_SPEC,
  'drop, sessions': { ...BENCH_SPEC, latePolicy: 'drop' },
  'update, sketches': { ...SKETCH_SPEC, latePolicy: 'update', features: SKETCH_SPEC.features.filter((f) => f.window.type !== 'global') },
  'dlq, a time-triggered global window, no future guard': {
    ...BENCH_SPEC,
    watermark: { allowedLatenessMs: 30_000 },
    features: [...BENCH_SPEC.features.slice(0, 2), { name: 'spend_every_10m', window: { type: 'global', trigger: { everyMs: 600_000, purge: false } }, aggregate: 'sum', field: 'amount' }],
  },
};

describe('backfill plan', () => {
  it.each(Object.keys(SPECS))('equals one process: %s', (name) => {
    const spec = SPECS[name]!;
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          shards: fc.constantFrom(1, 2, 4),
          partitions: fc.integer({ min: 1, max: 8 }),
          cuts: fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 5 }),
          batch: fc.constantFrom(7, 64, 2000),
          // The replay's batch size: small ones make it sweep, evict idle keys and prune ids many times.
          replayBatch: fc.constantFrom(5, 20, 2000),
        }),
        ({ seed, shards, partitions, cuts, batch, replayBatch }) => {
          const lines = generateWorkload({ records: 600, keys: 25, shards, spacingMs: 1500, duplicateRate: 0.05, malformedRate: 0.02, futureRate: 0.02, seed, merchants: 40 });
          // Now and then a payload as bytes that are not UTF-8 (an archived producer's), carried through the plan as base64.
          const records: InputRecord[] = lines.map((l, i) => ({ data: i % 97 === 5 ? Uint8Array.from([0xff, 0x7b, 0x22]) : l.data, shard: l.shard, seq: String(i + 1), arrivalTime: l.arrivalTime }));
          const one = loopOver(spec, chunks(records, replayBatch));
          const many = backfill(spec, records, cuts, partitions, batch);
          expect(many.summary).toEqual(one.summary);
          expect(many.rejected).toEqual(one.rejected);
          expect(sorted(many.windows)).toEqual(sorted(one.windows));
          expect(sorted(many.corrections)).toEqual(sorted(one.corrections));
          expect(sorted(many.firings)).toEqual(sorted(one.firings));
        },
      ),
      { numRuns: 12 },
    );
  });

  it('routes a key to one partition whatever its segment, and uses every partition', () => {
    const keys = Array.from({ length: 400 }, (_, i) => `user_${i}`);
    const used = new Set(keys.map((k) => partitionOf(k, 8)));
    expect(used.size).toBe(8);
    for (const k of keys) expect(partitionOf(k, 8)).toBe(partitionOf(k, 8));
  });

  it('counts the keys that arrived on more than one shard (their verdicts may depend on shard interleaving)', () => {
    const spread = new ShardSpread();
    for (const [k, s] of [['a', 's1'], ['a', 's1'], ['b', 's1'], ['b', 's2'], ['c', 's2'], ['b', 's3']] as const) spread.note(k, s);
    expect(spread.keysOnSeveralShards).toBe(1);
  });

  it('names an unreadable input line by its line number in the whole input', () => {
    expect(() =>
      combineSegments([
        { lines: 10, records: 9, shardMax: {}, newestArrival: null },
        { lines: 5, records: 2, shardMax: {}, newestArrival: null, lineError: { line: 3, detail: 'not valid JSON' } },
      ]),
    ).toThrow('input line 13: not valid JSON');
  });
});

describe('keys on several shards', () => {
  it('counts a key seen on unrelated shards, not one that moved to a shard continuing its own', () => {
    const spread = new ShardSpread({ c1: ['p'], c2: ['p'], m: ['c1', 'c2'] });
    for (const [key, shard] of [['moved', 'p'], ['moved', 'c2'], ['moved', 'm'], ['split', 'c1'], ['split', 'c2'], ['back', 'm'], ['back', 'p']] as const) spread.note(key, shard);
    // c1 and c2 are siblings; p does not continue m.
    expect(spread.keysOnSeveralShards).toBe(2);
  });
});
