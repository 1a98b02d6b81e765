/**
 * Starts one of the replay's worker threads from its module next to this file. From source (.ts) the module is
 * loaded through tsx, as the main thread was.
 */
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Young generation of each worker. The workers make short-lived strings only; a small young generation keeps
 * the replay's resident memory near the main thread's (which the npm scripts give 64 MB semi-spaces).
 */
const WORKER_YOUNG_GENERATION_MB = 16;

export function startWorker(name: 'record-reader-worker' | 'window-writer-worker', workerData: unknown): Worker {
  const entry = join(__dirname, `${name}${extname(__filename)}`);
  const loader = entry.endsWith('.ts') ? createRequire(__filename).resolve('tsx/cjs') : undefined;
  const source = `${loader === undefined ? '' : `require(${JSON.stringify(loader)});`}require(${JSON.stringify(entry)});`;
  return new Worker(source, { eval: true, workerData, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: 128 } });
}
