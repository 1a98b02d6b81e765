import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type InputRecord, WindowEngine } from '../../../lambda/core/engine';
import { parseSpec } from '../../../lambda/core/spec';
import { Feed, SHARD, collect, makeEngine, makeSpec, repeatedFinals, runAll, runBatches, sortRows } from '../../support/engine-harness';

const COUNT = { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' };
const SUM = { name: 'spend', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' };
const SESSION = { name: 'visits', window: { type: 'session', gapMs: 10 }, aggregate: 'sum', field: 'amount' };

const brief = (rows: readonly { key: string; windowStart: number; windowEnd: number; count: number }[]) =>
  rows.map((w) => `${w.key}[${w.windowStart},${w.windowEnd})x${w.count}`);

describe('session windows', () => {
  const sessions = (lateness: number) => makeEngine({ watermark: { allowedLatenessMs: lateness }, features: [SESSION] });

  it('merges records closer than the gap into one session spanning the union', () => {
    const feed = new Feed();
    const out = runAll(sessions(100), [feed.ev('u', 0, { amount: 1 }), feed.ev('u', 5, { amount: 2 }), feed.ev('u', 12, { amount: 4 }), feed.ev('u', 40, { amount: 8 })]);
    // 0 -> [0,10); 5 < 10 -> [0,15); 12 < 15 -> [0,22); 40 >= 22 -> new [40,50).
    expect(out.windows).toEqual([
      { feature: 'visits', key: 'u', windowStart: 0, windowEnd: 22, value: 7, count: 3 },
      { feature: 'visits', key: 'u', windowStart: 40, windowEnd: 50, value: 8, count: 1 },
    ]);
  });

  it('bridges two open sessions with one record that overlaps both', () => {
    const feed = new Feed();
    const out = runAll(sessions(100), [feed.ev('u', 0, { amount: 1 }), feed.ev('u', 15, { amount: 2 }), feed.ev('u', 8, { amount: 4 })]);
    // [0,10) and [15,25) are apart until 8 opens [8,18), which overlaps both.
    expect(out.windows).toEqual([{ feature: 'visits', key: 'u', windowStart: 0, windowEnd: 25, value: 7, count: 3 }]);
  });

  it('treats sessions as half-open: records exactly gapMs apart do not merge', () => {
    const feed = new Feed();
    const apart = runAll(sessions(100), [feed.ev('u', 0, { amount: 1 }), feed.ev('u', 10, { amount: 2 })]);
    expect(brief(apart.windows)).toEqual(['u[0,10)x1', 'u[10,20)x1']);
    const reversed = runAll(sessions(100), [feed.ev('u', 10, { amount: 1 }), feed.ev('u', 0, { amount: 2 })]);
    expect(brief(reversed.windows)).toEqual(['u[0,10)x1', 'u[10,20)x1']);
    const close = runAll(sessions(100), [feed.ev('u', 0, { amount: 1 }), feed.ev('u', 9, { amount: 2 })]);
    expect(brief(close.windows)).toEqual(['u[0,19)x2']);
  });

  it('keeps keys apart', () => {
    const feed = new Feed();
    const out = runAll(sessions(100), [feed.ev('a', 0, { amount: 1 }), feed.ev('b', 5, { amount: 2 }), feed.ev(7, 3, { amount: 4 }), feed.ev('7', 6, { amount: 8 })]);
    expect(out.windows.map((w) => [w.key, w.windowStart, w.windowEnd, w.value])).toEqual([
      ['7', 3, 16, 12],
      ['a', 0, 10, 1],
      ['b', 5, 15, 2],
    ]);
  });

  it('starts a new session for a record arriving after its session became final', () => {
    const feed = new Feed();
    // No lateness: v@12 moves W to 12, so u's [0,10) is final; u@5 is not late (5 + 10 > 12) and opens [5,15).
    const out = runAll(sessions(0), [feed.ev('u', 0, { amount: 1 }), feed.ev('v', 12, { amount: 2 }), feed.ev('u', 5, { amount: 4 })]);
    expect(out.rejected).toEqual([]);
    expect(out.windows.map((w) => [w.key, w.windowStart, w.windowEnd, w.value, w.count])).toEqual([
      ['u', 0, 10, 1, 1],
      ['u', 5, 15, 4, 1],
      ['v', 12, 22, 2, 1],
    ]);
    // The final session was emitted once, before the new one existed, and never changed.
    expect(out.finals.filter((f) => f.key === 'u' && f.windowStart === 0)).toEqual([{ feature: 'visits', key: 'u', windowStart: 0, windowEnd: 10, value: 1, count: 1 }]);
  });

  it('merges a record with the open sessions only, not with a final one it overlaps', () => {
    const feed = new Feed();
    // After u@12 (W = 12) [0,10) is final and [12,22) open; u@5 opens [5,15), merges with [12,22) only.
    const out = runAll(sessions(0), [feed.ev('u', 0, { amount: 1 }), feed.ev('u', 12, { amount: 2 }), feed.ev('u', 5, { amount: 4 })]);
    expect(out.windows.map((w) => [w.windowStart, w.windowEnd, w.value, w.count])).toEqual([
      [0, 10, 1, 1],
      [5, 22, 6, 2],
    ]);
  });

  it('is late when t + gapMs <= W, and only then', () => {
    const feed = new Feed();
    const engine = sessions(0);
    const r = engine.processBatch([feed.ev('u', 30, { amount: 1 }), feed.ev('u', 20, { amount: 2 }), feed.ev('u', 21, { amount: 4 })]);
    // W = 30: 20 + 10 = 30 <= 30 is late; 21 + 10 = 31 > 30 is not, and [21,31) overlaps [30,40).
    expect(r.rejected.map((x) => [x.reason, x.feature, x.seq, x.watermark])).toEqual([['late', 'visits', '2', 30]]);
    expect(r.counters.late).toBe(1);
    const out = collect([r, engine.flush()]);
    expect(out.windows.map((w) => [w.windowStart, w.windowEnd, w.value, w.count])).toEqual([[21, 40, 5, 2]]);
  });

  it('fires a session once the watermark reaches its end', () => {
    const feed = new Feed();
    const engine = sessions(0);
    expect(engine.processBatch([feed.ev('u', 0, { amount: 1 }), feed.ev('v', 9, { amount: 1 })]).finals).toEqual([]);
    const r = engine.processBatch([feed.ev('v', 10, { amount: 1 })]);
    expect(brief(r.finals)).toEqual(['u[0,10)x1']);
  });
});

describe('late policies', () => {
  // Tumbling 10 ms count and sum, no lateness. After u@25, W = 25: [0,10) and [10,20) are final.
  const stream = (feed: Feed): InputRecord[] => [feed.ev('u', 5, { amount: 1 }), feed.ev('u', 25, { amount: 2 }), feed.ev('u', 3, { amount: 4 })];

  it('dlq: sends the full payload, reason, feature, watermark, shard and sequence number, once per feature', () => {
    const feed = new Feed();
    const records = stream(feed);
    const out = runAll(makeEngine({ features: [COUNT, SUM] }), records);
    expect(out.rejected).toEqual([
      {
        reason: 'late',
        feature: 'cnt',
        message: expect.stringContaining('cnt'),
        shard: SHARD,
        seq: '3',
        watermark: 25,
        eventTime: 3,
        key: 'u',
        data: records[2]!.data,
      },
      {
        reason: 'late',
        feature: 'spend',
        message: expect.stringContaining('spend'),
        shard: SHARD,
        seq: '3',
        watermark: 25,
        eventTime: 3,
        key: 'u',
        data: records[2]!.data,
      },
    ]);
    expect(JSON.parse(out.rejected[0]!.data as string)).toEqual({ user: 'u', ts: 3, amount: 4 });
    expect(out.counters).toMatchObject({ records: 3, applied: 2, late: 2, lateRecords: 1, corrections: 0 });
    expect(out.windows.map((w) => [w.feature, w.windowStart, w.value, w.count])).toEqual([
      ['cnt', 0, 1, 1],
      ['cnt', 20, 1, 1],
      ['spend', 0, 1, 1],
      ['spend', 20, 2, 1],
    ]);
  });

  it('dlq: carries the arrival time when the record has one', () => {
    const feed = new Feed();
    const out = runAll(makeEngine(), [feed.ev('u', 25), feed.ev('u', 3, {}, { arrivalTime: 99 })]);
    expect(out.rejected[0]).toMatchObject({ reason: 'late', arrivalTime: 99, watermark: 25 });
  });

  it('drop: counts late records but lists none', () => {
    const feed = new Feed();
    const out = runAll(makeEngine({ latePolicy: 'drop', features: [COUNT, SUM] }), stream(feed));
    expect(out.rejected).toEqual([]);
    expect(out.counters).toMatchObject({ records: 3, applied: 2, late: 2, lateRecords: 1 });
    expect(out.windows.map((w) => [w.feature, w.windowStart, w.value])).toEqual([
      ['cnt', 0, 1],
      ['cnt', 20, 1],
      ['spend', 0, 1],
      ['spend', 20, 2],
    ]);
  });

  it('update: corrects the final window (old and new value) and the final results include the late record', () => {
    const feed = new Feed();
    const out = runAll(makeEngine({ latePolicy: 'update', features: [COUNT, SUM] }), stream(feed));
    expect(out.rejected).toEqual([]);
    expect(out.corrections.map((c) => ({ feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, old: c.old, new: c.new, acc: c.acc }))).toEqual([
      { feature: 'cnt', key: 'u', windowStart: 0, windowEnd: 10, old: { value: 1, count: 1 }, new: { value: 2, count: 2 }, acc: [2, 0, 0, 0, 0] },
      { feature: 'spend', key: 'u', windowStart: 0, windowEnd: 10, old: { value: 1, count: 1 }, new: { value: 5, count: 2 }, acc: [2, 5, 1, 4, 0] },
    ]);
    expect(out.counters).toMatchObject({ records: 3, applied: 3, late: 2, lateRecords: 0, corrections: 2 });
    expect(out.windows.map((w) => [w.feature, w.windowStart, w.value, w.count])).toEqual([
      ['cnt', 0, 2, 2],
      ['cnt', 20, 1, 1],
      ['spend', 0, 5, 2],
      ['spend', 20, 2, 1],
    ]);
  });

  it('update: a late record for a final window that had no records creates it (old is null)', () => {
    const feed = new Feed();
    const out = runAll(makeEngine({ latePolicy: 'update', features: [SUM] }), [feed.ev('u', 45, { amount: 1 }), feed.ev('u', 33, { amount: 6 })]);
    expect(out.corrections.map((c) => [c.windowStart, c.old, c.new])).toEqual([[30, null, { value: 6, count: 1 }]]);
    expect(out.windows.map((w) => [w.windowStart, w.value])).toEqual([
      [30, 6],
      [40, 1],
    ]);
  });

  it('update: successive corrections chain old -> new', () => {
    const feed = new Feed();
    const engine = makeEngine({ latePolicy: 'update', features: [SUM] });
    const results = runBatches(engine, [[feed.ev('u', 5, { amount: 1 }), feed.ev('u', 25, { amount: 1 })], [feed.ev('u', 2, { amount: 10 })], [feed.ev('u', 8, { amount: 100 })]]);
    const out = collect(results);
    expect(out.corrections.map((c) => [c.old?.value, c.new.value])).toEqual([
      [1, 11],
      [11, 111],
    ]);
    expect(out.windows[0]).toEqual({ feature: 'spend', key: 'u', windowStart: 0, windowEnd: 10, value: 111, count: 3 });
  });

  it('update: sessions follow the dlq rule', () => {
    const feed = new Feed();
    const records = [feed.ev('u', 5, { amount: 1 }), feed.ev('u', 25, { amount: 2 }), feed.ev('u', 3, { amount: 4 })];
    const out = runAll(makeEngine({ latePolicy: 'update', features: [COUNT, SESSION] }), records);
    // u@3 is late for the session feature (3 + 10 <= 25) and for the tumbling one ([0,10) final).
    expect(out.rejected.map((r) => [r.reason, r.feature, r.seq, r.watermark, r.data])).toEqual([['late', 'visits', '3', 25, records[2]!.data]]);
    expect(out.corrections.map((c) => [c.feature, c.windowStart, c.new.count])).toEqual([['cnt', 0, 2]]);
    expect(out.counters).toMatchObject({ late: 2, lateRecords: 0, applied: 3 });
    expect(out.windows.filter((w) => w.feature === 'visits').map((w) => [w.windowStart, w.windowEnd, w.value])).toEqual([
      [5, 15, 1],
      [25, 35, 2],
    ]);
  });

  it('sliding: a record late for some of its windows goes to the open ones and is not a late record', () => {
    const sliding = { name: 'sl', window: { type: 'sliding', sizeMs: 10, slideMs: 5 }, aggregate: 'count' };
    const records = (feed: Feed) => [feed.ev('u', 1), feed.ev('u', 13), feed.ev('u', 7)];
    // After u@13 (W = 13), [-5,5) and [0,10) are final; u@7 belongs to [0,10) (final) and [5,15) (open).
    const dlqFeed = new Feed();
    const dlq = runAll(makeEngine({ features: [sliding] }), records(dlqFeed));
    expect(dlq.rejected).toEqual([]);
    expect(dlq.counters).toMatchObject({ late: 0, lateRecords: 0, applied: 3 });
    expect(brief(dlq.windows)).toEqual(['u[-5,5)x1', 'u[0,10)x1', 'u[5,15)x2', 'u[10,20)x1']);

    const updFeed = new Feed();
    const upd = runAll(makeEngine({ latePolicy: 'update', features: [sliding] }), records(updFeed));
    expect(upd.corrections.map((c) => [c.windowStart, c.old?.count, c.new.count])).toEqual([[0, 1, 2]]);
    expect(brief(upd.windows)).toEqual(['u[-5,5)x1', 'u[0,10)x2', 'u[5,15)x2', 'u[10,20)x1']);
  });
});

describe('correction horizon (update)', () => {
  it('corrects final windows within the horizon and dead-letters a record late beyond it', () => {
    const feed = new Feed();
    // Tumbling 10 ms count, horizon 20 ms. After u@55, W = 55: [40,50) is correctable, [20,30) is not (30 <= 55 - 20).
    const engine = makeEngine({ latePolicy: 'update', correctionHorizonMs: 20, features: [COUNT] });
    const records = [feed.ev('u', 25), feed.ev('u', 45), feed.ev('u', 55), feed.ev('u', 41), feed.ev('u', 22)];
    const out = runAll(engine, records);
    expect(out.corrections.map((c) => [c.windowStart, c.old?.count ?? null, c.new.count])).toEqual([[40, 1, 2]]);
    expect(out.rejected.map((r) => [r.reason, r.eventTime, r.feature])).toEqual([['late', 22, 'cnt']]);
    expect(out.rejected[0]!.message).toMatch(/beyond the correction horizon of 20 ms/);
    expect(out.counters).toMatchObject({ applied: 4, late: 2, lateRecords: 1, corrections: 1 });
  });

  it('keeps only the final windows a late record can still correct', () => {
    const feed = new Feed();
    const engine = makeEngine({ latePolicy: 'update', correctionHorizonMs: 20, features: [COUNT] });
    engine.processBatch([feed.ev('u', 5), feed.ev('u', 15), feed.ev('u', 25), feed.ev('u', 35), feed.ev('u', 95)]);
    const e = engine.keyState('u')!.ents[0]!;
    if (e.kind !== 'slices') throw new Error('slices');
    // W = 95: windows ending after 75 stay; those ending at 10..40 are gone.
    expect([...e.finals!.keys()]).toEqual([]);
    engine.processBatch([feed.ev('u', 105)]);
    expect([...(e.finals?.keys() ?? [])]).toEqual([90]);
  });
});

describe('duplicates (idField)', () => {
  it('skips a producer retry with the same id and counts it', () => {
    const feed = new Feed();
    const out = runAll(makeEngine({ features: [SUM] }), [feed.ev('u', 1, { amount: 5, id: 'e1' }), feed.ev('u', 2, { amount: 5, id: 'e2' }), feed.ev('u', 1, { amount: 5, id: 'e1' })]);
    expect(out.counters).toMatchObject({ records: 3, applied: 2, duplicates: 1 });
    expect(out.rejected).toEqual([]);
    expect(out.windows.map((w) => [w.value, w.count])).toEqual([[10, 2]]);
  });

  it('skips by id alone: a retry with a different body is still a duplicate', () => {
    const feed = new Feed();
    const out = runAll(makeEngine({ features: [SUM] }), [feed.ev('u', 1, { amount: 5, id: 'e1' }), feed.ev('u', 3, { amount: 7, id: 'e1' })]);
    expect(out.counters.duplicates).toBe(1);
    expect(out.windows.map((w) => [w.value, w.count])).toEqual([[5, 1]]);
  });

  it('treats numeric and string ids alike', () => {
    const feed = new Feed();
    const out = runAll(makeEngine(), [feed.ev('u', 1, { id: 42 }), feed.ev('u', 2, { id: '42' })]);
    expect(out.counters.duplicates).toBe(1);
  });

  it('recognises a retry that arrives on another shard', () => {
    const feed = new Feed();
    const out = runAll(makeEngine(), [feed.ev('u', 1, { id: 'x' }, { shard: 'A' }), feed.ev('u', 1, { id: 'x' }, { shard: 'B' })]);
    expect(out.counters).toMatchObject({ applied: 1, duplicates: 1 });
  });

  it('does not de-duplicate without idField, nor records without an id', () => {
    const feed = new Feed();
    const noIdField = runAll(makeEngine({ source: { keyField: 'user', timeField: 'ts' } }), [feed.ev('u', 1, { id: 'x' }), feed.ev('u', 1, { id: 'x' })]);
    expect(noIdField.counters).toMatchObject({ applied: 2, duplicates: 0 });
    const noId = runAll(makeEngine(), [feed.ev('u', 1), feed.ev('u', 1)]);
    expect(noId.counters).toMatchObject({ applied: 2, duplicates: 0 });
  });

  it('does not count the same (shard, sequence number) delivered twice as a duplicate, nor apply it twice', () => {
    const feed = new Feed();
    const engine = makeEngine({ features: [SUM] });
    const a = feed.ev('u', 1, { amount: 5, id: 'e1' });
    const b = feed.ev('u', 2, { amount: 7, id: 'e2' });
    const first = engine.processBatch([a, b]);
    const again = engine.processBatch([a, b]);
    expect(again.counters).toMatchObject({ records: 2, applied: 2, duplicates: 0, redelivered: 2 });
    const out = collect([first, again, engine.flush()]);
    expect(out.windows.map((w) => [w.value, w.count])).toEqual([[12, 2]]);
  });

  it('applies a re-delivered record once without idField too', () => {
    const feed = new Feed();
    const engine = makeEngine({ source: { keyField: 'user', timeField: 'ts' }, features: [SUM, SESSION] });
    const a = feed.ev('u', 1, { amount: 5 });
    const out = collect(runBatches(engine, [[a, a], [a]]));
    expect(out.counters).toMatchObject({ records: 3, applied: 3, redelivered: 2, duplicates: 0 });
    expect(out.windows.map((w) => [w.feature, w.value, w.count])).toEqual([
      ['spend', 5, 1],
      ['visits', 5, 1],
    ]);
  });

  // A retried Lambda batch is delivered again after its state was saved; by then the batch's own later records
  // may have closed the window of an earlier one. That record was applied the first time: the re-delivery must
  // not turn it into a late record (a second, false DLQ message and a late count).
  it('does not report a re-delivered, already applied record as late once its window has closed', () => {
    const feed = new Feed();
    const engine = makeEngine();
    const batch = [feed.ev('u', 5, { id: 'a' }), feed.ev('u', 25, { id: 'b' })];
    engine.processBatch(batch);
    const again = engine.processBatch(batch);
    expect(again.rejected).toEqual([]);
    expect(again.counters).toMatchObject({ records: 2, applied: 2, late: 0, lateRecords: 0, redelivered: 2 });
  });

  it('de-duplicates before judging lateness: a retry that would be late is a duplicate', () => {
    const feed = new Feed();
    const out = runAll(makeEngine(), [feed.ev('u', 5, { id: 'x' }), feed.ev('u', 12, { id: 'y' }), feed.ev('u', 5, { id: 'x' })]);
    // W = 12 when the retry arrives: [0,10) is final, so without its id the retry would be late.
    expect(out.rejected).toEqual([]);
    expect(out.counters).toMatchObject({ duplicates: 1, late: 0, lateRecords: 0 });
  });

  // Ids are remembered for the longest window + allowed lateness. A retry arriving after that is late for every
  // window it belongs to: rejected as late (nothing lost silently), never applied twice.
  it('judges a retry that arrives after its id expired as late, never applying it twice', () => {
    const feed = new Feed();
    const engine = makeEngine();
    // Separate batches, as a stream delivers them.
    const out = collect(runBatches(engine, [[feed.ev('u', 5, { id: 'x' })], [feed.ev('u', 1000, { id: 'y' })], [feed.ev('u', 5, { id: 'x' })]]));
    expect(out.counters).toMatchObject({ duplicates: 0, applied: 2, lateRecords: 1 });
    expect(out.rejected.map((r) => r.reason)).toEqual(out.rejected.map(() => 'late'));
    expect(out.rejected.length).toBeGreaterThan(0);
  });

  it('still recognises a retry while its windows are open', () => {
    const feed = new Feed();
    const out = collect(runBatches(makeEngine(), [[feed.ev('u', 5, { id: 'x' })], [feed.ev('u', 7, { id: 'y' })], [feed.ev('u', 5, { id: 'x' })]]));
    expect(out.rejected).toEqual([]);
    expect(out.counters).toMatchObject({ duplicates: 1, late: 0 });
  });

  it('checks validity and the future guard before duplicates', () => {
    const feed = new Feed();
    const engine = makeEngine({ watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 100 }, features: [SUM] });
    const out = runAll(engine, [
      feed.ev('u', 5, { id: 'x', amount: 1 }),
      feed.ev('u', 5, { id: 'x', amount: 'one' }),
      feed.ev('u', 5000, { id: 'x', amount: 1 }, { arrivalTime: 0 }),
    ]);
    expect(out.rejected.map((r) => r.reason)).toEqual(['invalid', 'future']);
    expect(out.counters).toMatchObject({ applied: 1, invalid: 1, future: 1, duplicates: 0 });
  });

  it('lists the keys that remembered new ids in a batch, a retry not being new', () => {
    const feed = new Feed();
    const engine = makeEngine();
    const r = engine.processBatch([feed.ev('u', 5, { id: 'x' }), feed.ev('v', 6, { id: 'y' })]);
    expect([...r.idKeys].sort()).toEqual(['u', 'v']);
    const again = engine.processBatch([feed.ev('u', 7, { id: 'x' })]);
    expect(again.idKeys).toEqual([]);
    expect(again.counters.duplicates).toBe(1);
  });
});

describe('future guard', () => {
  const guarded = () => makeEngine({ watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 100 } });

  it('rejects a record more than maxFutureSkewMs ahead of its arrival, without moving the watermark', () => {
    const feed = new Feed();
    const records = [feed.ev('u', 1101, {}, { arrivalTime: 1000 }), feed.ev('u', 1100, {}, { arrivalTime: 1000 })];
    const engine = guarded();
    const r = engine.processBatch([records[0]!]);
    expect(r.rejected).toEqual([
      {
        reason: 'future',
        message: 'ts is 101 ms ahead of arrival, over maxFutureSkewMs 100',
        shard: SHARD,
        seq: '1',
        watermark: null,
        arrivalTime: 1000,
        eventTime: 1101,
        key: 'u',
        data: records[0]!.data,
      },
    ]);
    expect(r.counters).toMatchObject({ future: 1, applied: 0 });
    expect(engine.watermark(SHARD)).toBe(-Infinity);
    // Exactly maxFutureSkewMs ahead is allowed.
    const r2 = engine.processBatch([records[1]!]);
    expect(r2.rejected).toEqual([]);
    expect(engine.watermark(SHARD)).toBe(1100);
  });

  it('does not let one wrong clock close everyone else\'s windows', () => {
    const feed = new Feed();
    const out = runAll(guarded(), [feed.ev('a', 5, {}, { arrivalTime: 5 }), feed.ev('b', 1e12, {}, { arrivalTime: 6 }), feed.ev('a', 7, {}, { arrivalTime: 7 })]);
    expect(out.rejected.map((r) => r.reason)).toEqual(['future']);
    expect(brief(out.windows)).toEqual(['a[0,10)x2']);
  });

  it('does not check records without an arrival time, nor specs without maxFutureSkewMs', () => {
    const feed = new Feed();
    expect(runAll(guarded(), [feed.ev('u', 1e12)]).counters).toMatchObject({ applied: 1, future: 0 });
    expect(runAll(makeEngine(), [feed.ev('u', 1e12, {}, { arrivalTime: 0 })]).counters).toMatchObject({ applied: 1, future: 0 });
  });

  it('allows records from the past and a zero skew', () => {
    const feed = new Feed();
    const zero = makeEngine({ watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 0 } });
    expect(runAll(zero, [feed.ev('u', 500, {}, { arrivalTime: 2000 }), feed.ev('u', 1000, {}, { arrivalTime: 1000 }), feed.ev('u', 1001, {}, { arrivalTime: 1000 })]).counters).toMatchObject({
      applied: 2,
      future: 1,
    });
  });
});

describe('invalid records', () => {
  it('go to the rejected list with reason invalid and a message naming the field, changing nothing', () => {
    const feed = new Feed();
    const records = [feed.record('{oops'), feed.ev('u', 'later'), feed.ev('u', 1, { amount: '3' })];
    const out = runAll(makeEngine({ features: [SUM] }), records);
    expect(out.rejected.map((r) => [r.reason, r.seq, r.data])).toEqual([
      ['invalid', '1', records[0]!.data],
      ['invalid', '2', records[1]!.data],
      ['invalid', '3', records[2]!.data],
    ]);
    expect(out.rejected[1]!.message).toMatch(/^ts must be/);
    expect(out.rejected[2]!.message).toMatch(/^amount must be a finite number/);
    expect(out.counters).toMatchObject({ records: 3, invalid: 3, applied: 0 });
    expect(out.windows).toEqual([]);
  });

  it('accept payloads as bytes and reject invalid UTF-8', () => {
    const engine = makeEngine();
    const r = engine.processBatch([
      { data: new TextEncoder().encode(JSON.stringify({ user: 'u', ts: 1 })), shard: SHARD, seq: '1' },
      { data: new Uint8Array([0x7b, 0xff, 0x7d]), shard: SHARD, seq: '2' },
    ]);
    expect(r.counters).toMatchObject({ applied: 1, invalid: 1 });
    expect(r.rejected[0]!.message).toBe('payload is not valid UTF-8');
  });
});

describe('firing final windows', () => {
  it('emits a tumbling window in the batch whose watermark reaches its end, once', () => {
    const feed = new Feed();
    const engine = makeEngine({ watermark: { allowedLatenessMs: 5 } });
    expect(engine.processBatch([feed.ev('u', 3), feed.ev('u', 14)]).finals).toEqual([]);
    // W = 15 >= 10.
    const r = engine.processBatch([feed.ev('v', 20)]);
    expect(r.finals).toEqual([{ feature: 'cnt', key: 'u', windowStart: 0, windowEnd: 10, value: 1, count: 1, acc: [1, 0, 0, 0, 0] }]);
    expect(r.changed).toContainEqual({ feature: 'cnt', key: 'u' });
    const rest = engine.flush();
    expect(brief(rest.finals).sort()).toEqual(['u[10,20)x1', 'v[20,30)x1']);
    expect(engine.flush().finals).toEqual([]);
  });

  // Regression: a record whose own arrival fires a window of its entity must leave a timer for the entity's next
  // window; otherwise that window waits for another record of the same key (or the end of input).
  it('emits the next window of a key on time after an earlier window of the key fired mid-batch (tumbling)', () => {
    const feed = new Feed();
    const engine = makeEngine();
    // u@26 arrives at W = 25 >= 10: [0,10) fires while u is updated; u's next window is [20,30).
    const first = engine.processBatch([feed.ev('u', 5), feed.ev('u', 25), feed.ev('u', 26)]);
    expect(brief(first.finals)).toEqual(['u[0,10)x1']);
    const second = engine.processBatch([feed.ev('v', 45)]);
    expect(second.watermarks).toEqual({ [SHARD]: 45 });
    expect(brief(second.finals)).toEqual(['u[20,30)x2']);
  });

  it('emits the next session of a key on time after an earlier session fired mid-batch', () => {
    const feed = new Feed();
    const engine = makeEngine({ features: [{ ...SESSION, aggregate: 'count', field: undefined }] });
    const first = engine.processBatch([feed.ev('u', 0), feed.ev('u', 50), feed.ev('u', 50)]);
    expect(brief(first.finals)).toEqual(['u[0,10)x1']);
    const second = engine.processBatch([feed.ev('v', 100)]);
    expect(brief(second.finals)).toEqual(['u[50,60)x2']);
  });

  it('never emits the same window twice across batches and flush', () => {
    const feed = new Feed();
    const engine = makeEngine({ features: [COUNT, { name: 'sl', window: { type: 'sliding', sizeMs: 6, slideMs: 4 }, aggregate: 'count' }, { ...SESSION, aggregate: 'count', field: undefined }] });
    const times = [3, 1, 8, 20, 14, 33, 29, 30, 41, 57, 50, 52];
    const out = collect(runBatches(engine, times.map((t, i) => [feed.ev(i % 2 === 0 ? 'a' : 'b', t)])));
    expect(repeatedFinals(out.finals)).toEqual([]);
    expect(out.finals.length).toBe(out.counters.finalWindows);
  });

  it('hands each final window to onFinal as it fires, exactly as the batch result would list it', () => {
    const features = [COUNT, SUM, { name: 'sl', window: { type: 'sliding', sizeMs: 30, slideMs: 10 }, aggregate: 'avg', field: 'amount' }, SESSION];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 200 }), fc.integer({ min: -50, max: 50 })), { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (evs, size) => {
        const feed = new Feed();
        const records = evs.map(([u, t, amount]) => feed.ev(u, t, { amount }));
        const chunks = [];
        for (let i = 0; i < records.length; i += size) chunks.push(records.slice(i, i + size));
        const listed = collect(runBatches(makeEngine({ watermark: { allowedLatenessMs: 15 }, features }), chunks));
        const sunk: unknown[] = [];
        const engine = makeEngine({ watermark: { allowedLatenessMs: 15 }, features }, { onFinal: (feature, key, windowStart, windowEnd, value, count) => sunk.push({ feature, key, windowStart, windowEnd, value, count }) });
        const results = runBatches(engine, chunks);
        expect(results.every((r) => r.finals.length === 0)).toBe(true);
        expect(sunk).toEqual(listed.finals);
        expect(results.reduce((n, r) => n + r.counters.finalWindows, 0)).toBe(sunk.length);
      }),
    );
  });

  it('fires the same windows, rejects the same records and counts the same with sweeps instead of batch-end timers, keys on several shards included', () => {
    const features = [COUNT, SUM, { name: 'sl', window: { type: 'sliding', sizeMs: 30, slideMs: 10 }, aggregate: 'avg', field: 'amount' }, SESSION];
    const byId = (rows: readonly { feature: string; key: string; windowStart: number }[]) => [...rows].sort((x, y) => (rowKey(x) < rowKey(y) ? -1 : 1));
    const rowKey = (w: { feature: string; key: string; windowStart: number }) => `${w.feature}|${w.key}|${String(w.windowStart).padStart(5, '0')}`;
    const rejKey = (r: { seq: string; reason: string; feature?: string }) => `${r.seq.padStart(4, '0')}|${r.reason}|${r.feature ?? ''}`;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 200 }), fc.integer({ min: -50, max: 50 }), fc.boolean(), fc.constantFrom('s0', 's0', 's1', 's2')), { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('dlq', 'drop', 'update'),
        (evs, size, latePolicy) => {
          const feed = new Feed();
          // The last flag of an event also decides whether a sweep follows the batch it closes.
          // Keys arrive on several shards too: whose watermark has made which windows final decides lateness.
          const records = evs.map(([u, t, amount, , shard]) => feed.ev(u, t, { amount, id: `${u}${t}` }, { shard }));
          const doc = { watermark: { allowedLatenessMs: 15 }, latePolicy, features };
          const chunks: InputRecord[][] = [];
          for (let i = 0; i < records.length; i += size) chunks.push(records.slice(i, i + size));
          const timed = collect(runBatches(makeEngine(doc), chunks));
          const swept = makeEngine(doc, { fireAtBatchEnd: false });
          const results = chunks.flatMap((c, i) => (evs[i * size]![3] ? [swept.processBatch(c), swept.fireAllDue()] : [swept.processBatch(c)]));
          results.push(swept.flush());
          const out = collect(results);
          expect(byId(out.windows)).toEqual(byId(timed.windows));
          expect(out.rejected.map(rejKey).sort()).toEqual(timed.rejected.map(rejKey).sort());
          expect(out.counters).toEqual(timed.counters);
        },
      ),
      // Enough runs to meet the interleavings where a key's windows are final on one shard and a record comes on another.
      { numRuns: 3000 },
    );
  });

  it('refuses onFinal under latePolicy "update", whose final windows must keep their aggregates', () => {
    expect(() => makeEngine({ latePolicy: 'update' }, { onFinal: () => undefined })).toThrow(/onFinal cannot be used with latePolicy "update"/);
  });
});

describe('accounting', () => {
  type Kind = 'valid' | 'invalid' | 'future' | 'retry' | 'redeliver';
  const kind = fc.constantFrom<Kind>('valid', 'valid', 'valid', 'invalid', 'future', 'retry', 'redeliver');
  const step = fc.record({ kind, key: fc.constantFrom('a', 'b', 'c'), time: fc.integer({ min: 0, max: 80 }), amount: fc.integer({ min: -5, max: 5 }) });

  it('records = applied + lateRecords + invalid + future + duplicates, under every policy', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.constantFrom('dlq', 'drop', 'update'), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 4 }), (steps, latePolicy, lateness, chunk) => {
        const engine = makeEngine({
          latePolicy,
          watermark: { allowedLatenessMs: lateness, maxFutureSkewMs: 50 },
          features: [COUNT, SUM, { name: 'sl', window: { type: 'sliding', sizeMs: 6, slideMs: 4 }, aggregate: 'max', field: 'amount' }, SESSION],
        });
        const feed = new Feed();
        const sent: InputRecord[] = [];
        let n = 0;
        for (const s of steps) {
          let rec: InputRecord;
          if (s.kind === 'invalid') rec = feed.ev(s.key, s.time, { amount: 'x' });
          else if (s.kind === 'future') rec = feed.ev(s.key, s.time + 1000, { amount: s.amount }, { arrivalTime: s.time });
          else if (s.kind === 'retry' && sent.length > 0) rec = feed.record(JSON.parse(sent[sent.length - 1]!.data as string));
          else if (s.kind === 'redeliver' && sent.length > 0) rec = sent[n % sent.length]!;
          else rec = feed.ev(s.key, s.time, { amount: s.amount, id: `e${++n}` }, { arrivalTime: s.time });
          sent.push(rec);
        }
        const chunks: InputRecord[][] = [];
        for (let i = 0; i < sent.length; i += chunk) chunks.push(sent.slice(i, i + chunk));
        const out = collect(runBatches(engine, chunks));
        const c = out.counters;
        expect(c.records).toBe(sent.length);
        expect(c.applied + c.lateRecords + c.invalid + c.future + c.duplicates).toBe(c.records);
        expect(c.late).toBeGreaterThanOrEqual(c.lateRecords);
        expect(out.rejected.filter((r) => r.reason === 'invalid')).toHaveLength(c.invalid);
        expect(out.rejected.filter((r) => r.reason === 'future')).toHaveLength(c.future);
        const lateListed = out.rejected.filter((r) => r.reason === 'late').length;
        if (latePolicy === 'dlq') expect(lateListed).toBe(c.late);
        if (latePolicy === 'drop') expect(lateListed).toBe(0);
        if (latePolicy === 'update') expect(lateListed).toBeLessThanOrEqual(c.late);
        expect(repeatedFinals(out.finals)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('current value (online store)', () => {
  const spec = parseSpec({
    source: { keyField: 'u', timeField: 't' },
    watermark: { allowedLatenessMs: 1000 },
    features: [
      { name: 'n1h', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 300_000 }, aggregate: 'count' },
      { name: 'n5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'count' },
    ],
  });
  const rec = (t: number, seq: number): InputRecord => ({ data: JSON.stringify({ u: 'a', t }), shard: 's', seq: String(seq) });

  it('serves the trailing window of a sliding feature, not the one that just started', () => {
    const e = new WindowEngine(spec);
    // One event a minute for 38 minutes: the trailing hour holds all 38, the current 5-minute bucket only a few.
    e.processBatch(Array.from({ length: 38 }, (_, i) => rec(i * 60_000 + 1_000, i + 1)));
    const hour = e.currentValue({ feature: 'n1h', key: 'a' })!;
    expect(hour.value).toBe(38);
    expect(hour.windowEnd).toBe(2_400_000); // ends at the slide boundary after the newest event (37 min)
    const bucket = e.currentValue({ feature: 'n5m', key: 'a' })!;
    expect(bucket).toMatchObject({ windowStart: 2_100_000, windowEnd: 2_400_000, value: 3 });
  });

  it('moves past windows that became final', () => {
    const e = new WindowEngine(spec);
    e.processBatch([rec(1_000, 1), rec(3_700_000, 2)]);
    // The event at 1 s is in windows ending by 1 h, all final once the watermark passes 1 h.
    expect(e.currentValue({ feature: 'n1h', key: 'a' })).toMatchObject({ windowStart: 300_000, value: 1 });
  });
});

describe('late message of a key on several shards', () => {
  it('names the horizon another shard set instead of the watermark -Infinity of a fresh shard', () => {
    const feed = new Feed();
    const engine = makeEngine({ watermark: { allowedLatenessMs: 0 }, features: [COUNT] });
    // Shard A finalizes u's window [0,10); the first record of shard B, for u at 5, is late for it.
    const out = collect(runBatches(engine, [[feed.ev('u', 5, {}, { shard: 'A' }), feed.ev('u', 30, {}, { shard: 'A' })], [feed.ev('u', 6, {}, { shard: 'B' })]]));
    const late = out.rejected.filter((r) => r.reason === 'late');
    expect(late.map((r) => [r.shard, r.watermark])).toEqual([['B', null]]);
    expect(late[0]!.message).toBe("cnt: every window of event time 6 is final (the key's windows are final through 30 by another shard's watermark; this shard has none yet)");
  });
});

describe('shard ids are data', () => {
  it('judges a key on shards "__proto__" and "B" as on shards "A" and "B", under every late policy', () => {
    for (const latePolicy of ['dlq', 'update'] as const) {
      const run = (a: string): string[] => {
        const feed = new Feed();
        const engine = makeEngine({ latePolicy, watermark: { allowedLatenessMs: 0 }, features: [COUNT] });
        const recs: Array<[string, number]> = [[a, 5], [a, 25], ['B', 7], ['B', 40], [a, 8], ['B', 9], [a, 3]];
        const out = collect(runBatches(engine, recs.map(([shard, t]) => [feed.ev('k', t, {}, { shard })])));
        return [...brief(out.windows), ...out.rejected.map((r) => `${r.seq} ${r.reason}`), ...out.corrections.map((c) => `${c.windowStart} ${c.new.count}`)].sort();
      };
      expect(run('__proto__'), latePolicy).toEqual(run('A'));
    }
  });
});

describe('dropping idle keys (replay)', () => {
  it('keeps a key whose windows are final beyond a known shard\'s watermark, so its late record from there is still late', () => {
    const spec = makeSpec({ features: [{ name: 'tum', window: { type: 'tumbling', sizeMs: 30 }, aggregate: 'count' }] });
    const outcome = (evict: boolean) => {
      const engine = new WindowEngine(spec, { fireAtBatchEnd: false });
      const feed = new Feed();
      const results = [engine.processBatch([feed.ev('z', 10, {}, { shard: 's1' }), feed.ev('k', 127, {}, { shard: 's0' }), feed.ev('other', 151, {}, { shard: 's0' })]), engine.fireAllDue()];
      if (evict) engine.evictIdle();
      // Shard s1 is far behind (watermark 10): k's window [120, 150) is already final for k.
      results.push(engine.processBatch([feed.ev('k', 147, {}, { shard: 's1' })]), engine.fireAllDue(), engine.flush());
      const c = collect(results);
      return { finals: sortRows(c.finals), rejected: c.rejected.map((r) => [r.reason, r.key, r.eventTime]) };
    };
    expect(outcome(true)).toEqual(outcome(false));
    expect(outcome(true).rejected).toEqual([['late', 'k', 147]]);
  });
});
