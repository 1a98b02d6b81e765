/**
 * `npm run consistency -- --config SPEC.json --events EVENTS.jsonl --served SERVED.jsonl` (options:
 * bin/cli/commands.ts). Prints the JSON report on stdout: per feature, values compared, mismatches, their share
 * and the largest difference. Exits 2 when the check fails (a mismatch, a feature never compared, a row served
 * under another spec), so it can gate a job.
 */
import type { InputRecord } from '../lambda/core/engine';
import { type InputFormat, InputLineError } from '../lambda/core/input-line';
import type { PipelineSpec } from '../lambda/core/spec';
import { UsageError, helpText, parseArgs } from './cli/args';
import { CONSISTENCY_CLI } from './cli/commands';
import { checkReadableFile } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { runMain } from './cli/run-main';
import { inputFormatOf } from './cli/input-format';
import { readRecordBatches } from './replay/record-reader';
import { DEFAULT_RELATIVE_TOLERANCE, checkConsistency, readServed } from './training/consistency';
import { EventsInputError } from './training/rows';
import { type EventsInput, archiveRecordBatches, chooseInput } from './history/archive-source';

async function* batches(input: EventsInput, spec: PipelineSpec, format: InputFormat): AsyncGenerator<readonly InputRecord[]> {
  try {
    const source = 'path' in input ? readRecordBatches(input.path, spec, { batchSize: 2000, format }) : archiveRecordBatches(input.store, input.range, spec, 2000);
    for await (const b of source) yield b.records;
  } catch (e) {
    if (e instanceof InputLineError) throw new EventsInputError(e.line, e.detail);
    throw e;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), CONSISTENCY_CLI);
  if (args.help) {
    process.stdout.write(helpText(CONSISTENCY_CLI));
    return 0;
  }
  const spec = loadSpecFile(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`));
  const input = chooseInput(args, 'events');
  const format = inputFormatOf(args, spec.source, 'events');
  if ('path' in input) checkReadableFile('--events', input.path, 'an events file (the replay\'s input format, with arrivalTime)');
  checkReadableFile('--served', args.served as string, 'a served log (one JSON object per line with "key", "at" and "features")');
  const served = await readServed(args.served as string, spec);
  const tolerance = (args.tolerance as number | undefined) ?? DEFAULT_RELATIVE_TOLERANCE;
  if (!(tolerance >= 0 && tolerance < 1)) throw new UsageError(`--tolerance must be a number from 0 to below 1, got ${tolerance}`);
  const report = await checkConsistency(spec, served, batches(input, spec, format), tolerance);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const mismatches = Object.values(report.features).reduce((n, f) => n + f.mismatches, 0);
  if (mismatches > 0) process.stderr.write(`mismatch: ${mismatches} served values differ from the recomputation\n`);
  if (report.notCompared.length > 0) process.stderr.write(`not compared: no served row holds ${report.notCompared.join(', ')}\n`);
  if (report.otherSpec.rows > 0) process.stderr.write(`other spec: ${report.otherSpec.rows} rows were served under other lateness, late policy or feature definitions (lines ${report.otherSpec.lines.join(', ')}, ...)\n`);
  if (report.specUnverified > 0) process.stderr.write(`warning: ${report.specUnverified} rows carry no spec digest: their lateness and late policy are not checked\n`);
  return report.ok ? 0 : 2;
}

runMain(CONSISTENCY_CLI, main);
