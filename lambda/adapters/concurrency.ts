/**
 * Bounded concurrency and retry-with-backoff for the batch APIs' unprocessed leftovers (throttling).
 */

/**
 * Maps items with at most `limit` promises in flight. After the first failure no new item starts, and the
 * failure is rethrown only once the ones in flight have settled: a failed batch must not keep writing while its
 * retry runs.
 */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

export class RetriesExhaustedError extends Error {
  public constructor(what: string, attempts: number) {
    super(`${what}: items still unprocessed after ${attempts} attempts (throttled); the batch fails and will be retried`);
    this.name = 'RetriesExhaustedError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `attempt` until it reports nothing left unprocessed, with exponential backoff and full jitter.
 * @param attempt returns how many items are still unprocessed
 */
export async function retryUnprocessed(attempt: () => Promise<number>, what: string, maxAttempts = 8, baseMs = 25): Promise<void> {
  for (let i = 1; ; i++) {
    const left = await attempt();
    if (left === 0) return;
    if (i >= maxAttempts) throw new RetriesExhaustedError(what, i);
    await sleep(Math.random() * baseMs * 2 ** i);
  }
}
