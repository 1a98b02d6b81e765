import { describe, expect, it } from 'vitest';
import { addCounters, emptySummary, payloadText, rejectedLine, windowId, windowLine, windowLineText } from '../../../lambda/core/output';
import type { BatchCounters, Rejection } from '../../../lambda/core/engine';

describe('output lines', () => {
  it('a window line has exactly the six fields of the replay contract', () => {
    const line = windowLine({ feature: 'f', key: 'k', windowStart: 0, windowEnd: 10, value: 2.5, count: 2, acc: [2, 5, 1, 4] });
    expect(line).toEqual({ feature: 'f', key: 'k', windowStart: 0, windowEnd: 10, value: 2.5, count: 2 });
    expect(Object.keys(line)).toEqual(['feature', 'key', 'windowStart', 'windowEnd', 'value', 'count']);
  });

  it('a rejected line carries reason, feature, line number, watermark and the payload as text', () => {
    const r: Rejection = { reason: 'late', message: 'm', feature: 'f', shard: 's', seq: '9', watermark: 100, eventTime: 5, key: 'k', data: new TextEncoder().encode('{"é":1}') };
    expect(rejectedLine(r, 9)).toEqual({ reason: 'late', feature: 'f', message: 'm', line: 9, shard: 's', watermark: 100, eventTime: 5, key: 'k', data: '{"é":1}' });
    const invalid: Rejection = { reason: 'invalid', message: 'bad', shard: 's', seq: '2', watermark: null, data: 'x' };
    expect(rejectedLine(invalid, 2)).toEqual({ reason: 'invalid', message: 'bad', line: 2, shard: 's', watermark: null, data: 'x' });
  });

  it('payloadText decodes bytes as UTF-8 and passes strings through', () => {
    expect(payloadText('abc')).toBe('abc');
    expect(payloadText(new Uint8Array([0xe2, 0x82, 0xac]))).toBe('€');
  });

  it('sums batch counters into the summary', () => {
    const c: BatchCounters = { records: 5, applied: 3, late: 2, lateRecords: 1, invalid: 1, future: 0, duplicates: 0, redelivered: 0, finalWindows: 4, corrections: 1, firings: 3 };
    const s = emptySummary();
    addCounters(s, c);
    addCounters(s, c);
    expect(s).toEqual({ records: 10, applied: 6, late: 4, invalid: 2, future: 0, duplicates: 0, lateRecords: 2, finalWindows: 8, corrections: 2, firings: 6 });
  });

  it('window ids tell feature, key and start apart', () => {
    const ids = new Set([
      windowId({ feature: 'a', key: 'b', windowStart: 1 }),
      windowId({ feature: 'a', key: 'b', windowStart: 2 }),
      windowId({ feature: 'a', key: 'c', windowStart: 1 }),
      windowId({ feature: 'ab', key: '', windowStart: 1 }),
      windowId({ feature: 'a', key: 'b1', windowStart: 1 }),
    ]);
    expect(ids.size).toBe(5);
  });
});

describe('windowLineText', () => {
  it('is exactly JSON.stringify of the window line, for awkward keys and values too', () => {
    const cases: Array<[string, string, number, number, number, number]> = [
      ['cnt', 'user_1', 0, 300_000, 3, 3],
      ['avg "amount"', 'zoë "quoted" \\ back\u0000slash\n', -600_000, 0, 1 / 3, 7],
      ['spend', '\ud83d\ude00 and a lone \ud800', 1_767_258_000_000, 1_767_261_600_000, -0, 1],
      ['avg', 'k', 8.64e15 - 60_000, 8.64e15, NaN, 0],
      ['max', 'k', -8.64e15, -8.64e15 + 10, Infinity, 2],
      ['sum', 'k', 0.5, 1.5, 1e21, 1],
      ['sum', 'k', 0.5, 2.5, 123.45000000000002, 4],
    ];
    for (const [feature, key, windowStart, windowEnd, value, count] of cases) {
      const text = windowLineText(feature, key, windowStart, windowEnd, value, count);
      expect(text).toBe(JSON.stringify(windowLine({ feature, key, windowStart, windowEnd, value, count })));
      // Cached pieces are reused, never mixed up: the same bounds with another end, the same key in another feature.
      expect(windowLineText('other', key, windowStart, windowEnd + 1, value, count)).toBe(
        JSON.stringify({ feature: 'other', key, windowStart, windowEnd: windowEnd + 1, value: Number.isFinite(value) ? value : null, count }),
      );
    }
  });
});
