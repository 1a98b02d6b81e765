/**
 * The cost/freshness curve: the reference workload (bin/bench/workload.ts, BENCH_SPEC) at a few event rates and
 * Lambda batching windows. The batch a window gives follows from the rate; each batch size is then actually run
 * through the local pipeline (runFile on the emulators) to measure what a batch uses and how long it takes, and
 * priced with model.ts.
 *
 * How Lambda batches a Kinesis shard (docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, "Polling and
 * batching streams"): it polls each shard of a standard stream once per second; with no batching window it invokes
 * as soon as records are available, with what the read returned; with a window it keeps reading until the batch is
 * full (batch size, at most 10,000), the window expires, or the payload reaches 6 MB. So at window 0 a batch holds
 * about a second of records, and at window w about w seconds' worth, capped at 10,000 records, which a high rate
 * fills before the window ends.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_SPEC, generateWorkload, writeWorkload } from '../bench/workload';
import type { Usage } from '../local/usage';
import { runFile } from '../sandbox/file-run';
import { CONSUMER_FUNCTION_DEFAULTS, EVENT_SOURCE_LIMITS } from '../../lambda/contract/resources';
import { type CostPerMillion, DEFAULT_PROVISIONED_MODEL, type FlinkWithSink, type ProvisionedModel, costPerMillion, flinkSmallestPerMillion, flinkWithSinkPerMillion } from './model';

/** Lambda's base polling interval of a shard (standard iterator). */
export const POLL_INTERVAL_S = 1;
/** Lambda caps a batch's payload at 6 MB. */
const MAX_BATCH_BYTES = 6 * 1024 * 1024;

export interface Batching {
  readonly batchSize: number;
  /** How long the first record of a batch waits before the invocation: the window, the poll interval, or less when the batch fills first. */
  readonly waitS: number;
}

/** The batch Lambda gives a shard receiving `rate` events/s of `bytesPerEvent` with a batching window of `windowS`. */
export function batchingFor(rate: number, windowS: number, bytesPerEvent = 0): Batching {
  const gatherS = windowS === 0 ? POLL_INTERVAL_S : windowS;
  const cap = Math.min(EVENT_SOURCE_LIMITS.batchSize.max, bytesPerEvent > 0 ? Math.floor(MAX_BATCH_BYTES / bytesPerEvent) : Infinity);
  const batchSize = Math.max(1, Math.min(cap, Math.round(rate * gatherS)));
  return { batchSize, waitS: Math.min(gatherS, batchSize / rate) };
}

export interface CurvePoint {
  readonly rate: number;
  readonly windowS: number;
  readonly batchSize: number;
  readonly waitS: number;
  /** Records in the run that measured this batch size. */
  readonly records: number;
  /** Measured handler time per invocation on the local emulators, seconds. */
  readonly processingS: number;
  /** Batching wait plus processing: how old the oldest record of a batch is when its results are written. */
  readonly freshnessS: number;
  readonly cost: CostPerMillion;
  /** Managed Service for Apache Flink's smallest application at this rate, per million events. */
  readonly flinkPerMillion: number;
  /**
   * Flink with the online-store writes it needs for one-second freshness: one write per changed key per second, as
   * many write units per event as this consumer's state table took in this rate's run at one-second batches.
   */
  readonly flink: FlinkWithSink;
  readonly usage: Usage;
}

export interface CurveOptions {
  readonly rates: readonly number[];
  readonly windowsS: readonly number[];
  /** Records per run (raised to one full batch where a batch is larger). */
  readonly records: number;
  readonly keys: number;
  /** Work folder for the generated inputs and the runs' outputs. */
  readonly dir: string;
  readonly progress?: (line: string) => void;
  /** @default DEFAULT_PROVISIONED_MODEL */
  readonly provisioned?: ProvisionedModel;
}

/** Runs each distinct (rate, batch size) once through the local pipeline; emulator endpoints must be in process.env. */
export async function runCurve(o: CurveOptions): Promise<CurvePoint[]> {
  const measured = new Map<string, { records: number; usage: Usage }>();
  const provisioned = o.provisioned ?? DEFAULT_PROVISIONED_MODEL;
  const points: CurvePoint[] = [];
  for (const rate of o.rates) {
    const spacingMs = 1000 / rate;
    // Record sizes of this workload, for the 6 MB cap; the generator is deterministic, so a sample tells.
    const sample = generateWorkload({ records: 200, keys: o.keys, spacingMs, seed: 7 });
    const bytesPerEvent = sample.reduce((n, l) => n + Buffer.byteLength(l.data, 'utf8'), 0) / sample.length;
    const measure = async (batchSize: number): Promise<{ records: number; usage: Usage }> => {
      const key = `${rate}/${batchSize}`;
      let run = measured.get(key);
      if (!run) {
        const records = Math.max(o.records, batchSize);
        const runDir = join(o.dir, `rate-${rate}-batch-${batchSize}`);
        mkdirSync(runDir, { recursive: true });
        const input = join(runDir, 'records.jsonl');
        await writeWorkload(input, generateWorkload({ records, keys: o.keys, spacingMs, seed: 7 }));
        const started = Date.now();
        const result = await runFile({ spec: BENCH_SPEC, inputPath: input, outDir: join(runDir, 'out'), batchSize, name: `cost-${rate}-${batchSize}` });
        run = { records, usage: result.usage };
        measured.set(key, run);
        o.progress?.(`${rate} events/s, batch ${batchSize}: ${records} records in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
      return run;
    };
    // Flink's online-store writes: the state table's write units per event at one-second batches (one write per changed key per second).
    const second = await measure(batchingFor(rate, 1, bytesPerEvent).batchSize);
    const flink = flinkWithSinkPerMillion(rate, (second.usage.dynamodbWriteUnits - second.usage.dynamodbPredictionsWriteUnits) / second.records, provisioned);
    for (const windowS of o.windowsS) {
      const { batchSize, waitS } = batchingFor(rate, windowS, bytesPerEvent);
      const run = await measure(batchSize);
      const processingS = run.usage.invocations > 0 ? run.usage.consumerMs / run.usage.invocations / 1000 : 0;
      points.push({
        rate,
        windowS,
        batchSize,
        waitS,
        records: run.records,
        processingS,
        freshnessS: waitS + processingS,
        cost: costPerMillion({ records: run.records, usage: run.usage, rate, memoryMb: CONSUMER_FUNCTION_DEFAULTS.memorySizeMb, provisioned }),
        flinkPerMillion: flinkSmallestPerMillion(rate),
        flink,
        usage: run.usage,
      });
    }
  }
  return points;
}
