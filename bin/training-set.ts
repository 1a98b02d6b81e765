/**
 * `npm run training-set -- --config SPEC.json --events EVENTS.jsonl --labels LABELS.jsonl --out DIR [--as MODE]`
 * (options: bin/cli/commands.ts). Writes DIR/training.jsonl, DIR/training.csv and DIR/skipped-labels.jsonl and
 * prints the JSON summary on stdout. Progress goes to stderr when it is a terminal.
 */
import { UsageError, helpText, parseArgs } from './cli/args';
import { TRAINING_SET_CLI } from './cli/commands';
import { checkReadableFile, prepareOutputDir } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { STRICT_EXIT_CODE, emptyRowsWarning } from './cli/run-checks';
import { runMain } from './cli/run-main';
import { inputFormatOf } from './cli/input-format';
import { type RowMode } from './training/rows';
import { trainingSet } from './training/run';
import { archiveRecordBatches, chooseInput } from './history/archive-source';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), TRAINING_SET_CLI);
  if (args.help) {
    process.stdout.write(helpText(TRAINING_SET_CLI));
    return 0;
  }
  const mode = (args.as as string | undefined) ?? 'served';
  if (mode !== 'served' && mode !== 'final') throw new UsageError(`--as must be served or final, got ${JSON.stringify(mode)}`);
  // Everything that can be refused is refused before any input is read.
  const spec = loadSpecFile(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`));
  const input = chooseInput(args, 'events');
  const format = inputFormatOf(args, spec.source, 'events');
  if ('path' in input) checkReadableFile('--events', input.path, 'an events file (the replay\'s input format, with arrivalTime)');
  checkReadableFile('--labels', args.labels as string, 'a labels file (one JSON object per line with "key" and "time")');
  prepareOutputDir('--out', args.out as string);
  const tty = process.stderr.isTTY === true;
  const summary = await trainingSet({
    spec,
    ...('path' in input ? { eventsPath: input.path, format } : { records: archiveRecordBatches(input.store, input.range, spec, 2000) }),
    labelsPath: args.labels as string,
    outDir: args.out as string,
    mode: mode as RowMode,
    ...(tty
      ? {
          onProgress: (p) => {
            const pct = p.totalBytes > 0 ? `${((100 * p.bytesRead) / p.totalBytes).toFixed(1)}%  ` : '';
            const rate = Math.round(p.lines / (p.elapsedMs / 1000));
            process.stderr.write(`\r${pct}${p.lines} event lines  ${rate} lines/s  labels ${p.labelsServed} passed   `);
          },
        }
      : {}),
  });
  if (tty) process.stderr.write('\n');
  if (summary.skipped > 0) process.stderr.write(`warning: ${summary.skipped} label(s) skipped (no usable key or time); see ${args.out as string}/skipped-labels.jsonl\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const empty = emptyRowsWarning(summary);
  if (empty !== undefined) process.stderr.write(`warning: ${empty}\n`);
  return args.strict === true && empty !== undefined ? STRICT_EXIT_CODE : 0;
}

runMain(TRAINING_SET_CLI, main);
