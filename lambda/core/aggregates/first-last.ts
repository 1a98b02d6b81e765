/**
 * first / last: the field value of the record with the smallest / largest event time; ties go to the earlier /
 * later arrival. Records are added in arrival order, so `first` replaces only on a strictly smaller time and
 * `last` on a time at least as large.
 */
import { type Aggregator, NUM_BYTES, VARINT_BYTES } from './accumulator';
import type { ByteReader, ByteWriter } from './bytes';

export interface PickAcc {
  n: number;
  /** Event time of the chosen record. */
  t: number;
  v: number;
}

export class PickAggregator implements Aggregator<PickAcc> {
  public readonly maxBytes = VARINT_BYTES + 2 * NUM_BYTES;
  public readonly params = [] as const;

  public constructor(private readonly which: 'first' | 'last') {}

  public of(v: number, t: number): PickAcc {
    return { n: 1, t, v };
  }

  public add(a: PickAcc, v: number, t: number): void {
    a.n += 1;
    if (this.which === 'first' ? t < a.t : t >= a.t) {
      a.t = t;
      a.v = v;
    }
  }

  public mergeInto(a: PickAcc, b: PickAcc): void {
    a.n += b.n;
    if (this.which === 'first' ? b.t < a.t : b.t >= a.t) {
      a.t = b.t;
      a.v = b.v;
    }
  }

  public copy(a: PickAcc): PickAcc {
    return { n: a.n, t: a.t, v: a.v };
  }

  public count(a: PickAcc): number {
    return a.n;
  }

  public result(a: PickAcc): number {
    return a.v;
  }

  public write(w: ByteWriter, a: PickAcc): void {
    w.uvarint(a.n);
    w.num(a.t);
    w.num(a.v);
  }

  public read(r: ByteReader): PickAcc {
    const n = r.uvarint();
    const t = r.num();
    return { n, t, v: r.num() };
  }
}
