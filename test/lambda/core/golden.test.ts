/**
 * The classic event-time example: A at 10:00:00 arriving 10:00:01, B at 10:00:05 arriving 10:00:06, and C at
 * 10:00:03 arriving 10:12:14, all for the same user. A 10-second tumbling window [10:00:00, 10:00:10) holds all
 * three by event time; by processing time C would land in [10:12:10, 10:12:20). Ordinary events between
 * 10:00:06 and 10:12:14 move the watermark (allowed lateness 30 s) far past 10:00:10 before C arrives.
 * Every expected value below is worked out by hand from the semantics, not taken from the engine.
 */
import { describe, expect, it } from 'vitest';
import { type BatchResult, type InputRecord, WindowEngine } from '../../../lambda/core/engine';
import { parseSpec } from '../../../lambda/core/spec';
import { collect } from '../../support/engine-harness';

const at = (hms: string): number => Date.parse(`2024-03-15T${hms}Z`);

const spec = (latePolicy: 'dlq' | 'drop' | 'update') =>
  parseSpec({
    source: { keyField: 'user_id', timeField: 'event_time', idField: 'event_id' },
    watermark: { allowedLatenessMs: 30000, maxFutureSkewMs: 300000 },
    latePolicy,
    features: [
      { name: 'events_10s', window: { type: 'tumbling', sizeMs: 10000 }, aggregate: 'count' },
      { name: 'spend_10s', window: { type: 'tumbling', sizeMs: 10000 }, aggregate: 'sum', field: 'amount' },
    ],
  });

// Arrival order. Watermark after each (max event time − 30 s):
//   A 09:59:30, B 09:59:35, D 09:59:50, E 10:00:15, F 10:01:00, G 10:11:30; C is judged against 10:11:30.
const EVENTS = [
  { id: 'A', event: '10:00:00', arrival: '10:00:01', amount: 10 },
  { id: 'B', event: '10:00:05', arrival: '10:00:06', amount: 20 },
  { id: 'D', event: '10:00:20', arrival: '10:00:21', amount: 7 },
  { id: 'E', event: '10:00:45', arrival: '10:00:46', amount: 1 },
  { id: 'F', event: '10:01:30', arrival: '10:01:31', amount: 2 },
  { id: 'G', event: '10:12:00', arrival: '10:12:01', amount: 3 },
  { id: 'C', event: '10:00:03', arrival: '10:12:14', amount: 5 },
] as const;

function records(): InputRecord[] {
  return EVENTS.map((e, i) => ({
    data: JSON.stringify({ event_id: e.id, user_id: 'alice', event_time: `2024-03-15T${e.event}Z`, amount: e.amount }),
    shard: 'shardId-000000000000',
    seq: String(i + 1),
    arrivalTime: at(e.arrival),
  }));
}

/** Each record is its own delivery, as in the stream; then the end of input. */
function stream(latePolicy: 'dlq' | 'drop' | 'update'): { perRecord: BatchResult[]; flushed: BatchResult } {
  const engine = new WindowEngine(spec(latePolicy));
  const perRecord = records().map((r) => engine.processBatch([r]));
  return { perRecord, flushed: engine.flush() };
}

const W_BEFORE_C = Date.parse('2024-03-15T10:11:30.000Z');

const row = (feature: string, start: string, end: string, value: number, count: number) => ({
  feature,
  key: 'alice',
  windowStart: at(start),
  windowEnd: at(end),
  value,
  count,
});

describe('the late event C of the event-time example', () => {
  it('uses the hand-computed watermark for C', () => {
    // 2024-03-15 is day 19 797 after the epoch; 10:11:30 is 36 690 s into it.
    expect(W_BEFORE_C).toBe(19797 * 86400000 + 36690000);
    expect(W_BEFORE_C).toBe(1710497490000);
  });

  it('dlq: the window holds A and B (count 2), and C goes to the late queue with watermark 10:11:30', () => {
    const { perRecord, flushed } = stream('dlq');
    const finalsPerRecord = perRecord.map((r) => r.finals.map((f) => `${f.feature} ${new Date(f.windowStart).toISOString().slice(11, 19)} ${f.value}`));
    expect(finalsPerRecord).toEqual([
      [],
      [],
      [],
      // E moves W to 10:00:15 >= 10:00:10.
      ['events_10s 10:00:00 2', 'spend_10s 10:00:00 30'],
      // F moves W to 10:01:00: [10:00:20, 10:00:30) and [10:00:40, 10:00:50) close.
      ['events_10s 10:00:20 1', 'events_10s 10:00:40 1', 'spend_10s 10:00:20 7', 'spend_10s 10:00:40 1'],
      // G moves W to 10:11:30: [10:01:30, 10:01:40) closes.
      ['events_10s 10:01:30 1', 'spend_10s 10:01:30 2'],
      [],
    ]);
    expect(perRecord.map((r) => r.watermarks['shardId-000000000000'])).toEqual([
      at('09:59:30'),
      at('09:59:35'),
      at('09:59:50'),
      at('10:00:15'),
      at('10:01:00'),
      at('10:11:30'),
      at('10:11:30'),
    ]);

    const out = collect([...perRecord, flushed]);
    expect(out.windows).toEqual([
      row('events_10s', '10:00:00', '10:00:10', 2, 2),
      row('events_10s', '10:00:20', '10:00:30', 1, 1),
      row('events_10s', '10:00:40', '10:00:50', 1, 1),
      row('events_10s', '10:01:30', '10:01:40', 1, 1),
      row('events_10s', '10:12:00', '10:12:10', 1, 1),
      row('spend_10s', '10:00:00', '10:00:10', 30, 2),
      row('spend_10s', '10:00:20', '10:00:30', 7, 1),
      row('spend_10s', '10:00:40', '10:00:50', 1, 1),
      row('spend_10s', '10:01:30', '10:01:40', 2, 1),
      row('spend_10s', '10:12:00', '10:12:10', 3, 1),
    ]);
    // Processing time would have put C in [10:12:10, 10:12:20): no such window exists.
    expect(out.windows.some((w) => w.windowStart === at('10:12:10'))).toBe(false);

    const c = records()[6]!;
    expect(out.rejected).toHaveLength(2);
    for (const [i, feature] of ['events_10s', 'spend_10s'].entries()) {
      expect(out.rejected[i]).toMatchObject({
        reason: 'late',
        feature,
        watermark: W_BEFORE_C,
        shard: 'shardId-000000000000',
        seq: '7',
        arrivalTime: at('10:12:14'),
        eventTime: at('10:00:03'),
        key: 'alice',
        data: c.data,
      });
    }
    expect(out.counters).toMatchObject({ records: 7, applied: 6, late: 2, lateRecords: 1, invalid: 0, future: 0, duplicates: 0, corrections: 0 });
  });

  it('update: C corrects the window from 2 to 3 (and the spend from 30 to 35)', () => {
    const { perRecord, flushed } = stream('update');
    const out = collect([...perRecord, flushed]);
    expect(out.rejected).toEqual([]);
    expect(perRecord[6]!.corrections.map((c) => ({ feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, old: c.old, new: c.new }))).toEqual([
      { feature: 'events_10s', key: 'alice', windowStart: at('10:00:00'), windowEnd: at('10:00:10'), old: { value: 2, count: 2 }, new: { value: 3, count: 3 } },
      { feature: 'spend_10s', key: 'alice', windowStart: at('10:00:00'), windowEnd: at('10:00:10'), old: { value: 30, count: 2 }, new: { value: 35, count: 3 } },
    ]);
    expect(out.corrections).toHaveLength(2);
    expect(out.windows.filter((w) => w.windowStart === at('10:00:00'))).toEqual([row('events_10s', '10:00:00', '10:00:10', 3, 3), row('spend_10s', '10:00:00', '10:00:10', 35, 3)]);
    expect(out.windows).toHaveLength(10);
    expect(out.counters).toMatchObject({ records: 7, applied: 7, late: 2, lateRecords: 0, corrections: 2 });
  });

  it('drop: C is counted as late for both features but listed nowhere', () => {
    const { perRecord, flushed } = stream('drop');
    const out = collect([...perRecord, flushed]);
    expect(out.rejected).toEqual([]);
    expect(out.corrections).toEqual([]);
    expect(out.counters).toMatchObject({ records: 7, applied: 6, late: 2, lateRecords: 1 });
    expect(out.windows.filter((w) => w.windowStart === at('10:00:00')).map((w) => [w.feature, w.value, w.count])).toEqual([
      ['events_10s', 2, 2],
      ['spend_10s', 30, 2],
    ]);
  });

  it('with a lateness long enough to cover the 12-minute delay, C is on time and the window counts 3', () => {
    const engine = new WindowEngine(parseSpec({ ...JSON.parse(JSON.stringify(spec('dlq'))), watermark: { allowedLatenessMs: 15 * 60000 } }));
    const out = collect([...records().map((r) => engine.processBatch([r])), engine.flush()]);
    expect(out.rejected).toEqual([]);
    expect(out.windows[0]).toEqual(row('events_10s', '10:00:00', '10:00:10', 3, 3));
  });
});
