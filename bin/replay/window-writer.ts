/**
 * Writes windows.jsonl on a worker thread. The engine hands each final window over as numbers plus its key; they
 * travel to the worker in chunks of typed arrays, and the worker turns them into lines and writes them while the
 * main thread goes on reading and windowing. On one thread, formatting a million window lines (number-to-text
 * conversion above all) and encoding them is about a fifth of a replay.
 *
 * Back-pressure: at most MAX_IN_FLIGHT chunks are handed over and not yet written; `drain()` waits below that.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from './start-worker';

/** Windows per message. */
const CHUNK = 8192;
const MAX_IN_FLIGHT = 8;

/** One message to the worker: `n` windows; the i-th has feature `fis[i]`, key `keys[keyOf[i]]`, and four numbers. */
export interface WindowChunk {
  readonly type: 'chunk';
  readonly n: number;
  readonly fis: Uint16Array;
  readonly keyOf: Uint32Array;
  readonly keys: string[];
  /** windowStart, windowEnd, value, count per window. */
  readonly nums: Float64Array;
}

export interface WriterInit {
  readonly path: string;
  readonly features: readonly string[];
}

export type FromWorker = { readonly type: 'written' } | { readonly type: 'closed' } | { readonly type: 'failed'; readonly message: string };

export class WindowWriterError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'WindowWriterError';
  }
}

interface Building {
  n: number;
  fis: Uint16Array<ArrayBuffer>;
  keyOf: Uint32Array<ArrayBuffer>;
  keys: string[];
  nums: Float64Array<ArrayBuffer>;
}

function newChunk(): Building {
  return { n: 0, fis: new Uint16Array(CHUNK), keyOf: new Uint32Array(CHUNK), keys: [], nums: new Float64Array(4 * CHUNK) };
}

export class WindowWriter {
  private readonly worker: Worker;
  private readonly featureIndex = new Map<string, number>();
  private chunk = newChunk();
  private lastKey: string | undefined;
  private lastFeature: string | undefined;
  private lastFi = 0;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  /** The worker reported the file written and closed. */
  private closed = false;
  private readonly done: Promise<void>;
  private lines = 0;

  public constructor(path: string, features: readonly string[]) {
    features.forEach((f, i) => this.featureIndex.set(f, i));
    this.worker = startWorker('window-writer-worker', { path, features } satisfies WriterInit);
    this.done = new Promise<void>((resolve) => {
      // Every way the worker can end settles `done` and wakes a waiting drain(): a write that fails, even at close,
      // must surface as an error, never as a replay that waits forever.
      const end = (failure?: Error): void => {
        if (failure) this.fail(failure);
        this.wakeUp();
        resolve();
      };
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'written') {
          this.inFlight -= 1;
          this.wakeUp();
        } else if (m.type === 'failed') {
          end(new WindowWriterError(`cannot write ${path}: ${m.message}`));
        } else {
          this.closed = true;
          end();
        }
      });
      this.worker.on('error', (e: Error) => end(new WindowWriterError(`window writer failed: ${e.message}`)));
      this.worker.on('exit', (code) => end(this.closed ? undefined : new WindowWriterError(`window writer stopped before closing ${path} (exit code ${code})`)));
    });
  }

  /** Windows handed to the writer so far. */
  public get count(): number {
    return this.lines;
  }

  /** Queues one window line (a `FinalSink`). */
  public add(feature: string, key: string, windowStart: number, windowEnd: number, value: number, count: number): void {
    const c = this.chunk;
    const i = c.n;
    if (feature !== this.lastFeature) {
      const fi = this.featureIndex.get(feature);
      if (fi === undefined) throw new RangeError(`unknown feature "${feature}"`);
      this.lastFeature = feature;
      this.lastFi = fi;
    }
    c.fis[i] = this.lastFi;
    // Consecutive windows mostly belong to one key (an entity's windows fire together): send each run's key once.
    if (key !== this.lastKey || c.keys.length === 0) {
      c.keys.push(key);
      this.lastKey = key;
    }
    c.keyOf[i] = c.keys.length - 1;
    const o = 4 * i;
    c.nums[o] = windowStart;
    c.nums[o + 1] = windowEnd;
    c.nums[o + 2] = value;
    c.nums[o + 3] = count;
    c.n = i + 1;
    this.lines += 1;
    if (c.n === CHUNK) this.send();
  }

  /** Waits while too many chunks are on their way; throws if the worker failed. */
  public async drain(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && this.failure === undefined) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
  }

  /** Sends what is left, waits until every line is written and the file closed, and stops the worker. */
  public async close(): Promise<void> {
    if (this.failure === undefined) {
      this.send();
      this.worker.postMessage({ type: 'close' });
    }
    await this.done;
    await this.worker.terminate();
    if (this.failure) throw this.failure;
  }

  /** Stops the worker without waiting for pending lines (the replay failed). */
  public async abort(): Promise<void> {
    this.fail(new WindowWriterError('aborted'));
    this.wakeUp();
    await this.worker.terminate();
  }

  private send(): void {
    const c = this.chunk;
    if (c.n === 0 || this.failure) return;
    const msg: WindowChunk = { type: 'chunk', n: c.n, fis: c.fis, keyOf: c.keyOf, keys: c.keys, nums: c.nums };
    this.worker.postMessage(msg, [c.fis.buffer, c.keyOf.buffer, c.nums.buffer]);
    this.inFlight += 1;
    this.chunk = newChunk();
    this.lastKey = undefined;
  }

  private fail(e: Error): void {
    this.failure ??= e;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
