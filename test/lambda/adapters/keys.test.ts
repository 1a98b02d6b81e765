import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { padSeq, padTime, timerSortKey } from '../../../lambda/adapters/state-store';
import { finalSortKey } from '../../../lambda/adapters/feature-store';

const LIMIT = 8.64e15 + 3e11;

describe('sort-key encodings', () => {
  it('padTime preserves order and never maps two times to one key, fractions and negatives included', () => {
    // Epoch milliseconds over the whole range, and times with sub-millisecond fractions.
    const time = fc.oneof(
      fc.integer({ min: -LIMIT, max: LIMIT }),
      fc.tuple(fc.integer({ min: -1e13, max: 1e13 }), fc.integer({ min: 0, max: 999 })).map(([ms, us]) => ms + us / 1000),
      fc.constantFrom(0, -1, 1, 100, 100.4, 7.3e12, 7.3e12 + 1, 8e15, 8e15 + 1, -7.3e12, -7.3e12 - 1),
    );
    fc.assert(
      fc.property(time, time, (a, b) => {
        const [x, y] = [padTime(a), padTime(b)];
        if (a < b) expect(x < y).toBe(true);
        else if (a > b) expect(x > y).toBe(true);
        else expect(x).toBe(y);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps neighbouring times apart where a plain offset would collide (years after 2198)', () => {
    expect(padTime(7.3e12)).not.toBe(padTime(7.3e12 + 1));
    expect(finalSortKey('f', 8e15)).not.toBe(finalSortKey('f', 8e15 + 1));
    expect(timerSortKey(100, 'k')).not.toBe(timerSortKey(100.4, 'k'));
  });

  it('refuses times it cannot encode exactly', () => {
    expect(() => padTime(Number.MAX_SAFE_INTEGER)).toThrow(RangeError);
  });

  it('padSeq orders Kinesis sequence numbers numerically', () => {
    expect(padSeq('9') < padSeq('10')).toBe(true);
    expect(padSeq('49650000000000000000000000000000000000000000000000000001') < padSeq('49650000000000000000000000000000000000000000000000000002')).toBe(true);
  });
});

describe('padTime with tiny and near-integer fractions', () => {
  it('keeps order where plain number text would switch to exponents', () => {
    const xs = [-1, -0.9999999, -0.5, -1e-7, 0, 1e-7, 0.5, 1, 1.000000000001, 1.00001, 1.9999999999999998, 2];
    const enc = xs.map(padTime);
    for (let i = 1; i < xs.length; i++) expect(enc[i - 1]! < enc[i]!, `${xs[i - 1]} < ${xs[i]}`).toBe(true);
  });
});
