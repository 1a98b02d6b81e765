/**
 * Window assigners. Tumbling and sliding windows are epoch-aligned and built from slices (panes) of width
 * gcd(size, slide): a record updates exactly one slice, and a window is the merge of its size/width slices.
 * All intervals are half-open: a record at exactly `end` belongs to the next window.
 */
import type { SessionWindowSpec, SlidingWindowSpec, TumblingWindowSpec } from './spec';

export interface SliceGeometry {
  readonly sizeMs: number;
  readonly slideMs: number;
  /** Slice (pane) width: gcd(size, slide). Equals size for tumbling windows. */
  readonly sliceMs: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export function sliceGeometry(w: TumblingWindowSpec | SlidingWindowSpec): SliceGeometry {
  const slideMs = w.type === 'tumbling' ? w.sizeMs : w.slideMs;
  return { sizeMs: w.sizeMs, slideMs, sliceMs: gcd(w.sizeMs, slideMs) };
}

/** Start of the slice holding t (floor division, so negative times align too). */
export function sliceStart(g: SliceGeometry, t: number): number {
  return Math.floor(t / g.sliceMs) * g.sliceMs;
}

/** Start of the first (earliest) window containing t. */
export function firstWindowStart(g: SliceGeometry, t: number): number {
  return (Math.floor((t - g.sizeMs) / g.slideMs) + 1) * g.slideMs;
}

/** Start of the last (latest) window containing t. */
export function lastWindowStart(g: SliceGeometry, t: number): number {
  return Math.floor(t / g.slideMs) * g.slideMs;
}

/** End of the last window containing t: once the watermark reaches it, t is late for every window. */
export function lastWindowEnd(g: SliceGeometry, t: number): number {
  return lastWindowStart(g, t) + g.sizeMs;
}

/** Smallest window end strictly greater than `after`. */
export function nextWindowEndAfter(g: SliceGeometry, after: number): number {
  return (Math.floor((after - g.sizeMs) / g.slideMs) + 1) * g.slideMs + g.sizeMs;
}

/** Starts of every window containing t, earliest first. */
export function windowStartsOf(g: SliceGeometry, t: number): number[] {
  const out: number[] = [];
  for (let s = firstWindowStart(g, t); s <= t; s += g.slideMs) out.push(s);
  return out;
}

/** A session record at t opens [t, t + gap). */
export function sessionEnd(w: SessionWindowSpec, t: number): number {
  return t + w.gapMs;
}
