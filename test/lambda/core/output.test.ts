import { describe, expect, it } from 'vitest';
import { addCounters, emptySummary, payloadText, rejectedLine, windowId, windowLine } from '../../../lambda/core/output';
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
    const c: BatchCounters = { records: 5, applied: 3, late: 2, lateRecords: 1, invalid: 1, future: 0, duplicates: 0, redelivered: 0, finalWindows: 4, corrections: 1 };
    const s = emptySummary();
    addCounters(s, c);
    addCounters(s, c);
    expect(s).toEqual({ records: 10, applied: 6, late: 4, invalid: 2, future: 0, duplicates: 0, lateRecords: 2, finalWindows: 8, corrections: 2 });
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
