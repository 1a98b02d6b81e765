import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { padSeq, padTime } from '../../../lambda/adapters/state-store';
import { numberAttr, numberOf } from '../../../lambda/adapters/dynamo-io';

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
    expect(padTime(8e15)).not.toBe(padTime(8e15 + 1));
    expect(padTime(100)).not.toBe(padTime(100.4));
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

describe('number attributes', () => {
  it('are DynamoDB numbers within its range and exact text outside it, read back alike', () => {
    expect(numberAttr(12.5)).toEqual({ N: '12.5' });
    expect(numberAttr(0)).toEqual({ N: '0' });
    expect(numberAttr(1e-130)).toEqual({ N: '1e-130' });
    expect(numberAttr(9.999999999999998e125)).toEqual({ N: '9.999999999999998e+125' });
    expect(numberAttr(1e126)).toEqual({ S: '1e+126' });
    expect(numberAttr(-1e-200)).toEqual({ S: '-1e-200' });
    for (const n of [0, -0.5, 1e-130, 9e-131, 5e-324, -1.8e126, 1.7976931348623157e308]) expect(numberOf(numberAttr(n))).toBe(n);
    expect(numberOf(undefined)).toBeNull();
  });
});
