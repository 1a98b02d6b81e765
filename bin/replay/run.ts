/**
 * Replay: runs a file of recorded stream records through the window engine — the same code the Lambda consumer
 * runs — and writes final windows, rejected records and a summary (docs/replay.md). Input is streamed; memory holds the
 * open windows only (plus, under latePolicy "update", one accumulator per final window so it can be corrected).
 * A reader thread parses and decodes the input and a writer thread writes the window lines; the engine runs here.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type ReplaySummary, correctionLine, firingLine, rejectedLine } from '../../lambda/core/output';
import type { InputFormat } from '../../lambda/core/input-line';
import { ReplayLoop } from '../../lambda/core/replay-loop';
import type { PipelineSpec } from '../../lambda/core/spec';
import { prepareOutputDir, removeOutputs } from '../cli/files';
import type { RunChecks } from '../cli/run-checks';
import { LineWriter } from '../cli/writer';
import { type RecordBatch, readRecordBatches } from './record-reader';
import { WindowWriter } from './window-writer';

/** The files a replay writes in its output folder. */
export const OUTPUT_FILES = ['windows.jsonl', 'rejected.jsonl', 'corrections.jsonl', 'firings.jsonl'] as const;

export interface ReplayOptions {
  readonly spec: PipelineSpec;
  /** The records file; or `records`. */
  readonly inputPath?: string;
  /** Record batches from elsewhere (the stream archive: bin/history/archive-source.ts), instead of `inputPath`. */
  readonly records?: AsyncIterable<RecordBatch>;
  /** How the input file's lines are read. @default the replay's envelope */
  readonly format?: InputFormat;
  readonly outDir: string;
  /** Records handed to the engine at once. @default 2000 */
  readonly batchSize?: number;
  /** Sees every rejection and watermark, for the warnings on probably-wrong results (bin/cli/run-checks.ts). */
  readonly checks?: RunChecks;
  /** Called about once a second with progress; the CLI prints it on a terminal. */
  readonly onProgress?: (p: ReplayProgress) => void;
}

export interface ReplayProgress {
  readonly lines: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
  readonly elapsedMs: number;
  readonly openSlices: number;
  readonly openSessions: number;
}

export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  prepareOutputDir('--out', opts.outDir);
  // Window lines are formatted and written on a worker thread (see window-writer.ts).
  const windowsOut = new WindowWriter(join(opts.outDir, 'windows.jsonl'), opts.spec.features.map((f) => f.name));
  const rejectedOut = new LineWriter(join(opts.outDir, 'rejected.jsonl'));
  const correctionsOut = opts.spec.latePolicy === 'update' ? new LineWriter(join(opts.outDir, 'corrections.jsonl')) : undefined;
  // Global windows fire instead of becoming final: their firings have a file of their own.
  const firingsOut = opts.spec.features.some((f) => f.window.type === 'global') ? new LineWriter(join(opts.outDir, 'firings.jsonl')) : undefined;
  try {
    return await run(opts, windowsOut, rejectedOut, correctionsOut, firingsOut);
  } catch (e) {
    await Promise.all([windowsOut.abort(), rejectedOut.abort(), correctionsOut?.abort(), firingsOut?.abort()]);
    // A run that stopped part-way leaves no output that could pass for a complete one.
    const removed = removeOutputs(opts.outDir, OUTPUT_FILES);
    if (e instanceof Error && removed.length > 0) e.message += `; no output kept (removed the partial ${removed.join(', ')} from ${opts.outDir})`;
    throw e;
  }
}

async function run(opts: ReplayOptions, windowsOut: WindowWriter, rejectedOut: LineWriter, correctionsOut: LineWriter | undefined, firingsOut: LineWriter | undefined): Promise<ReplaySummary> {
  const batchSize = opts.batchSize ?? 2000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65_536) throw new RangeError(`batchSize must be an integer from 1 to 65536, got ${batchSize}`);
  const lateness = opts.spec.watermark.allowedLatenessMs;
  const checks = opts.checks;
  const loop = new ReplayLoop(opts.spec, {
    window: (feature, key, start, end, value, count) => windowsOut.add(feature, key, start, end, value, count),
    rejected: (r) => {
      rejectedOut.write(rejectedLine(r, Number(r.seq)));
      checks?.rejected(r.reason, r.message);
    },
    correction: (c) => correctionsOut?.write(correctionLine(c)),
    firing: (f) => firingsOut?.write(firingLine(f)),
    // A watermark is the shard's highest event time minus the allowed lateness.
    ...(checks ? { watermark: (w: number) => checks.eventTime(w + lateness) } : {}),
  });
  const totalBytes = opts.inputPath === undefined ? 0 : statSync(opts.inputPath).size;
  const started = Date.now();
  let lastProgress = started;
  // Back-pressure once per batch, not per line.
  const drain = (): Promise<unknown> => Promise.all([windowsOut.drain(), rejectedOut.drain(), correctionsOut?.drain(), firingsOut?.drain()]);

  for await (const batch of recordBatches(opts, batchSize)) {
    loop.batch(batch.records);
    await drain();
    const now = Date.now();
    if (opts.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      const st = loop.engine.stats();
      opts.onProgress({ lines: batch.lastLine, bytesRead: batch.bytesRead, totalBytes, elapsedMs: now - started, openSlices: st.openSlices, openSessions: st.openSessions });
    }
  }
  const summary = loop.finish();
  await Promise.all([windowsOut.close(), rejectedOut.close(), correctionsOut?.close(), firingsOut?.close()]);
  return summary;
}

/** The batches of `records`, or of the input file. */
export function recordBatches(o: { readonly spec: PipelineSpec; readonly inputPath?: string; readonly records?: AsyncIterable<RecordBatch>; readonly format?: InputFormat }, batchSize: number): AsyncIterable<RecordBatch> {
  if (o.records !== undefined) return o.records;
  if (o.inputPath === undefined) throw new RangeError('an input file or record batches are needed');
  return readRecordBatches(o.inputPath, o.spec, { batchSize, ...(o.format === undefined ? {} : { format: o.format }) });
}
