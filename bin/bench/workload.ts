/**
 * Generated workload for benchmarks and end-to-end tests: Zipf-distributed keys, the benchmark's network delay mix
 * (70% ~0.1 s, 20% ~0.5 s, 5% ~30 s, 3% ~3 min, 2% ~12 min), producer duplicates and a few malformed records,
 * written in arrival order in the replay input format.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { PipelineSpec } from '../../lambda/core/spec';

export interface WorkloadOptions {
  readonly records: number;
  readonly keys: number;
  /** Zipf exponent. @default 1.1 */
  readonly zipfS?: number;
  /** Mean event-time spacing between consecutive events. @default 50 */
  readonly spacingMs?: number;
  /** Fraction of events re-sent later by the producer (same event id). @default 0.01 */
  readonly duplicateRate?: number;
  /** Fraction of malformed records (bad JSON, missing fields, wrong types). @default 0.0005 */
  readonly malformedRate?: number;
  /** Fraction of records from a device whose clock is a day ahead. @default 0 */
  readonly futureRate?: number;
  /** Number of shards records are spread over by key hash. @default 1 */
  readonly shards?: number;
  readonly seed?: number;
  readonly startTime?: number;
  /** Prefix of generated event ids, so chunks of one long file never share ids. @default 'e' */
  readonly idPrefix?: string;
  /** Give each event a `merchant_id` among this many (Zipf), for distinct counts. @default none */
  readonly merchants?: number;
  /** Share of events from one very hot key, `user_hot` (the rest follow the Zipf draw). @default 0 */
  readonly hotKeyShare?: number;
}

/** The benchmark's six features, as the issue describes them. */
export const BENCH_SPEC: PipelineSpec = {
  source: { keyField: 'user_id', timeField: 'event_time', idField: 'event_id' },
  watermark: { allowedLatenessMs: 60_000, maxFutureSkewMs: 300_000 },
  latePolicy: 'dlq',
  features: [
    { name: 'txn_count_5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'count' },
    { name: 'max_amount_10m', window: { type: 'tumbling', sizeMs: 600_000 }, aggregate: 'max', field: 'amount' },
    { name: 'spend_1h_every_5m', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 300_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'avg_amount_10m_every_1m', window: { type: 'sliding', sizeMs: 600_000, slideMs: 60_000 }, aggregate: 'avg', field: 'amount' },
    { name: 'min_amount_15m', window: { type: 'tumbling', sizeMs: 900_000 }, aggregate: 'min', field: 'amount' },
    { name: 'session_spend_5m_gap', window: { type: 'session', gapMs: 300_000 }, aggregate: 'sum', field: 'amount' },
  ],
};

/**
 * The bench spec plus one feature of each newer kind: distinct merchants in the trailing hour, the 95th-percentile
 * amount and the last amount over ten minutes, and a global window firing every 20 of a key's payments.
 */
export const SKETCH_SPEC: PipelineSpec = {
  ...BENCH_SPEC,
  features: [
    ...BENCH_SPEC.features,
    { name: 'merchants_1h_every_5m', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 300_000 }, aggregate: 'distinct', field: 'merchant_id' },
    { name: 'p95_amount_10m', window: { type: 'tumbling', sizeMs: 600_000 }, aggregate: 'percentile', field: 'amount', percentile: 0.95 },
    { name: 'last_amount_10m', window: { type: 'tumbling', sizeMs: 600_000 }, aggregate: 'last', field: 'amount' },
    { name: 'spend_every_20', window: { type: 'global', trigger: { count: 20, purge: true } }, aggregate: 'sum', field: 'amount' },
  ],
};

/** Small deterministic PRNG (mulberry32), so a workload is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function zipfSampler(n: number, s: number, rnd: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  return () => {
    const u = rnd() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function delayMs(rnd: () => number): number {
  const u = rnd();
  const jitter = 0.5 + rnd();
  if (u < 0.7) return 100 * jitter;
  if (u < 0.9) return 500 * jitter;
  if (u < 0.95) return 30_000 * jitter;
  if (u < 0.98) return 180_000 * jitter;
  return 720_000 * jitter;
}

function shardOf(key: string, shards: number): string {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) >>> 0;
  return `shardId-${String(h % shards).padStart(12, '0')}`;
}

interface Line {
  arrivalTime: number;
  data: string;
  shard: string;
}

export function generateWorkload(o: WorkloadOptions): Line[] {
  return [...workloadLines(o)];
}

/**
 * The workload's lines in arrival order, generated as a stream: events are drawn in event-time order, and a line
 * is handed out once no later event can arrive before it (every arrival trails its event time), so memory holds
 * only the lines within the longest delay, whatever the number of records. Ties in arrival time keep the order
 * the lines were drawn in, as a stable sort of the whole workload would.
 */
export function* workloadLines(o: WorkloadOptions): Generator<Line> {
  const rnd = prng(o.seed ?? 42);
  const pickKey = zipfSampler(o.keys, o.zipfS ?? 1.1, rnd);
  const spacing = o.spacingMs ?? 50;
  const dupRate = o.duplicateRate ?? 0.01;
  const badRate = o.malformedRate ?? 0.0005;
  const futureRate = o.futureRate ?? 0;
  const shards = o.shards ?? 1;
  const start = o.startTime ?? Date.UTC(2026, 0, 1, 9, 0, 0);
  const idPrefix = o.idPrefix ?? 'e';
  const pickMerchant = o.merchants === undefined ? undefined : zipfSampler(o.merchants, 1.0, rnd);
  const pending = new ArrivalHeap();
  let drawn = 0;
  let t = start;
  for (let i = 0; drawn < o.records; i++) {
    t += Math.round(spacing * 2 * rnd());
    // Every line still to be drawn arrives at or after t: the pending lines that arrive before it are final.
    while (pending.size > 0 && pending.peek().arrivalTime < t) yield pending.pop();
    const hot = o.hotKeyShare !== undefined && o.hotKeyShare > 0 && rnd() < o.hotKeyShare;
    const key = hot ? 'user_hot' : `user_${pickKey()}`;
    const shard = shardOf(key, shards);
    const u = rnd();
    if (u < badRate) {
      const bad = [`{"user_id":"${key}","event_time":`, JSON.stringify({ user_id: key, amount: 5 }), JSON.stringify({ user_id: key, event_time: t, amount: 'ten', event_id: `${idPrefix}${i}` }), '[1,2,3]'];
      pending.push({ arrivalTime: t + 100, data: bad[i % bad.length]!, shard });
      drawn++;
      continue;
    }
    const eventTime = u < badRate + futureRate ? t + 86_400_000 : t;
    const amount = Math.round(rnd() * 50_000) / 100;
    const data = JSON.stringify(
      pickMerchant === undefined
        ? { user_id: key, event_time: eventTime, amount, event_id: `${idPrefix}${i}` }
        : { user_id: key, event_time: eventTime, amount, event_id: `${idPrefix}${i}`, merchant_id: `m${pickMerchant()}` },
    );
    const arrival = t + Math.round(delayMs(rnd));
    pending.push({ arrivalTime: arrival, data, shard });
    drawn++;
    if (rnd() < dupRate && drawn < o.records) {
      pending.push({ arrivalTime: arrival + 1000 + Math.round(rnd() * 5000), data, shard });
      drawn++;
    }
  }
  while (pending.size > 0) yield pending.pop();
}

/** A min-heap of lines by arrival time, then by the order they were pushed. */
class ArrivalHeap {
  private readonly items: Array<{ line: Line; seq: number }> = [];
  private seq = 0;

  public get size(): number {
    return this.items.length;
  }

  public peek(): Line {
    return this.items[0]!.line;
  }

  public push(line: Line): void {
    const a = this.items;
    a.push({ line, seq: this.seq++ });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  public pop(): Line {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top.line;
  }

  private before(x: { line: Line; seq: number }, y: { line: Line; seq: number }): boolean {
    return x.line.arrivalTime < y.line.arrivalTime || (x.line.arrivalTime === y.line.arrivalTime && x.seq < y.seq);
  }
}

/**
 * Writes the bench's own workload (`generateWorkload` with the bench's seed and the given spacing) to a file, as a
 * stream, so files far larger than memory can be made for replay memory checks; the first N lines of a longer file
 * are not the N-record workload, but the file is in arrival order throughout.
 */
export async function writeLongWorkload(path: string, o: WorkloadOptions): Promise<void> {
  const out = createWriteStream(path);
  let buf: string[] = [];
  for (const l of workloadLines(o)) {
    buf.push(JSON.stringify(l));
    if (buf.length >= 10_000) {
      if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length > 0) out.write(buf.join('\n') + '\n');
  await new Promise<void>((resolve, reject) => out.end(() => resolve()).on('error', reject));
}

export async function writeWorkload(path: string, lines: readonly Line[]): Promise<void> {
  const out = createWriteStream(path);
  let buf: string[] = [];
  for (const l of lines) {
    buf.push(JSON.stringify(l));
    if (buf.length >= 10_000) {
      if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length > 0) out.write(buf.join('\n') + '\n');
  await new Promise<void>((resolve) => out.end(resolve));
}
