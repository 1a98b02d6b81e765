/**
 * Training rows (docs/semantics.md §7, §8) against the plain computation of the semantics text (test/support/serving-reference.ts):
 * random streams of several keys on two shards (out of order, late, ahead of their arrival, invalid, re-sent),
 * random labels (keys with and without events, times before, between, at and after arrivals), under every late
 * policy, fed in random batches with sweeps and idle-key eviction every few records. Each row must hold what the
 * reference computes from exactly the records that arrived by its label's time, and equal what the serving
 * function answers on a fresh engine fed those records and no other.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WindowEngine } from '../../../lambda/core/engine';
import { emptyValue, keyShard, serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import { PointInTimeRows } from '../../../bin/training/rows';
import { chunk, specDoc } from '../../support/engine-harness';
import { servingReference } from '../../support/serving-reference';
import { ACCURACY, GLOBAL, WINDOWED, rawArb, streamOf, toInput } from '../../support/serving-stream';

const optionsArb = fc.record({
  withGlobal: fc.boolean(),
  latePolicy: fc.constantFrom('dlq' as const, 'drop' as const, 'update' as const),
  lateness: fc.constantFrom(0, 3),
  skew: fc.constantFrom(undefined, 0, 4, 10),
  sweepEvery: fc.integer({ min: 1, max: 12 }),
  cuts: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  correctionHorizonMs: fc.constantFrom(8, 20),
});

const labelArb = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'nobody'), pick: fc.nat(), delta: fc.integer({ min: -3, max: 15 }) });

describe('training rows hold the features of the records that arrived by each label time', () => {
  it('equal the reference of docs/semantics.md §7 and the serving function on an engine fed only those records, under every late policy', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { maxLength: 36 }), fc.array(labelArb, { minLength: 1, maxLength: 8 }), optionsArb, (raws, labelRaws, o) => {
        const records = streamOf(raws);
        const labels = labelRaws.map((l) => ({ key: l.key, time: (records.length === 0 ? 0 : records[l.pick % records.length]!.arrival) + l.delta }));
        const features = o.withGlobal ? [...WINDOWED, ...GLOBAL] : WINDOWED;
        const watermark = o.skew === undefined ? { allowedLatenessMs: o.lateness } : { allowedLatenessMs: o.lateness, maxFutureSkewMs: o.skew };
        const update = o.latePolicy === 'update';
        const spec = parseSpec(specDoc({ features, latePolicy: o.latePolicy, watermark, ...(update ? { correctionHorizonMs: o.correctionHorizonMs } : {}) }));

        const rows = new PointInTimeRows(spec, labels, { sweepEveryRecords: o.sweepEvery });
        for (const batch of chunk(toInput(records), o.cuts)) rows.feed(batch);
        rows.finish();

        labels.forEach((l, i) => {
          const seen = records.filter((r) => r.arrival <= l.time);
          const expected = servingReference(spec.features, { allowedLatenessMs: o.lateness, maxFutureSkewMs: o.skew, latePolicy: o.latePolicy, correctionHorizonMs: o.correctionHorizonMs }, seen, l.time).get(l.key);
          // The serving function on an engine that never saw a later record (batch-end firing, as the consumer).
          const fresh = new WindowEngine(spec);
          fresh.processBatch(toInput(seen));
          const ents = fresh.keyState(l.key)?.ents ?? [];
          const shard = keyShard(ents);
          const served = serveFeatures(fresh.runtimes, ents, l.time, { watermark: shard === undefined ? null : fresh.watermark(shard), writtenAt: l.time });
          let anyRecords = false;
          spec.features.forEach((f, fi) => {
            const where = `${f.name} of ${l.key} at ${l.time}`;
            const got = rows.value(i, fi);
            const want = expected?.get(f.name) ?? { value: emptyValue(f), count: 0, windowEnd: null, final: false };
            if (want.count > 0) anyRecords = true;
            // With a future guard the state always knows; without, a window a record far ahead of its arrival made
            // final before T may be gone from the state, and serving says so with null ("unavailable").
            if (got === null && want.value !== null) {
              expect(o.skew, where).toBeUndefined();
              if (want.windowEnd !== null) expect(want.final, where).toBe(true);
              return;
            }
            const alpha = ACCURACY[f.name];
            if (alpha === undefined || want.value === null || got === null) expect(got, where).toBe(want.value);
            else expect(Math.abs(got - want.value), where).toBeLessThanOrEqual(alpha * Math.abs(want.value) * (1 + 1e-9));
            if (o.skew !== undefined) expect(got, `${where}, served by a fresh engine`).toBe(served[fi]!.value);
          });
          if (rows.present[i] === 1) expect(anyRecords).toBe(true);
          else if (o.skew !== undefined) expect(anyRecords).toBe(false);
        });
      }),
      { numRuns: 600 },
    );
  });
});
