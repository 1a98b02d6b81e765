/**
 * `npm run replay -- --config SPEC.json --input RECORDS.jsonl --out DIR`
 * Writes DIR/windows.jsonl and DIR/rejected.jsonl (and DIR/corrections.jsonl under latePolicy "update") and
 * prints the JSON summary on stdout. Progress goes to stderr when it is a terminal.
 */
import { InputLineError } from '../lambda/core/input-line';
import { SpecError } from '../lambda/core/spec';
import { UsageError, parseArgs } from './cli/args';
import { loadSpecFile, replay } from './replay/run';

const USAGE = 'usage: npm run replay -- --config SPEC.json --input RECORDS.jsonl --out DIR [--batch-size N]';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), {
    config: { kind: 'string', required: true },
    input: { kind: 'string', required: true },
    out: { kind: 'string', required: true },
    'batch-size': { kind: 'number' },
  });
  const spec = loadSpecFile(args.config as string);
  const tty = process.stderr.isTTY === true;
  const batchSize = args['batch-size'] as number | undefined;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65_536)) {
    throw new UsageError(`--batch-size must be an integer from 1 to 65536, got ${batchSize}`);
  }
  const summary = await replay({
    spec,
    inputPath: args.input as string,
    outDir: args.out as string,
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(tty
      ? {
          onProgress: (p) => {
            const pct = p.totalBytes > 0 ? ((100 * p.bytesRead) / p.totalBytes).toFixed(1) : '?';
            const rate = Math.round(p.lines / (p.elapsedMs / 1000));
            process.stderr.write(`\r${pct}%  ${p.lines} lines  ${rate} lines/s  open slices ${p.openSlices}  open sessions ${p.openSessions}   `);
          },
        }
      : {}),
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
    else if (e instanceof SpecError || e instanceof InputLineError) process.stderr.write(`error: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 64 : 1);
  },
);
