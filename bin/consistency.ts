/**
 * `npm run consistency -- --config SPEC.json --events EVENTS.jsonl --served SERVED.jsonl` (options:
 * bin/cli/commands.ts). Prints the JSON report on stdout: per feature, values compared, mismatches, their share
 * and the largest difference.
 */
import type { InputRecord } from '../lambda/core/engine';
import { InputLineError } from '../lambda/core/input-line';
import { type PipelineSpec, SpecError } from '../lambda/core/spec';
import { UsageError, helpText, parseArgs, usageText } from './cli/args';
import { CONSISTENCY_CLI } from './cli/commands';
import { CliFileError, checkReadableFile } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { readRecordBatches } from './replay/record-reader';
import { ServedFileError, checkConsistency, readServed } from './training/consistency';
import { EventsInputError } from './training/rows';
import { type EventsInput, archiveRecordBatches, chooseInput } from './history/archive-source';
import { ArchiveError } from '../lambda/core/archive';

async function* batches(input: EventsInput, spec: PipelineSpec): AsyncGenerator<readonly InputRecord[]> {
  try {
    const source = 'path' in input ? readRecordBatches(input.path, spec, { batchSize: 2000 }) : archiveRecordBatches(input.store, input.range, spec, 2000);
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
  if ('path' in input) checkReadableFile('--events', input.path, 'an events file (the replay\'s input format, with arrivalTime)');
  checkReadableFile('--served', args.served as string, 'a served log (one JSON object per line with "key", "at" and "features")');
  const served = await readServed(args.served as string, spec);
  const report = await checkConsistency(spec, served, batches(input, spec));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`error: ${e.message}\n${usageText(CONSISTENCY_CLI)}\n`);
    else if (e instanceof SpecError || e instanceof CliFileError || e instanceof ServedFileError || e instanceof EventsInputError || e instanceof ArchiveError) process.stderr.write(`error: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 64 : 1);
  },
);
