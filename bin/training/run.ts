/**
 * `npm run training-set`: labels read whole, events streamed from the replay's reader thread into
 * PointInTimeRows, then the rows written in the labels' file order (docs/training.md).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type InputFormat, InputLineError } from '../../lambda/core/input-line';
import type { PipelineSpec } from '../../lambda/core/spec';
import { prepareOutputDir, removeOutputs } from '../cli/files';
import { LineWriter } from '../cli/writer';
import type { RecordBatch } from '../replay/record-reader';
import { recordBatches } from '../replay/run';
import { csvLine } from './csv';
import { type LabelFile, readLabels } from './labels';
import { EventsInputError, PointInTimeRows, type RowMode } from './rows';

export const TRAINING_FILES = ['training.jsonl', 'training.csv', 'skipped-labels.jsonl'] as const;

export interface TrainingOptions {
  readonly spec: PipelineSpec;
  /** The events file; or `records`. */
  readonly eventsPath?: string;
  /** Event batches from elsewhere (the stream archive), instead of `eventsPath`. */
  readonly records?: AsyncIterable<RecordBatch>;
  /** How the events file's lines are read. @default the replay's envelope */
  readonly format?: InputFormat;
  readonly labelsPath: string;
  readonly outDir: string;
  readonly mode?: RowMode;
  /** Records the reader hands over at once (the engine's batches are cut at label times too). @default 2000 */
  readonly batchSize?: number;
  readonly sweepEveryRecords?: number;
  /** Called about once a second; the CLI prints it on a terminal. */
  readonly onProgress?: (p: TrainingProgress) => void;
}

export interface TrainingProgress {
  readonly lines: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
  readonly elapsedMs: number;
  readonly labelsServed: number;
}

export interface TrainingSummary {
  readonly as: RowMode;
  /** Label lines (blank lines aside). */
  readonly labels: number;
  /** Rows written: labels not skipped. */
  readonly rows: number;
  /** Labels skipped (missing or bad key or time), listed in skipped-labels.jsonl. */
  readonly skipped: number;
  /** Distinct label keys that no valid event carried. */
  readonly keysNeverSeen: number;
  /** Rows in which no feature had a record. */
  readonly rowsAllEmpty: number;
  /** Feature values that are null because the state could not know them (status unavailable). */
  readonly unavailableValues: number;
  /** Event lines read. */
  readonly events: number;
}

export async function trainingSet(opts: TrainingOptions): Promise<TrainingSummary> {
  prepareOutputDir('--out', opts.outDir);
  try {
    return await run(opts);
  } catch (e) {
    const removed = removeOutputs(opts.outDir, TRAINING_FILES);
    if (e instanceof Error && removed.length > 0) e.message += `; no output kept (removed the partial ${removed.join(', ')} from ${opts.outDir})`;
    throw e;
  }
}

async function run(opts: TrainingOptions): Promise<TrainingSummary> {
  const batchSize = opts.batchSize ?? 2000;
  const file = await readLabels(opts.labelsPath, opts.spec.source.timeUnit);
  const rows = new PointInTimeRows(opts.spec, file.labels, { mode: opts.mode ?? 'served', ...(opts.sweepEveryRecords === undefined ? {} : { sweepEveryRecords: opts.sweepEveryRecords }) });
  const totalBytes = opts.eventsPath === undefined ? 0 : statSync(opts.eventsPath).size;
  const started = Date.now();
  let lastProgress = started;
  try {
    for await (const batch of recordBatches({ spec: opts.spec, inputPath: opts.eventsPath, records: opts.records, format: opts.format }, batchSize)) {
      rows.feed(batch.records);
      const now = Date.now();
      if (opts.onProgress && now - lastProgress >= 1000) {
        lastProgress = now;
        opts.onProgress({ lines: batch.lastLine, bytesRead: batch.bytesRead, totalBytes, elapsedMs: now - started, labelsServed: rows.served });
      }
    }
  } catch (e) {
    // The reader names the line as "input line"; here the file is --events.
    if (e instanceof InputLineError) throw new EventsInputError(e.line, e.detail);
    throw e;
  }
  rows.finish();
  await writeRows(opts.outDir, opts.spec, file, rows);
  let allEmpty = 0;
  for (const p of rows.present) if (p === 0) allEmpty += 1;
  return {
    as: rows.mode,
    labels: file.labels.length + file.skipped.length,
    rows: file.labels.length,
    skipped: file.skipped.length,
    keysNeverSeen: rows.keysNeverSeen(),
    rowsAllEmpty: allEmpty,
    unavailableValues: rows.unavailable,
    events: rows.events,
  };
}

async function writeRows(dir: string, spec: PipelineSpec, file: LabelFile, rows: PointInTimeRows): Promise<void> {
  const names = spec.features.map((f) => f.name);
  const jsonl = new LineWriter(join(dir, 'training.jsonl'));
  const csv = new LineWriter(join(dir, 'training.csv'));
  const skipped = new LineWriter(join(dir, 'skipped-labels.jsonl'));
  // A feature column named like a label field is told apart by its prefix.
  const labelColumns = new Set(file.fieldNames);
  const featureColumns = names.map((n) => (labelColumns.has(n) ? `features.${n}` : n));
  csv.writeText(csvLine([...file.fieldNames, ...featureColumns]));
  for (let i = 0; i < file.labels.length; i++) {
    const l = file.labels[i]!;
    const features: Record<string, number | null> = {};
    const cells: unknown[] = file.fieldNames.map((n) => l.fields[n]);
    for (let f = 0; f < names.length; f++) {
      const v = rows.value(i, f);
      features[names[f]!] = v;
      cells.push(v);
    }
    jsonl.write({ ...l.fields, features });
    csv.writeText(csvLine(cells));
    if (i % 1024 === 1023) await Promise.all([jsonl.drain(), csv.drain()]);
  }
  for (const s of file.skipped) skipped.write(s);
  await Promise.all([jsonl.close(), csv.close(), skipped.close()]);
}
