/**
 * count, sum, min, max and avg share one accumulator, [count, sum, min, max]: a fixed tuple that the slice list
 * also stores flat (see windows/slice-list.ts), so the common aggregates cost no object per slice.
 */
import type { AggregateKind } from '../spec';
import type { Aggregator } from './accumulator';
import { NUM_BYTES, VARINT_BYTES } from './accumulator';
import type { ByteReader, ByteWriter } from './bytes';

export type Acc = [count: number, sum: number, min: number, max: number];
export type BasicKind = Extract<AggregateKind, 'count' | 'sum' | 'min' | 'max' | 'avg'>;

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

/** count | sum | min | max | sum/count. */
export function resultValue(kind: BasicKind, a: Acc): number {
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

export function isBasic(kind: AggregateKind): kind is BasicKind {
  return kind === 'count' || kind === 'sum' || kind === 'min' || kind === 'max' || kind === 'avg';
}

/** The byte form holds only what the kind reads: a count alone for `count`, count and sum for `sum`, ... */
export class BasicAggregator implements Aggregator<Acc> {
  public readonly maxBytes: number;

  public constructor(public readonly kind: BasicKind) {
    this.maxBytes = VARINT_BYTES + (kind === 'count' ? 0 : NUM_BYTES);
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
    if (this.kind === 'sum' || this.kind === 'avg') w.num(a[1]);
    else if (this.kind === 'min') w.num(a[2]);
    else if (this.kind === 'max') w.num(a[3]);
  }

  public read(r: ByteReader): Acc {
    const c = r.uvarint();
    switch (this.kind) {
      case 'count':
        return [c, 0, Infinity, -Infinity];
      case 'sum':
      case 'avg':
        return [c, r.num(), Infinity, -Infinity];
      case 'min': {
        const v = r.num();
        return [c, 0, v, -Infinity];
      }
      case 'max': {
        const v = r.num();
        return [c, 0, Infinity, v];
      }
    }
  }
}
