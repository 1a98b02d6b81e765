/**
 * Runs one input file through the replay (engine only) and the sandbox file run (Kinesis → event source mapping
 * → consumer → DynamoDB/SQS/S3 on emulators) and checks they judge it alike: the same output lines, the same
 * summary, and no batch abandoned. The emulator endpoints must be in process.env.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { FAST_RETRY_BACKOFF } from '../../bin/local/esm-runner';
import { replay } from '../../bin/replay/run';
import { compareOutputs, describeComparison } from '../../bin/sandbox/compare';
import { type FileRunStats, runFile } from '../../bin/sandbox/file-run';
import type { ReplaySummary } from '../../lambda/core/output';
import type { PipelineSpec } from '../../lambda/core/spec';

export interface InputLine {
  readonly data: string;
  readonly arrivalTime?: number;
  readonly shard?: string;
}

export const line = (fields: Record<string, unknown>, arrivalTime?: number): InputLine => ({ data: JSON.stringify(fields), ...(arrivalTime === undefined ? {} : { arrivalTime }) });

export interface BothResult {
  readonly replayed: ReplaySummary;
  readonly replayDir: string;
  readonly sandboxDir: string;
  readonly stats: FileRunStats;
}

export async function judgeBoth(dir: string, name: string, spec: PipelineSpec, lines: readonly InputLine[], o: { batchSize?: number; shards?: number } = {}): Promise<BothResult> {
  const input = path.join(dir, `${name}.jsonl`);
  writeFileSync(input, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const replayDir = path.join(dir, `${name}-replay`);
  const sandboxDir = path.join(dir, `${name}-sandbox`);
  const replayed = await replay({ spec, inputPath: input, outDir: replayDir });
  const { summary, stats } = await runFile({ spec, inputPath: input, outDir: sandboxDir, name, batchSize: o.batchSize ?? 100, retryBackoffMs: FAST_RETRY_BACKOFF, ...(o.shards === undefined ? {} : { shards: o.shards }) });
  expect(stats.esm.onFailureBatches).toBe(0);
  const comparison = compareOutputs(replayDir, sandboxDir);
  expect(comparison.equal, describeComparison(comparison, ['replay', 'sandbox'])).toBe(true);
  expect(summary).toEqual(replayed);
  return { replayed, replayDir, sandboxDir, stats };
}
