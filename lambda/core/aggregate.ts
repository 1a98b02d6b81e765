/**
 * Partial aggregates. One accumulator shape serves every aggregate kind so slices, windows and sessions merge
 * the same way; the kind only matters when a result value is read out.
 */
import type { AggregateKind } from './spec';

/** [count, sum, min, max]: a tuple keeps serialized state small. */
export type Acc = [count: number, sum: number, min: number, max: number];

export function accOf(v: number): Acc {
  return [1, v, v, v];
}

export function addInto(a: Acc, v: number): void {
  a[0] += 1;
  a[1] += v;
  if (v < a[2]) a[2] = v;
  if (v > a[3]) a[3] = v;
}

export function mergeInto(a: Acc, b: Acc): void {
  a[0] += b[0];
  a[1] += b[1];
  if (b[2] < a[2]) a[2] = b[2];
  if (b[3] > a[3]) a[3] = b[3];
}

export function copyAcc(a: Acc): Acc {
  return [a[0], a[1], a[2], a[3]];
}

/** The window result (README "Semantics", final windows): count | sum | min | max | sum/count. */
export function resultValue(kind: AggregateKind, a: Acc): number {
  switch (kind) {
    case 'count':
      return a[0];
    case 'sum':
      return a[1];
    case 'min':
      return a[2];
    case 'max':
      return a[3];
    case 'avg':
      return a[1] / a[0];
  }
}
