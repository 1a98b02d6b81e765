/**
 * Aggregates as accumulators: create from one value, add a value, merge two, read the result, and a compact byte
 * form with a size bound. Slices (panes) are merged into windows, sessions into sessions and final windows into
 * corrections through this one interface, so every aggregate is mergeable by construction.
 */
import type { ByteReader, ByteWriter } from './bytes';

export interface Aggregator<A> {
  /**
   * Accumulator of one record: `v` is the record's value for the feature (its field; for `distinct` a 53-bit
   * hash of the field as a string; 0 for `count`), `t` its event time.
   */
  of(v: number, t: number): A;
  add(a: A, v: number, t: number): void;
  /** Folds `b` into `a`. `b`'s records count as arriving after `a`'s (which only decides ties of first/last). */
  mergeInto(a: A, b: A): void;
  copy(a: A): A;
  /** Number of records folded in. */
  count(a: A): number;
  /** The window value (never called on an empty accumulator). */
  result(a: A): number;
  write(w: ByteWriter, a: A): void;
  read(r: ByteReader): A;
  /** Most bytes `write` can take for one accumulator. */
  readonly maxBytes: number;
  /**
   * The parameters beyond the aggregate's kind that decide its stored form or its results, in a fixed order: the
   * stored-state fingerprint (key-item.ts) is derived from them, so a changed parameter starts the feature empty
   * instead of misreading or reusing its state. An aggregator reads its parameters from here, so none is left out.
   */
  readonly params: readonly (number | null)[];
}

/** Bytes a varint of a count can take (counts stay below 2^56). */
export const VARINT_BYTES = 8;
/** Bytes a tagged number can take (`ByteWriter.num`). */
export const NUM_BYTES = 9;
