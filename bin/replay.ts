/**
 * `npm run replay -- --config SPEC.json --input RECORDS.jsonl --out DIR` (options: bin/cli/commands.ts)
 * Writes DIR/windows.jsonl and DIR/rejected.jsonl (and DIR/corrections.jsonl under latePolicy "update") and
 * prints the JSON summary on stdout. Progress goes to stderr when it is a terminal.
 */
import { InputLineError } from '../lambda/core/input-line';
import { SpecError } from '../lambda/core/spec';
import { UsageError, helpText, parseArgs, usageText } from './cli/args';
import { REPLAY_CLI } from './cli/commands';
import { CliFileError, checkReadableFile, prepareOutputDir } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { replay } from './replay/run';
import { archiveRecordBatches, chooseInput } from './history/archive-source';
import { ArchiveError } from '../lambda/core/archive';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), REPLAY_CLI);
  if (args.help) {
    process.stdout.write(helpText(REPLAY_CLI));
    return 0;
  }
  const batchSize = args['batch-size'] as number | undefined;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65_536)) {
    throw new UsageError(`--batch-size must be an integer from 1 to 65536, got ${batchSize}`);
  }
  // Everything that can be refused is refused before any input is read.
  const spec = loadSpecFile(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`));
  const input = chooseInput(args, 'input');
  if ('path' in input) checkReadableFile('--input', input.path, 'a records file (one JSON line per record)');
  prepareOutputDir('--out', args.out as string);
  const tty = process.stderr.isTTY === true;
  const summary = await replay({
    spec,
    ...('path' in input ? { inputPath: input.path } : { records: archiveRecordBatches(input.store, input.range, spec, batchSize ?? 2000) }),
    outDir: args.out as string,
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(tty
      ? {
          onProgress: (p) => {
            const pct = p.totalBytes > 0 ? `${((100 * p.bytesRead) / p.totalBytes).toFixed(1)}%  ` : '';
            const rate = Math.round(p.lines / (p.elapsedMs / 1000));
            process.stderr.write(`\r${pct}${p.lines} lines  ${rate} lines/s  open slices ${p.openSlices}  open sessions ${p.openSessions}   `);
          },
        }
      : {}),
  });
  if (tty) process.stderr.write('\n');
  if (summary.records === 0 && 'path' in input) process.stderr.write(`warning: --input ${input.path} holds no records; the outputs are empty\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`error: ${e.message}\n${usageText(REPLAY_CLI)}\n`);
    else if (e instanceof SpecError || e instanceof InputLineError || e instanceof CliFileError || e instanceof ArchiveError) process.stderr.write(`error: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 64 : 1);
  },
);
