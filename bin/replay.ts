/**
 * `npm run replay -- --config SPEC.json --input RECORDS.jsonl --out DIR` (options: bin/cli/commands.ts)
 * Writes DIR/windows.jsonl and DIR/rejected.jsonl (and DIR/corrections.jsonl under latePolicy "update") and
 * prints the JSON summary on stdout. Progress goes to stderr when it is a terminal.
 */
import { join } from 'node:path';
import { UsageError, helpText, parseArgs } from './cli/args';
import { REPLAY_CLI } from './cli/commands';
import { checkReadableFile, prepareOutputDir } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { RunChecks, STRICT_EXIT_CODE } from './cli/run-checks';
import { runMain } from './cli/run-main';
import { inputFormatOf } from './cli/input-format';
import { replay } from './replay/run';
import { archiveRecordBatches, chooseInput } from './history/archive-source';

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
  const format = inputFormatOf(args, spec.source, 'input');
  if ('path' in input) checkReadableFile('--input', input.path, 'a records file (one JSON line per record)');
  prepareOutputDir('--out', args.out as string);
  const tty = process.stderr.isTTY === true;
  const checks = new RunChecks();
  const summary = await replay({
    spec,
    checks,
    ...('path' in input ? { inputPath: input.path, format } : { records: archiveRecordBatches(input.store, input.range, spec, batchSize ?? 2000) }),
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
  const warnings = checks.warnings({ records: summary.records, applied: summary.applied, rejectedFile: join(args.out as string, 'rejected.jsonl') });
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  return args.strict === true && warnings.length > 0 ? STRICT_EXIT_CODE : 0;
}

runMain(REPLAY_CLI, main);
