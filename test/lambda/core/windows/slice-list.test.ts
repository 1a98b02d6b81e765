import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Acc, accOf, addInto, mergeInto } from '../../../../lambda/core/aggregates/basic';
import { SliceList } from '../../../../lambda/core/windows/slice-list';

/** [index, aggregate] pairs in index order. */
function entries(list: SliceList): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  for (let k = 0; k < list.size; k++) out.push([list.indexAt(k), list.accAt(k)]);
  return out;
}

type Op = { kind: 'add'; i: number; v: number } | { kind: 'drop'; i: number } | { kind: 'merge'; from: number; len: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), i: fc.integer({ min: -20, max: 40 }), v: fc.integer({ min: -100, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), i: fc.integer({ min: -25, max: 45 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('merge' as const), from: fc.integer({ min: -25, max: 45 }), len: fc.integer({ min: 1, max: 15 }) }) },
);

describe('SliceList', () => {
  it('behaves like a map from slice index to aggregate, kept in index order', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const list = new SliceList();
        const model = new Map<number, Acc>();
        for (const o of ops) {
          if (o.kind === 'add') {
            const prev = model.get(o.i);
            if (prev) addInto(prev, o.v);
            else model.set(o.i, accOf(o.v));
            expect(list.add(o.i, o.v)).toBe(prev === undefined);
          } else if (o.kind === 'drop') {
            list.dropBefore(o.i);
            for (const i of [...model.keys()]) if (i < o.i) model.delete(i);
          } else {
            let expected: Acc | undefined;
            for (let i = o.from; i < o.from + o.len; i++) {
              const a = model.get(i);
              if (!a) continue;
              if (expected) mergeInto(expected, a);
              else expected = [...a];
            }
            expect(list.mergeFrom(0, o.from, o.from + o.len)).toEqual(expected);
            expect(list.mergeFrom(list.position(o.from), o.from, o.from + o.len)).toEqual(expected);
          }
          const sorted = [...model.entries()].sort((a, b) => a[0] - b[0]);
          expect(entries(list)).toEqual(sorted);
          expect(list.size).toBe(model.size);
          expect(list.first).toBe(sorted.length > 0 ? sorted[0]![0] : Infinity);
          expect(list.last).toBe(sorted.length > 0 ? sorted[sorted.length - 1]![0] : -Infinity);
        }
      }),
    );
  });

  it('merges into a new accumulator, leaving the slices untouched', () => {
    const list = new SliceList();
    list.add(3, 5);
    list.add(4, 7);
    const merged = list.mergeFrom(0, 3, 5)!;
    expect(merged).toEqual([2, 12, 5, 7, 0]);
    merged[0] = 99;
    expect(entries(list)).toEqual([
      [3, [1, 5, 5, 5, 0]],
      [4, [1, 7, 7, 7, 0]],
    ]);
  });
});
