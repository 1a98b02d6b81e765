import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  firstWindowStart,
  lastWindowEnd,
  lastWindowStart,
  nextWindowEndAfter,
  sessionEnd,
  sliceGeometry,
  sliceStart,
  windowStartsOf,
} from '../../../lambda/core/assign';

const tumbling = (sizeMs: number) => sliceGeometry({ type: 'tumbling', sizeMs });
const sliding = (sizeMs: number, slideMs: number) => sliceGeometry({ type: 'sliding', sizeMs, slideMs });

/** Brute force: every k·slide with k·slide <= t < k·slide + size, scanning a wide range of k. */
function bruteStarts(t: number, size: number, slide: number): number[] {
  const out: number[] = [];
  const lo = Math.floor((t - size) / slide) - 3;
  const hi = Math.floor(t / slide) + 3;
  for (let k = lo; k <= hi; k++) if (k * slide <= t && t < k * slide + size) out.push(k * slide);
  return out;
}

describe('slice geometry', () => {
  it('uses the window size as slice width for tumbling windows', () => {
    expect(tumbling(10)).toEqual({ sizeMs: 10, slideMs: 10, sliceMs: 10 });
  });

  it.each([
    [10, 5, 5],
    [6, 4, 2],
    [9, 6, 3],
    [7, 3, 1],
    [3600000, 300000, 300000],
    [10, 10, 10],
  ])('size %i slide %i gives slices of gcd = %i', (size, slide, width) => {
    expect(sliding(size, slide).sliceMs).toBe(width);
  });
});

describe('tumbling windows', () => {
  const g = tumbling(10);

  it.each([
    [0, 0],
    [9, 0],
    [10, 10],
    [15, 10],
    [-1, -10],
    [-10, -10],
    [-11, -20],
  ])('t = %i falls in the window starting at %i', (t, start) => {
    expect(windowStartsOf(g, t)).toEqual([start]);
    expect(firstWindowStart(g, t)).toBe(start);
    expect(lastWindowStart(g, t)).toBe(start);
    expect(lastWindowEnd(g, t)).toBe(start + 10);
    expect(sliceStart(g, t)).toBe(start);
  });

  it('puts a record at exactly the end of a window in the next window (half-open)', () => {
    expect(windowStartsOf(g, 20)).toEqual([20]);
    expect(windowStartsOf(g, 19)).toEqual([10]);
  });

  it('aligns to the epoch for realistic times', () => {
    const t = Date.UTC(2024, 2, 15, 10, 0, 3);
    expect(windowStartsOf(tumbling(10_000), t)).toEqual([Date.UTC(2024, 2, 15, 10, 0, 0)]);
  });
});

describe('sliding windows', () => {
  it('size 10 slide 5: two windows per record', () => {
    const g = sliding(10, 5);
    expect(windowStartsOf(g, 0)).toEqual([-5, 0]);
    expect(windowStartsOf(g, 7)).toEqual([0, 5]);
    expect(windowStartsOf(g, 10)).toEqual([5, 10]);
    expect(windowStartsOf(g, -1)).toEqual([-10, -5]);
  });

  it('size 6 slide 4 (slide does not divide size): one or two windows', () => {
    const g = sliding(6, 4);
    expect(windowStartsOf(g, 0)).toEqual([-4, 0]);
    expect(windowStartsOf(g, 1)).toEqual([-4, 0]);
    expect(windowStartsOf(g, 2)).toEqual([0]);
    expect(windowStartsOf(g, 4)).toEqual([0, 4]);
    expect(windowStartsOf(g, 5)).toEqual([0, 4]);
    expect(windowStartsOf(g, 6)).toEqual([4]);
    expect(windowStartsOf(g, 7)).toEqual([4]);
    expect(windowStartsOf(g, 8)).toEqual([4, 8]);
    expect(windowStartsOf(g, -1)).toEqual([-4]);
    expect(windowStartsOf(g, -3)).toEqual([-8, -4]);
    expect(lastWindowEnd(g, 5)).toBe(10);
    expect(sliceStart(g, 5)).toBe(4);
    expect(sliceStart(g, -3)).toBe(-4);
  });

  it('every window of every record is exactly the brute-force set, for random geometry and times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: -500, max: 500 }), (a, b, t) => {
        const size = Math.max(a, b);
        const slide = Math.min(a, b);
        const g = sliding(size, slide);
        const expected = bruteStarts(t, size, slide);
        expect(windowStartsOf(g, t)).toEqual(expected);
        expect(firstWindowStart(g, t)).toBe(expected[0]);
        expect(lastWindowStart(g, t)).toBe(expected[expected.length - 1]);
        expect(lastWindowEnd(g, t)).toBe(expected[expected.length - 1]! + size);
        // The slice holding t is a multiple of gcd(size, slide), contains t, and lies inside each of t's windows.
        const s = sliceStart(g, t);
        expect(s % g.sliceMs === 0).toBe(true);
        expect(s <= t && t < s + g.sliceMs).toBe(true);
        for (const w of expected) expect(w <= s && s + g.sliceMs <= w + size).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('nextWindowEndAfter is the smallest window end strictly after the given time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: -300, max: 300 }), (a, b, after) => {
        const size = Math.max(a, b);
        const slide = Math.min(a, b);
        let best = Infinity;
        for (let k = Math.floor((after - size) / slide) - 3; k <= Math.floor(after / slide) + 3; k++) {
          const end = k * slide + size;
          if (end > after && end < best) best = end;
        }
        expect(nextWindowEndAfter(sliding(size, slide), after)).toBe(best);
      }),
      { numRuns: 300 },
    );
  });

  it('nextWindowEndAfter on a window end moves to the following end', () => {
    expect(nextWindowEndAfter(tumbling(10), 10)).toBe(20);
    expect(nextWindowEndAfter(tumbling(10), 9)).toBe(10);
    expect(nextWindowEndAfter(sliding(6, 4), 6)).toBe(10);
  });
});

describe('session windows', () => {
  it('a record at t opens [t, t + gap)', () => {
    expect(sessionEnd({ type: 'session', gapMs: 30 }, 100)).toBe(130);
    expect(sessionEnd({ type: 'session', gapMs: 30 }, -100)).toBe(-70);
  });
});
