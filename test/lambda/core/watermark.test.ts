import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type ShardWatermark, observe, watermarkOf } from '../../../lambda/core/watermark';
import { Feed, SHARD, collect, makeEngine } from '../../support/engine-harness';

describe('watermark arithmetic', () => {
  it('is −∞ before any record', () => {
    expect(watermarkOf({ maxEventTime: null }, 30)).toBe(-Infinity);
  });

  it('is the max event time minus the allowed lateness, and never decreases', () => {
    const s: ShardWatermark = { maxEventTime: null };
    observe(s, 100);
    expect(watermarkOf(s, 30)).toBe(70);
    observe(s, 40);
    expect(watermarkOf(s, 30)).toBe(70);
    observe(s, 130);
    expect(watermarkOf(s, 30)).toBe(100);
    observe(s, -5);
    expect(s.maxEventTime).toBe(130);
  });
});

describe('shard watermark in the engine', () => {
  it('is −∞ before any record and reported as null on the first rejection', () => {
    const engine = makeEngine({ watermark: { allowedLatenessMs: 5 } });
    expect(engine.watermark(SHARD)).toBe(-Infinity);
    const feed = new Feed();
    const r = engine.processBatch([feed.record('not json')]);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]!.watermark).toBeNull();
    expect(r.watermarks).toEqual({ [SHARD]: null });
  });

  it('follows W = max event time − allowed lateness, record by record', () => {
    const engine = makeEngine({ watermark: { allowedLatenessMs: 5 } });
    const feed = new Feed();
    expect(engine.processBatch([feed.ev('u', 20)]).watermarks).toEqual({ [SHARD]: 15 });
    expect(engine.processBatch([feed.ev('u', 17)]).watermarks).toEqual({ [SHARD]: 15 });
    expect(engine.processBatch([feed.ev('u', 31), feed.ev('u', 27)]).watermarks).toEqual({ [SHARD]: 26 });
    expect(engine.watermark(SHARD)).toBe(26);
  });

  it('never decreases, whatever the order of event times', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 50 }), (times, lateness) => {
        const engine = makeEngine({ watermark: { allowedLatenessMs: lateness } });
        const feed = new Feed();
        let max = -Infinity;
        let previous = -Infinity;
        for (const t of times) {
          engine.processBatch([feed.ev('u', t)]);
          max = Math.max(max, t);
          const w = engine.watermark(SHARD);
          expect(w).toBe(max - lateness);
          expect(w).toBeGreaterThanOrEqual(previous);
          previous = w;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('judges a record against the watermark before it', () => {
    // Tumbling 10 ms, no lateness: after t = 20, W = 20 and [10, 20) is final.
    const engine = makeEngine();
    const feed = new Feed();
    const r = engine.processBatch([feed.ev('u', 20), feed.ev('u', 19), feed.ev('u', 20), feed.ev('u', 35), feed.ev('u', 30)]);
    // t = 19 is late for [10, 20) (end 20 <= W 20) and is reported with the watermark it was judged against.
    expect(r.rejected.map((x) => [x.reason, x.seq, x.watermark])).toEqual([['late', '2', 20]]);
    // t = 35 is judged against W = 20, not against its own W = 35 (which would make nothing late either);
    // t = 30 comes after it, when W = 35 > 30 but [30, 40) is still open.
    expect(r.counters.applied).toBe(4);
    expect(collect([r, engine.flush()]).windows.map((w) => [w.windowStart, w.count])).toEqual([
      [20, 2],
      [30, 2],
    ]);
  });

  it('keeps one watermark per shard: a fast shard does not make a slow shard late', () => {
    const engine = makeEngine();
    const feed = new Feed();
    const r1 = engine.processBatch([feed.ev('a', 1000, {}, { shard: 'A' }), feed.ev('b', 5, {}, { shard: 'B' })]);
    expect(r1.rejected).toEqual([]);
    expect(r1.watermarks).toEqual({ A: 1000, B: 5 });
    // b's window [0, 10) is not final: shard B's watermark is 5.
    expect(r1.finals).toEqual([]);
    const r2 = engine.processBatch([feed.ev('b', 7, {}, { shard: 'B' })]);
    expect(r2.rejected).toEqual([]);
    expect(r2.finals).toEqual([]);
    const r3 = engine.processBatch([feed.ev('b', 10, {}, { shard: 'B' })]);
    expect(r3.finals.map((f) => [f.key, f.windowStart, f.count])).toEqual([['b', 0, 2]]);
    expect(engine.watermark('A')).toBe(1000);
    expect(engine.watermark('B')).toBe(10);
  });

  it('is not advanced by invalid or future records', () => {
    const engine = makeEngine({ watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 100 } });
    const feed = new Feed();
    const r = engine.processBatch([
      feed.ev('', 5000),
      feed.record({ user: 'u', ts: 'soon' }),
      feed.ev('u', 5000, {}, { arrivalTime: 10 }),
      feed.ev('u', 5, {}, { arrivalTime: 10 }),
    ]);
    expect(r.rejected.map((x) => [x.reason, x.watermark])).toEqual([
      ['invalid', null],
      ['invalid', null],
      ['future', null],
    ]);
    expect(r.counters.applied).toBe(1);
    expect(r.watermarks).toEqual({ [SHARD]: 5 });
  });
});
