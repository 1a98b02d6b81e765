/**
 * One set of emulators (Kinesis, DynamoDB, SQS, S3) per test worker: started by the first file that asks, then
 * shared by every later file of the same worker, which runs files one after another with its modules loaded once
 * (vitest.config.mts). A file that shares them names its tables, streams, queues and buckets apart from every
 * other file's, and reads only what it created. `stop()` of the returned handle does nothing: the emulators stop
 * with the worker (bin/local/emulators.ts kills them on exit, and each exits when its stdin pipe closes).
 *
 * Files that inspect the emulators themselves (their processes, their usage, everything they hold) start their
 * own with startEmulators().
 */
import { type Emulators, startEmulators } from '../../bin/local/emulators';

let shared: Promise<Emulators> | undefined;

export function workerEmulators(): Promise<Emulators> {
  shared ??= startEmulators().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared.then((e) => ({ ...e, stop: () => Promise.resolve() }));
}
