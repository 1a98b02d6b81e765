/**
 * Reads a replay input file on a worker thread: the worker splits lines, parses each envelope and decodes each
 * payload with the engine's decoder (a pure function of the payload), so the main thread only runs the windows.
 * Records arrive in batches, in file order, with their decoding attached (`InputRecord.decoded`).
 *
 * Back-pressure: the worker keeps at most `maxInFlight` batches ahead of the consumer of this generator.
 */
import { startWorker } from './start-worker';
import type { InputRecord } from '../../lambda/core/engine';
import { type InputFormat, InputLineError, WRAPPED } from '../../lambda/core/input-line';
import type { DecodeResult } from '../../lambda/core/record';
import type { PipelineSpec } from '../../lambda/core/spec';

export interface ReaderInit {
  readonly path: string;
  readonly spec: PipelineSpec;
  readonly format: InputFormat;
  readonly batchSize: number;
  readonly maxPayloadBytes: number | undefined;
  readonly maxInFlight: number;
}

/** One batch in columns; record i of the batch is described at index i of each column. */
export interface RecordColumns {
  n: number;
  /** 1-based line number in the file. */
  lines: Float64Array<ArrayBuffer>;
  data: string[];
  /** Distinct shard ids of the batch, and each record's index into them. */
  shards: string[];
  shardOf: Uint16Array<ArrayBuffer>;
  /** Arrival time; NaN when the line has none. */
  arrival: Float64Array<ArrayBuffer>;
  /** 1 when the payload decoded; else its message is the next one of `messages`. */
  ok: Uint8Array<ArrayBuffer>;
  /** Entity key; for a record that did not decode, the key if it parsed, else ''. */
  keys: string[];
  /** Producer id; '' when the record has none (decoded ids are never empty). */
  ids: string[];
  times: Float64Array<ArrayBuffer>;
  /** One value per feature per record. */
  values: Float64Array<ArrayBuffer>;
  messages: string[];
  /** Bytes of the file read when the batch was posted. */
  bytesRead: number;
}

export type FromReader =
  | { readonly type: 'batch'; readonly columns: RecordColumns }
  | { readonly type: 'end'; readonly bytesRead: number }
  | { readonly type: 'lineError'; readonly line: number; readonly detail: string }
  | { readonly type: 'failed'; readonly message: string };

export interface RecordBatch {
  readonly records: InputRecord[];
  /** Line number of the batch's last record. */
  readonly lastLine: number;
  readonly bytesRead: number;
}

export interface ReadOptions {
  readonly batchSize: number;
  /** How the file's lines are read (docs/replay.md). @default the replay's envelope */
  readonly format?: InputFormat;
  /** @default the decoder's default (256 KiB) */
  readonly maxPayloadBytes?: number;
  /** @default 4 */
  readonly maxInFlight?: number;
}

/** Rebuilds the batch's records, each with the decoding the worker made. */
function recordsOf(c: RecordColumns, features: number): InputRecord[] {
  const out: InputRecord[] = new Array<InputRecord>(c.n);
  let m = 0;
  for (let i = 0; i < c.n; i++) {
    let decoded: DecodeResult;
    if (c.ok[i] === 1) {
      const values = new Array<number>(features);
      for (let f = 0; f < features; f++) values[f] = c.values[i * features + f]!;
      const id = c.ids[i]!;
      decoded = { ok: true, record: { key: c.keys[i]!, time: c.times[i]!, id: id === '' ? undefined : id, values } };
    } else {
      const key = c.keys[i]!;
      decoded = { ok: false, message: c.messages[m++]!, ...(key === '' ? {} : { key }) };
    }
    const arrival = c.arrival[i]!;
    out[i] = { data: c.data[i]!, shard: c.shards[c.shardOf[i]!]!, seq: String(c.lines[i]), arrivalTime: Number.isNaN(arrival) ? undefined : arrival, decoded };
  }
  return out;
}

/** Batches of decoded records from a replay input file, read ahead on a worker thread. */
export async function* readRecordBatches(path: string, spec: PipelineSpec, opts: ReadOptions): AsyncGenerator<RecordBatch> {
  const maxInFlight = opts.maxInFlight ?? 4;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  const worker = startWorker('record-reader-worker', { path, spec, format: opts.format ?? WRAPPED, batchSize: opts.batchSize, maxPayloadBytes: opts.maxPayloadBytes, maxInFlight } satisfies ReaderInit);
  const queue: FromReader[] = [];
  let wake: (() => void) | undefined;
  const push = (m: FromReader): void => {
    queue.push(m);
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', push);
  worker.on('error', (e: Error) => push({ type: 'failed', message: e.message }));
  worker.on('exit', (code) => push({ type: 'failed', message: `reader stopped (exit code ${code})` }));
  const features = spec.features.length;
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const m = queue.shift()!;
      if (m.type === 'end') return;
      if (m.type === 'lineError') throw new InputLineError(m.line, m.detail);
      if (m.type === 'failed') throw new Error(`cannot read ${path}: ${m.message}`);
      worker.postMessage('taken');
      const c = m.columns;
      yield { records: recordsOf(c, features), lastLine: c.lines[c.n - 1]!, bytesRead: c.bytesRead };
    }
  } finally {
    await worker.terminate();
  }
}
