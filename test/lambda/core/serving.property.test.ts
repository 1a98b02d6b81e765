/**
 * Serving (docs/semantics.md §7) against a plain computation from the semantics text (test/support/serving-reference.ts): random
 * streams of several keys on two shards, out of order, late, ahead of their arrival (future ones among them),
 * invalid, re-sent by the producer; a random time T. The records that arrived by T go through the engine in
 * random batches (batch-end firing as the consumer does, or sweeps as the replay does, idle keys evicted), then
 * every key is served at T and compared with the reference, under every late policy, for every window kind and
 * aggregate.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WindowEngine } from '../../../lambda/core/engine';
import { keyShard, serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import { featureRuntimes } from '../../../lambda/core/windows';
import { chunk, collect, runBatches, specDoc } from '../../support/engine-harness';
import { servingReference } from '../../support/serving-reference';
import { ACCURACY, GLOBAL, SHARD_OF, WINDOWED, rawArb, streamOf, toInput } from '../../support/serving-stream';

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

describe('serving at T equals the features of the records that arrived by T (docs/semantics.md §7)', () => {
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
