/**
 * Starts one of the replay's worker threads from its module next to this file. From source (.ts) the module is
 * loaded through tsx, as the main thread was.
 */
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Heap limits of each worker. A worker holds a few batches at a time, and short-lived strings; its young
 * generation is kept small (the npm scripts give the main thread 64 MB semi-spaces, which workers would
 * inherit), while the old generation leaves room for a single input line of a few hundred megabytes.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 1024 };

export function startWorker(name: 'record-reader-worker' | 'window-writer-worker', workerData: unknown): Worker {
  return startModuleWorker(join(__dirname, name), workerData);
}

/** A worker thread running the module at `path` (without its extension, which is this file's: .ts or .js). */
export function startModuleWorker(path: string, workerData: unknown, heap: { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb: number } = WORKER_HEAP): Worker {
  const entry = `${path}${extname(__filename)}`;
  const loader = entry.endsWith('.ts') ? createRequire(__filename).resolve('tsx/cjs') : undefined;
  const source = `${loader === undefined ? '' : `require(${JSON.stringify(loader)});`}require(${JSON.stringify(entry)});`;
  return new Worker(source, { eval: true, workerData, resourceLimits: heap });
}
