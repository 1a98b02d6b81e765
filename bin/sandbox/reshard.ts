/**
 * `npm start -- … --reshard split@N,merge@M`: splits and merges during a file run, each after the N-th record is
 * put, as an on-demand stream reshards when its traffic changes (bin/local/streams.ts picks the shards).
 */
import { UsageError } from '../cli/args';
import type { ReshardKind } from '../local/streams';

export interface ReshardStep {
  readonly kind: ReshardKind;
  /** Records put before it: the records after it go to the new shards. */
  readonly afterRecords: number;
}

/** Most shards a file run's stream may have open at once (as --shards). */
export const MAX_OPEN_SHARDS = 64;

/**
 * Parses `split@N,merge@M,…` and checks it against the run: steps in the order of their N, each N from 1 to the
 * input's record count, a merge only while two shards are open, at most MAX_OPEN_SHARDS open.
 */
export function parseReshards(text: string, shards: number, records: number): ReshardStep[] {
  const steps: ReshardStep[] = [];
  let open = shards;
  for (const part of text.split(',')) {
    const m = /^(split|merge)@([0-9]+)$/.exec(part.trim());
    if (m === null) throw new UsageError(`--reshard takes split@N or merge@N steps separated by commas (N: records put before the step), got ${JSON.stringify(part)}`);
    const step: ReshardStep = { kind: m[1] as ReshardKind, afterRecords: Number(m[2]) };
    const previous = steps[steps.length - 1];
    if (step.afterRecords < 1 || step.afterRecords > records) throw new UsageError(`--reshard ${part}: N must be from 1 to the input's ${records} records`);
    if (previous !== undefined && step.afterRecords < previous.afterRecords) throw new UsageError(`--reshard ${part}: steps must be in the order of their N (after ${previous.kind}@${previous.afterRecords})`);
    open += step.kind === 'split' ? 1 : -1;
    if (open < 1) throw new UsageError(`--reshard ${part}: a merge needs two open shards, and only one is open then`);
    if (open > MAX_OPEN_SHARDS) throw new UsageError(`--reshard ${part}: more than ${MAX_OPEN_SHARDS} shards would be open`);
    steps.push(step);
  }
  return steps;
}
