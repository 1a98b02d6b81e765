import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimerHeap } from '../../../lambda/core/timers';

describe('TimerHeap', () => {
  it('pops exactly the entries due at or before w, earliest first', () => {
    const h = new TimerHeap<string>();
    h.push(30, 'c');
    h.push(10, 'a');
    h.push(20, 'b');
    h.push(10, 'a2');
    expect(h.popDue(9)).toEqual([]);
    expect(h.popDue(20).sort()).toEqual(['a', 'a2', 'b']);
    expect(h.size).toBe(1);
    expect(h.popDue(Infinity)).toEqual(['c']);
    expect(h.size).toBe(0);
    expect(h.popDue(Infinity)).toEqual([]);
  });

  it('behaves like a sorted list under any interleaving of pushes and pops', () => {
    const op = fc.oneof(fc.record({ push: fc.integer({ min: -50, max: 50 }) }), fc.record({ pop: fc.integer({ min: -60, max: 60 }) }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const h = new TimerHeap<number>();
        let model: number[] = [];
        let id = 0;
        const dueOf = new Map<number, number>();
        for (const o of ops) {
          if ('push' in o) {
            dueOf.set(id, o.push);
            h.push(o.push, id++);
            model.push(o.push);
          } else {
            const popped = h.popDue(o.pop).map((i) => dueOf.get(i)!);
            const expected = model.filter((d) => d <= o.pop).sort((a, b) => a - b);
            model = model.filter((d) => d > o.pop);
            expect(popped).toEqual(expected);
          }
          expect(h.size).toBe(model.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
