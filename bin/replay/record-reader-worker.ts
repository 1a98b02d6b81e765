/**
 * The worker side of `readRecordBatches`: reads the input file, parses each line's envelope and decodes its
 * payload with the engine's own decoder, and posts batches in columns (typed arrays and string lists, which
 * cross threads far cheaper than objects).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InputLineError, inputLineParser } from '../../lambda/core/input-line';
import { RecordDecoder } from '../../lambda/core/record';
import { readLines } from '../cli/lines';
import type { FromReader, ReaderInit, RecordColumns } from './record-reader';

const init = workerData as ReaderInit;
const port = parentPort!;
const decoder = new RecordDecoder(init.spec, init.maxPayloadBytes);
const features = init.spec.features.length;
const parseLine = inputLineParser(init.format, init.spec.source);
const post = (m: FromReader, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

/** Batches posted and not yet taken by the main thread. */
let unacked = 0;
let resume: (() => void) | undefined;
port.on('message', () => {
  unacked -= 1;
  const r = resume;
  resume = undefined;
  r?.();
});

function columns(size: number): RecordColumns {
  return {
    n: 0,
    lines: new Float64Array(size),
    data: [],
    shards: [],
    shardOf: new Uint16Array(size),
    arrival: new Float64Array(size),
    ok: new Uint8Array(size),
    keys: [],
    ids: [],
    times: new Float64Array(size),
    values: new Float64Array(size * features),
    messages: [],
    bytesRead: 0,
  };
}

async function run(): Promise<void> {
  let c = columns(init.batchSize);
  let line = 0;
  let bytesRead = 0;
  let lastShard: string | undefined;
  let lastShardIndex = 0;
  let shardIndex = new Map<string, number>();
  const flush = async (): Promise<void> => {
    c.bytesRead = bytesRead;
    post({ type: 'batch', columns: c }, [c.lines.buffer, c.shardOf.buffer, c.arrival.buffer, c.ok.buffer, c.times.buffer, c.values.buffer] as ArrayBuffer[]);
    c = columns(init.batchSize);
    // Shard indexes are per batch.
    lastShard = undefined;
    shardIndex = new Map();
    unacked += 1;
    while (unacked >= init.maxInFlight) await new Promise<void>((r) => (resume = r));
  };
  for await (const text of readLines(init.path, (n) => (bytesRead += n))) {
    line += 1;
    // Blank lines (any white space, as trim() sees it) are skipped; a line starting with `{` needs no trimming.
    if (text.length === 0 || (text.charCodeAt(0) !== 123 && text.trim().length === 0)) continue;
    const r = parseLine(text, line);
    const i = c.n++;
    c.lines[i] = line;
    c.data.push(r.data as string);
    // Shard ids repeat: the previous record's is the usual one, a map finds the others.
    if (r.shard !== lastShard) {
      lastShard = r.shard;
      let s = shardIndex.get(r.shard);
      if (s === undefined) shardIndex.set(r.shard, (s = c.shards.push(r.shard) - 1));
      lastShardIndex = s;
    }
    c.shardOf[i] = lastShardIndex;
    c.arrival[i] = r.arrivalTime ?? NaN;
    const d = decoder.decode(r.data);
    if (d.ok) {
      c.ok[i] = 1;
      c.keys.push(d.record.key);
      c.ids.push(d.record.id ?? '');
      c.times[i] = d.record.time;
      for (let f = 0; f < features; f++) c.values[i * features + f] = d.record.values[f]!;
    } else {
      c.keys.push(d.key ?? '');
      c.ids.push('');
      c.messages.push(d.message);
    }
    if (c.n === init.batchSize) await flush();
  }
  if (c.n > 0) await flush();
  post({ type: 'end', bytesRead });
}

run().catch((e: unknown) => {
  if (e instanceof InputLineError) post({ type: 'lineError', line: e.line, detail: e.detail });
  else post({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
});
