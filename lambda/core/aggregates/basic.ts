/**
 * count, sum, min, max and avg share one accumulator, [count, sum, min, max, compensation]: a fixed tuple that
 * the slice list also stores flat (see windows/slice-list.ts), so the common aggregates cost no object per slice.
 *
 * Sums are compensated (Kahan–Babuška–Neumaier): the rounding error of every addition is kept in the fifth slot
 * and added back when the value is read. The result is then the exact sum of the values rounded once (up to an
 * error some 2^-50 times smaller than a plain sum's), so it does not depend on how records were grouped into
 * slices, sessions, batches or retries: 12.34 + 56.78 + 0.1 reads 69.22, not 69.22000000000001.
 */
import type { AggregateKind } from './kinds';
import type { Aggregator } from './accumulator';
import { NUM_BYTES, VARINT_BYTES } from './accumulator';
import type { ByteReader, ByteWriter } from './bytes';

export type Acc = [count: number, sum: number, min: number, max: number, compensation: number];
export type BasicKind = Extract<AggregateKind, 'count' | 'sum' | 'min' | 'max' | 'avg'>;

export function accOf(v: number): Acc {
  return [1, v, v, v, 0];
}

/** The rounding error of s + v, exactly (Neumaier's branch of TwoSum). */
export function sumError(s: number, v: number, t: number): number {
  return Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
}

export function addInto(a: Acc, v: number): void {
  a[0] += 1;
  const t = a[1] + v;
  a[4] += sumError(a[1], v, t);
  a[1] = t;
  if (v < a[2]) a[2] = v;
  if (v > a[3]) a[3] = v;
}

export function mergeInto(a: Acc, b: Acc): void {
  a[0] += b[0];
  const t = a[1] + b[1];
  a[4] += sumError(a[1], b[1], t) + b[4];
  a[1] = t;
  if (b[2] < a[2]) a[2] = b[2];
  if (b[3] > a[3]) a[3] = b[3];
}

export function copyAcc(a: Acc): Acc {
  return [a[0], a[1], a[2], a[3], a[4]];
}

/** count | sum | min | max | sum/count. */
export function resultValue(kind: BasicKind, a: Acc): number {
  switch (kind) {
    case 'count':
      return a[0];
    case 'sum':
      return a[1] + a[4];
    case 'min':
      return a[2];
    case 'max':
      return a[3];
    case 'avg':
      return (a[1] + a[4]) / a[0];
  }
}

export function isBasic(kind: AggregateKind): kind is BasicKind {
  return kind === 'count' || kind === 'sum' || kind === 'min' || kind === 'max' || kind === 'avg';
}

/** The byte form holds only what the kind reads: a count alone for `count`, count and sum for `sum`, ... */
export class BasicAggregator implements Aggregator<Acc> {
  public readonly maxBytes: number;
  public readonly params = [] as const;

  public constructor(public readonly kind: BasicKind) {
    this.maxBytes = VARINT_BYTES + (kind === 'count' ? 0 : kind === 'sum' || kind === 'avg' ? 2 * NUM_BYTES : NUM_BYTES);
  }

  public of(v: number): Acc {
    return accOf(v);
  }

  public add(a: Acc, v: number): void {
    addInto(a, v);
  }

  public mergeInto(a: Acc, b: Acc): void {
    mergeInto(a, b);
  }

  public copy(a: Acc): Acc {
    return copyAcc(a);
  }

  public count(a: Acc): number {
    return a[0];
  }

  public result(a: Acc): number {
    return resultValue(this.kind, a);
  }

  public write(w: ByteWriter, a: Acc): void {
    w.uvarint(a[0]);
    if (this.kind === 'sum' || this.kind === 'avg') {
      w.num(a[1]);
      w.num(a[4]);
    }
    else if (this.kind === 'min') w.num(a[2]);
    else if (this.kind === 'max') w.num(a[3]);
  }

  public read(r: ByteReader): Acc {
    const c = r.uvarint();
    switch (this.kind) {
      case 'count':
        return [c, 0, Infinity, -Infinity, 0];
      case 'sum':
      case 'avg': {
        const s = r.num();
        return [c, s, Infinity, -Infinity, r.num()];
      }
      case 'min': {
        const v = r.num();
        return [c, 0, v, -Infinity, 0];
      }
      case 'max': {
        const v = r.num();
        return [c, 0, Infinity, v, 0];
      }
    }
  }
}
