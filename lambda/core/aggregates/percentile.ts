/**
 * percentile: a DDSketch (Masson, Rim, Lee, VLDB 2019) with the logarithmic mapping. A value v > 0 goes to bin
 * ⌈log_γ v⌉ with γ = (1 + α) / (1 − α); a bin reads back as 2γ^k / (γ + 1), within relative error α of every
 * value in it. Negative values go to a mirrored set of bins and zeros to a counter. Merging adds bin counts, so it
 * is exact and associative. The rank read is percentile · (count − 1), as in docs/semantics.md §6.
 *
 * Each sign keeps enough bins for nine decades at the sketch's accuracy (1,038 at α = 0.01, 10,363 at α = 0.001);
 * beyond, the lowest-magnitude bins fold into one (the DDSketch "collapsing lowest" store), which only costs
 * accuracy on values over nine decades below the largest. Values of magnitude below 1e-300 count as zero.
 *
 * Written here rather than taken from @datadog/sketches-js: that package's serialization requires protobufjs,
 * which it does not declare (loading it fails with "Cannot find module 'protobufjs/minimal'"), its dense stores
 * allocate bins in chunks of 128 numbers per sketch, and its fromProto drops min and max.
 */
import { type Aggregator, VARINT_BYTES } from './accumulator';
import type { ByteReader, ByteWriter } from './bytes';

/** Ratio between the largest and smallest magnitudes kept at full accuracy. */
export const FULL_ACCURACY_RANGE = 1e9;
/** Magnitudes below this count as zero (DDSketch's "min indexable value"): their bins would read back as subnormals, off by far more than α. */
export const MIN_MAGNITUDE = 1e-300;

export interface QuantileAcc {
  n: number;
  zero: number;
  /** Bin key → count, for positive values and for the magnitudes of negative ones. */
  pos: Map<number, number>;
  neg: Map<number, number>;
}

function collapse(bins: Map<number, number>, maxBins: number): void {
  if (bins.size <= maxBins) return;
  const keys = [...bins.keys()].sort((a, b) => a - b);
  const cut = keys.length - maxBins;
  const into = keys[cut]!;
  let moved = 0;
  for (let i = 0; i < cut; i++) {
    moved += bins.get(keys[i]!)!;
    bins.delete(keys[i]!);
  }
  bins.set(into, bins.get(into)! + moved);
}

export class PercentileAggregator implements Aggregator<QuantileAcc> {
  private readonly lnGamma: number;
  private readonly gamma: number;
  /** Bins kept per sign: nine decades at this accuracy. */
  public readonly maxBins: number;
  /** Two sets of bins, each bin a key delta and a count of at most seven bytes together (counts below 2^28). */
  public readonly maxBytes: number;

  public constructor(
    private readonly percentile: number,
    relativeAccuracy: number,
  ) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.lnGamma = Math.log(this.gamma);
    this.maxBins = Math.ceil(Math.log(FULL_ACCURACY_RANGE) / this.lnGamma) + 1;
    this.maxBytes = 3 * VARINT_BYTES + 2 * (VARINT_BYTES + this.maxBins * 7);
  }

  private key(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.lnGamma);
  }

  private valueOf(key: number): number {
    return (2 * Math.exp(key * this.lnGamma)) / (1 + this.gamma);
  }

  public of(v: number): QuantileAcc {
    const a: QuantileAcc = { n: 0, zero: 0, pos: new Map(), neg: new Map() };
    this.add(a, v);
    return a;
  }

  public add(a: QuantileAcc, v: number): void {
    a.n += 1;
    if (Math.abs(v) < MIN_MAGNITUDE) {
      a.zero += 1;
      return;
    }
    const bins = v > 0 ? a.pos : a.neg;
    const k = this.key(Math.abs(v));
    bins.set(k, (bins.get(k) ?? 0) + 1);
    if (bins.size > this.maxBins) collapse(bins, this.maxBins);
  }

  public mergeInto(a: QuantileAcc, b: QuantileAcc): void {
    a.n += b.n;
    a.zero += b.zero;
    for (const [k, c] of b.pos) a.pos.set(k, (a.pos.get(k) ?? 0) + c);
    for (const [k, c] of b.neg) a.neg.set(k, (a.neg.get(k) ?? 0) + c);
    collapse(a.pos, this.maxBins);
    collapse(a.neg, this.maxBins);
  }

  public copy(a: QuantileAcc): QuantileAcc {
    return { n: a.n, zero: a.zero, pos: new Map(a.pos), neg: new Map(a.neg) };
  }

  public count(a: QuantileAcc): number {
    return a.n;
  }

  public result(a: QuantileAcc): number {
    const rank = this.percentile * (a.n - 1);
    let seen = 0;
    // Most negative first: negative bins by descending magnitude, then zeros, then positive bins ascending.
    for (const k of [...a.neg.keys()].sort((x, y) => y - x)) {
      seen += a.neg.get(k)!;
      if (seen > rank) return -this.valueOf(k);
    }
    seen += a.zero;
    if (seen > rank) return 0;
    const keys = [...a.pos.keys()].sort((x, y) => x - y);
    for (const k of keys) {
      seen += a.pos.get(k)!;
      if (seen > rank) return this.valueOf(k);
    }
    return this.valueOf(keys[keys.length - 1]!);
  }

  public write(w: ByteWriter, a: QuantileAcc): void {
    w.uvarint(a.n);
    w.uvarint(a.zero);
    writeBins(w, a.pos);
    writeBins(w, a.neg);
  }

  public read(r: ByteReader): QuantileAcc {
    const n = r.uvarint();
    const zero = r.uvarint();
    return { n, zero, pos: readBins(r), neg: readBins(r) };
  }
}

function writeBins(w: ByteWriter, bins: Map<number, number>): void {
  const keys = [...bins.keys()].sort((a, b) => a - b);
  w.uvarint(keys.length);
  let prev = 0;
  keys.forEach((k, i) => {
    if (i === 0) w.svarint(k);
    else w.uvarint(k - prev);
    w.uvarint(bins.get(k)!);
    prev = k;
  });
}

function readBins(r: ByteReader): Map<number, number> {
  const bins = new Map<number, number>();
  const len = r.uvarint();
  let k = 0;
  for (let i = 0; i < len; i++) {
    k = i === 0 ? r.svarint() : k + r.uvarint();
    bins.set(k, r.uvarint());
  }
  return bins;
}
