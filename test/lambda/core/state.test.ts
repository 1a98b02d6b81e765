import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Acc } from '../../../lambda/core/aggregate';
import { SliceList } from '../../../lambda/core/slices';
import { type Entity, compareSeq, deserializeEntity, serializeEntity } from '../../../lambda/core/state';

function sliceList(pairs: Array<[number, Acc]>): SliceList {
  const l = new SliceList();
  for (const [i, a] of pairs) l.set(i, a);
  return l;
}

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

describe('entity serialization', () => {
  it('round-trips a slice entity through JSON, infinities included', () => {
    const e: Entity = {
      kind: 'slices',
      fi: 1,
      key: 'u',
      finalThrough: -Infinity,
      lastApplied: { 'shard-0': '17' },
      maxEventTime: 42,
      due: 50,
      timerShard: 'shard-0',
      mark: 0,
      // Slice indexes with a 10 ms slice width: slices [40, 50) and [30, 40).
      slices: sliceList([
        [4, [2, 7, 3, 4]],
        [3, [1, -1, -1, -1]],
      ]),
      finals: undefined,
    };
    const json = JSON.parse(JSON.stringify(serializeEntity(e, 10)));
    expect(json.finalThrough).toBeNull();
    expect(json.slices).toEqual([
      [30, 1, -1, -1, -1],
      [40, 2, 7, 3, 4],
    ]);
    const back = deserializeEntity(1, 'u', json, false, 10);
    expect(back.kind).toBe('slices');
    expect(back.finalThrough).toBe(-Infinity);
    expect(back.maxEventTime).toBe(42);
    expect(back.lastApplied).toEqual({ 'shard-0': '17' });
    expect(back.timerShard).toBe('shard-0');
    if (back.kind === 'slices') {
      expect(back.slices.entries()).toEqual([
        [3, [1, -1, -1, -1]],
        [4, [2, 7, 3, 4]],
      ]);
      expect(back.finals).toBeUndefined();
      const withFinals = deserializeEntity(1, 'u', json, true, 10);
      expect(withFinals.kind === 'slices' ? withFinals.finals : 'not slices').toEqual(new Map());
    }
  });

  it('round-trips a session entity', () => {
    const e: Entity = {
      kind: 'sessions',
      fi: 0,
      key: '42',
      finalThrough: 100,
      lastApplied: {},
      maxEventTime: -Infinity,
      due: 130,
      timerShard: undefined,
      mark: 0,
      sessions: [
        { start: 105, end: 130, acc: [2, 9, 4, 5] },
        { start: 140, end: 150, acc: [1, 1, 1, 1] },
      ],
    };
    const json = JSON.parse(JSON.stringify(serializeEntity(e, 1)));
    expect(json.maxEventTime).toBeNull();
    expect(json).not.toHaveProperty('timerShard');
    const back = deserializeEntity(0, '42', json, false, 1);
    expect(back.kind).toBe('sessions');
    expect(back.finalThrough).toBe(100);
    expect(back.maxEventTime).toBe(-Infinity);
    if (back.kind === 'sessions') expect(back.sessions).toEqual(e.sessions);
  });
});
