import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareSeq } from '../../../lambda/core/state';

describe('compareSeq', () => {
  it('orders Kinesis sequence numbers numerically, beyond the precision of numbers', () => {
    expect(compareSeq('9', '10')).toBeLessThan(0);
    expect(compareSeq('10', '9')).toBeGreaterThan(0);
    expect(compareSeq('49590338271490256608559692538361571095921575989136588898', '49590338271490256608559692538361571095921575989136588899')).toBeLessThan(0);
    expect(compareSeq('123', '123')).toBe(0);
  });

  it('agrees with BigInt comparison', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 60n }), fc.bigInt({ min: 0n, max: 10n ** 60n }), (a, b) => {
        expect(Math.sign(compareSeq(a.toString(), b.toString()))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });
});
