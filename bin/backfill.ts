/**
 * `npm run backfill -- --config SPEC.json (--input RECORDS.jsonl | --archive LOCATION) --partitions P --out DIR`
 * (options: bin/cli/commands.ts; docs/history.md). Runs the stack's backfill state machine locally and writes the
 * replay's files into DIR. Run objects go to S3: the archive's bucket for an s3:// archive, else a bucket in the
 * S3 emulator, started here unless AWS_ENDPOINT_URL_S3 names one. Progress goes to stderr on a terminal.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BackfillSource } from '../lambda/adapters/backfill-steps';
import { UsageError, helpText, parseArgs } from './cli/args';
import { BACKFILL_CLI } from './cli/commands';
import { checkReadableFile, prepareOutputDir } from './cli/files';
import { loadSpecFile } from './cli/spec-file';
import { runMain } from './cli/run-main';
import { inputFormatOf } from './cli/input-format';
import { chooseInput } from './history/archive-source';
import { type Emulators, startEmulators } from './local/emulators';
import { LOCAL_BACKFILL_BUCKET, runBackfill } from './backfill/run';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), BACKFILL_CLI);
  if (args.help) {
    process.stdout.write(helpText(BACKFILL_CLI));
    return 0;
  }
  const configPath = args.config as string;
  const spec = loadSpecFile(configPath, (w) => process.stderr.write(`warning: ${w}\n`));
  const specText = readFileSync(configPath, 'utf8');
  const partitions = (args.partitions as number | undefined) ?? 4;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) throw new UsageError(`--partitions must be an integer from 1 to 10000, got ${partitions}`);
  const workers = args.workers as number | undefined;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 256)) throw new UsageError(`--workers must be an integer from 1 to 256, got ${workers}`);
  const segmentMb = args['segment-mb'] as number | undefined;
  if (segmentMb !== undefined && !(segmentMb > 0 && segmentMb <= 256)) throw new UsageError(`--segment-mb must be a number above 0, at most 256 (a worker reads its segment whole), got ${segmentMb}`);
  const input = chooseInput(args, 'input');
  const format = inputFormatOf(args, spec.source, 'input');
  let source: BackfillSource;
  let bucket = LOCAL_BACKFILL_BUCKET;
  if ('path' in input) {
    checkReadableFile('--input', input.path, 'a records file (one JSON line per record)');
    source = { kind: 'file', path: resolve(input.path), ...(format.kind === 'flat' ? { format } : {}) };
  } else {
    const location = args.archive as string;
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
    if (m === null) source = { kind: 'folder', path: resolve(location) };
    else {
      if (m[2]!.length === 0) throw new UsageError(`--archive ${location}: give the archive's prefix too (s3://bucket/archive/<pipeline>/); the run's objects go under backfill/ in the same bucket`);
      source = { kind: 'archive', bucket: m[1]!, prefix: m[2]!.endsWith('/') ? m[2]! : `${m[2]!}/` };
      bucket = m[1]!;
    }
  }
  prepareOutputDir('--out', args.out as string);
  let emulators: Emulators | undefined;
  if (source.kind !== 'archive' && process.env.AWS_ENDPOINT_URL_S3 === undefined && process.env.AWS_ENDPOINT_URL === undefined) {
    emulators = await startEmulators({ services: ['s3'] });
    Object.assign(process.env, emulators.env());
  }
  const tty = process.stderr.isTTY === true;
  try {
    const report = await runBackfill({
      specText,
      source,
      ...('range' in input ? { range: input.range } : {}),
      partitions,
      outDir: args.out as string,
      bucket,
      ...(workers === undefined ? {} : { workers }),
      ...(segmentMb === undefined ? {} : { segmentBytes: Math.round(segmentMb * 1024 * 1024) }),
      ...(tty ? { onProgress: (p) => process.stderr.write(`\r${p.stage} ${p.done}/${p.total}  ${(p.elapsedMs / 1000).toFixed(1)} s      `) } : {}),
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(`${JSON.stringify({ ...report.summary, partitions: report.partitions, segments: report.segments, wallMs: report.wallMs }, null, 2)}\n`);
    if (report.keysOnSeveralShards > 0) {
      process.stderr.write(`warning: ${report.keysOnSeveralShards} keys arrived on more than one shard; their late verdicts depend on how shards interleave, and may differ from one process's (docs/history.md)\n`);
    }
    return 0;
  } finally {
    await emulators?.stop();
  }
}

runMain(BACKFILL_CLI, main);
