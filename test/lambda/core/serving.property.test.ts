/**
 * Serving (SPEC §7) against a plain computation from the semantics text (test/support/serving-reference.ts): random
 * streams of several keys on two shards, out of order, late, ahead of their arrival (future ones among them),
 * invalid, re-sent by the producer; a random time T. The records that arrived by T go through the engine in
 * random batches (batch-end firing as the consumer does, or sweeps as the replay does, idle keys evicted), then
 * every key is served at T and compared with the reference, under every late policy, for every window kind and
 * aggregate.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type InputRecord, WindowEngine } from '../../../lambda/core/engine';
import { keyShard, serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import { featureRuntimes } from '../../../lambda/core/windows';
import { chunk, collect, runBatches, specDoc } from '../../support/engine-harness';
import { type RefStreamRecord, servingReference } from '../../support/serving-reference';

const WINDOWED = [
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
const GLOBAL = [
  { name: 'g_sum_every3', window: { type: 'global', trigger: { count: 3, purge: true } }, aggregate: 'sum', field: 'amount' },
  { name: 'g_count_5ms', window: { type: 'global', trigger: { everyMs: 5, purge: true } }, aggregate: 'count' },
  { name: 'g_max_4ms', window: { type: 'global', trigger: { everyMs: 4 } }, aggregate: 'max', field: 'amount' },
  { name: 'g_last_both', window: { type: 'global', trigger: { count: 2, everyMs: 6, purge: true } }, aggregate: 'last', field: 'amount' },
  { name: 'g_p50', window: { type: 'global', trigger: { count: 4 } }, aggregate: 'percentile', field: 'amount', percentile: 0.5 },
];
const ACCURACY: Record<string, number> = { median8by4: 0.02, p90_7: 0.01, g_p50: 0.01 };
const SHARD_OF: Record<string, string> = { a: 's0', b: 's0', c: 's1' };

interface Raw {
  readonly key: 'a' | 'b' | 'c';
  readonly step: number;
  readonly offset: number;
  readonly amount: number;
  readonly bad: boolean;
  readonly merchant: string | number;
  readonly dupOf: number | null;
}

const rawArb = fc.record({
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
function streamOf(raws: readonly Raw[]): RefStreamRecord[] {
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

function toInput(records: readonly RefStreamRecord[]): InputRecord[] {
  return records.map((r, i) => ({
    data: JSON.stringify({ user: r.key, ts: r.time, id: r.id, ...r.fields }),
    shard: r.shard,
    seq: String(i + 1),
    arrivalTime: r.arrival,
  }));
}

const optionsArb = fc.record({
  withGlobal: fc.boolean(),
  latePolicy: fc.constantFrom('dlq' as const, 'drop' as const, 'update' as const),
  lateness: fc.constantFrom(0, 3),
  skew: fc.constantFrom(undefined, 0, 4, 10),
  sweeps: fc.boolean(),
  evict: fc.boolean(),
  cuts: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  correctionHorizonMs: fc.constantFrom(8, 20),
});

describe('serving at T equals the features of the records that arrived by T (SPEC §7)', () => {
  it('for every window kind and aggregate, under every late policy, batch split, firing mode and eviction', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { maxLength: 36 }), optionsArb, fc.nat(), fc.integer({ min: -3, max: 15 }), (raws, o, pick, delta) => {
        const records = streamOf(raws);
        // T near a random record's arrival: just before, at, or after it (where windows are busy).
        const at = (records.length === 0 ? 0 : records[pick % records.length]!.arrival) + delta;
        const features = o.withGlobal ? [...WINDOWED, ...GLOBAL] : WINDOWED;
        const watermark = o.skew === undefined ? { allowedLatenessMs: o.lateness } : { allowedLatenessMs: o.lateness, maxFutureSkewMs: o.skew };
        const update = o.latePolicy === 'update';
        const spec = parseSpec(specDoc({ features, latePolicy: o.latePolicy, watermark, ...(update ? { correctionHorizonMs: o.correctionHorizonMs } : {}) }));
        // As the replay runs it: sweeps instead of batch-end timers, final windows to a sink that keeps no accumulator.
        const engine = new WindowEngine(spec, o.sweeps ? { fireAtBatchEnd: false, trackChanges: false, ...(update ? {} : { onFinal: () => undefined }) } : {});
        const seen = records.filter((r) => r.arrival <= at);
        chunk(toInput(seen), o.cuts).forEach((batch, i) => {
          engine.processBatch(batch);
          // Served between sweeps too: what the watermark made due need not have fired yet.
          if (o.sweeps && o.cuts[(i + 1) % o.cuts.length]) engine.fireAllDue();
          // Without a future guard, a window final before T is dropped for good (served "unavailable"), and an
          // evicted key cannot say so: eviction is exercised with the guard only.
          if (o.evict && o.skew !== undefined) engine.evictIdle();
        });

        const expected = servingReference(spec.features, { allowedLatenessMs: o.lateness, maxFutureSkewMs: o.skew, latePolicy: o.latePolicy, correctionHorizonMs: o.correctionHorizonMs }, seen, at);
        const runtimes = featureRuntimes(spec);
        for (const [key, perFeature] of expected) {
          const entities = (engine.keyState(key)?.ents ?? []);
          const shard = SHARD_OF[key]!;
          const ks = keyShard(entities);
          if (ks !== undefined) expect(ks).toBe(shard);
          const w = engine.watermark(shard);
          const served = serveFeatures(runtimes, entities, at, { watermark: w, writtenAt: at });
          for (const got of served) {
            const want = perFeature.get(got.feature)!;
            const where = `${got.feature} of ${key} at ${at}`;
            expect(got.watermark, where).toBe(Number.isFinite(w) ? w : null);
            if (got.status === 'unavailable') {
              // Only without a future guard can T's window be final and gone (T is never before an arrival here).
              expect(o.skew, where).toBeUndefined();
              // A dropped session might have held T: the state cannot tell, whether or not one did.
              if (want.windowEnd !== null) expect(want.final, where).toBe(true);
              expect(got.value, where).toBeNull();
              continue;
            }
            expect({ count: got.count, windowStart: got.windowStart, windowEnd: got.windowEnd, status: got.status }, where).toEqual({
              count: want.count,
              windowStart: want.windowStart,
              windowEnd: want.windowEnd,
              status: want.count > 0 ? 'present' : 'empty',
            });
            const alpha = ACCURACY[got.feature];
            if (alpha === undefined || want.value === null || got.value === null) expect(got.value, where).toBe(want.value);
            else expect(Math.abs(got.value - want.value), where).toBeLessThanOrEqual(alpha * Math.abs(want.value) * (1 + 1e-9));
            if (got.newestEventTime !== null) expect(got.newestEventTime, where).toBe(want.newestEventTime);
            if (got.feature.startsWith('ses') && want.count > 0) expect(got.newestEventTime, where).toBe(want.newestEventTime);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('keeping final windows and sessions for serving changes no final window, firing or rejection', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { maxLength: 36 }), optionsArb, (raws, o) => {
        const records = toInput(streamOf(raws));
        const features = o.withGlobal ? [...WINDOWED, ...GLOBAL] : WINDOWED;
        const run = (skew: number) => {
          // Records are at most 12 ahead of their arrival: both skews take them all, so they are judged alike.
          const horizon = o.latePolicy === 'update' ? { correctionHorizonMs: o.correctionHorizonMs } : {};
          const spec = parseSpec(specDoc({ features, latePolicy: o.latePolicy, watermark: { allowedLatenessMs: 12, maxFutureSkewMs: skew }, ...horizon }));
          const engine = new WindowEngine(spec, o.sweeps ? { fireAtBatchEnd: false } : {});
          const results = runBatches(engine, chunk(records, o.cuts));
          if (o.evict) engine.evictIdle();
          const c = collect(results);
          return { windows: c.windows, corrections: c.corrections.map((x) => ({ ...x, acc: null })), rejected: c.rejected, firings: results.flatMap((r) => r.firings) };
        };
        // No retention (skew within the lateness) against a retention of 12 ms.
        expect(run(24)).toEqual(run(12));
      }),
      { numRuns: 150 },
    );
  });
});
