/**
 * The pipeline on local emulators, no AWS account needed (options: bin/cli/commands.ts).
 *
 *   npm start                       the fraud story of the README, compressed into seconds
 *   npm start -- --follow           the same, then keeps running for your own producer (Ctrl-C stops)
 *   npm start -- --config SPEC.json --input RECORDS.jsonl --out DIR [--labels LABELS.jsonl] [--shards N] [--parallelization-factor N] [--reshard split@N,merge@M] [--chaos P] [--seed S] [--batch-size N]
 *                                   a recorded file through Kinesis → consumer → DynamoDB/SQS; writes the same
 *                                   files as `npm run replay` (windows sorted), the summary on stdout and with
 *                                   the consumer's usage in DIR/summary.json; with a scoring section the
 *                                   predictions (and evaluation figures, measured with --labels); on
 *                                   stderr the run's figures, with the CPU time and peak memory of this process
 *                                   and of each emulator
 *   --kinesis-emulator kinesis-mock runs either mode on kinesis-mock instead of kinesalite (for comparison)
 *   --page-port PORT / --no-page    every mode serves a live page of the run on localhost (URL on stderr) unless
 *                                   --no-page
 */
import { join } from 'node:path';
import { type InputFormat, WRAPPED } from '../lambda/core/input-line';
import { UsageError, helpText, parseArgs } from './cli/args';
import { SANDBOX_CLI } from './cli/commands';
import { checkReadableFile, prepareOutputDir } from './cli/files';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { readLines } from './cli/lines';
import { RunChecks, STRICT_EXIT_CODE } from './cli/run-checks';
import { runMain } from './cli/run-main';
import { inputFormatOf } from './cli/input-format';
import { type Emulators, type KinesisEmulator, processUsage, startEmulators } from './local/emulators';
import { loadSpecAndModel } from './cli/spec-file';
import { runDemo, runFollow } from './sandbox/demo';
import type { LivePage, LivePageOptions } from './sandbox/live-page';
import { checkInputFile, clearRunOutputs, runFile } from './sandbox/file-run';
import { type ReshardStep, parseReshards } from './sandbox/reshard';
import { EVALUATION_FILE, PREDICTIONS_FILE, REJECTED_LABELS_FILE, readLabelsFile } from './sandbox/file-evaluation';

const KINESIS_EMULATORS: readonly KinesisEmulator[] = ['kinesalite', 'kinesis-mock'];

let emulators: Emulators | undefined;
let page: LivePage | undefined;
let interrupted = false;

async function stopEmulators(): Promise<void> {
  const p = page;
  page = undefined;
  await p?.close();
  const e = emulators;
  emulators = undefined;
  await e?.stop();
}

function onInterrupt(signal: NodeJS.Signals = 'SIGINT'): void {
  // 128 + the signal's number, as a shell reports a process a signal ended.
  const code = signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : 130;
  if (interrupted) process.exit(code); // second Ctrl-C: do not wait for anything
  interrupted = true;
  process.stderr.write('\nstopping…\n');
  void stopEmulators().finally(() => process.exit(code));
}

/**
 * Stops like a signal would when the process that started this one goes away (npm or a shell killed without
 * passing the signal on): the emulators must not outlive the run.
 */
function watchParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) onInterrupt('SIGHUP');
  }, 500).unref();
}

async function main(): Promise<number> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), SANDBOX_CLI);
  if (args.help) {
    process.stdout.write(helpText(SANDBOX_CLI));
    return 0;
  }
  const followOwn = args.follow === true && args.config !== undefined;
  const fileMode = !followOwn && (args.config !== undefined || args.input !== undefined || args.out !== undefined);
  if (followOwn) {
    for (const name of ['input', 'out'] as const) if (args[name] !== undefined) throw new UsageError(`--${name} is for file mode; --follow --config runs your spec live, from your own producer`);
  }
  const featuresPort = args['features-port'] as number | undefined;
  if (featuresPort !== undefined && (!Number.isInteger(featuresPort) || featuresPort < 1 || featuresPort > 65_535)) throw new UsageError(`--features-port must be an integer from 1 to 65535, got ${featuresPort}`);
  if (featuresPort !== undefined && args.follow !== true) throw new UsageError('--features-port needs --follow');
  const pagePort = args['page-port'] as number | undefined;
  if (pagePort !== undefined && (!Number.isInteger(pagePort) || pagePort < 1 || pagePort > 65_535)) throw new UsageError(`--page-port must be an integer from 1 to 65535, got ${pagePort}`);
  if (pagePort !== undefined && args['no-page'] === true) throw new UsageError('--page-port and --no-page exclude each other');
  // The live page: its URL on stderr (stdout carries the story, or the summary of a file run).
  const pageOptions: LivePageOptions | undefined =
    args['no-page'] === true
      ? undefined
      : {
          port: pagePort ?? 0,
          onStart: (p) => {
            page = p;
            process.stderr.write(`live page: ${p.url}\n`);
          },
        };
  if (fileMode) {
    for (const name of ['config', 'input', 'out'] as const) if (args[name] === undefined) throw new UsageError(`--${name} is required with --config/--input/--out`);
    if (args.follow) throw new UsageError('--follow takes --config alone (your spec, live); file mode (--input, --out) ends when the file is done');
  } else {
    for (const name of ['shards', 'parallelization-factor', 'reshard', 'chaos', 'seed', 'batch-size', 'strict', 'labels', 'flat', 'arrival-field'] as const) if (args[name] !== undefined) throw new UsageError(`--${name} needs --config, --input and --out`);
  }
  const shards = args.shards as number | undefined;
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1 || shards > 64)) throw new UsageError(`--shards must be an integer from 1 to 64, got ${shards}`);
  const parallelizationFactor = args['parallelization-factor'] as number | undefined;
  if (parallelizationFactor !== undefined && (!Number.isInteger(parallelizationFactor) || parallelizationFactor < 1 || parallelizationFactor > 10)) {
    throw new UsageError(`--parallelization-factor must be an integer from 1 to 10, got ${parallelizationFactor}`);
  }
  const chaos = args.chaos as number | undefined;
  if (chaos !== undefined && !(chaos >= 0 && chaos <= 1)) throw new UsageError(`--chaos must be a probability from 0 to 1, got ${chaos}`);
  const seed = args.seed as number | undefined;
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);
  const batchSize = args['batch-size'] as number | undefined;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)) throw new UsageError(`--batch-size must be an integer from 1 to 10000, got ${batchSize}`);
  const kinesisEmulator = (args['kinesis-emulator'] as string | undefined) ?? 'kinesalite';
  if (!KINESIS_EMULATORS.includes(kinesisEmulator as KinesisEmulator)) {
    throw new UsageError(`--kinesis-emulator must be one of ${KINESIS_EMULATORS.join(', ')}, got ${kinesisEmulator}`);
  }
  // Everything that can be refused is refused before any process starts.
  const loaded = fileMode || followOwn ? loadSpecAndModel(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`)) : undefined;
  const spec = loaded?.spec;
  const labelsPath = args.labels as string | undefined;
  let reshards: ReshardStep[] | undefined;
  let format: InputFormat = WRAPPED;
  if (fileMode) {
    if (labelsPath !== undefined && spec?.evaluation === undefined) throw new UsageError(`--labels needs a spec with an evaluation section (and scoring): ${args.config as string} has none`);
    if (labelsPath !== undefined) {
      checkReadableFile('--labels', labelsPath, 'label records, one JSON object per line (docs/evaluation.md)');
      // A bad line is reported with its number before the emulators start.
      await readLabelsFile(labelsPath);
    }
    // As the stack refuses it: evaluation windows count each shard's predictions in sequence order.
    if (spec?.evaluation !== undefined && (parallelizationFactor ?? 1) > 1) {
      throw new UsageError(`--parallelization-factor ${parallelizationFactor} cannot run a spec with an evaluation section (${args.config as string}): its windows count each shard's predictions in order; use 1, or a spec without evaluation`);
    }
    checkReadableFile('--input', args.input as string, "a records file in the replay's input format");
    prepareOutputDir('--out', args.out as string);
    format = inputFormatOf(args, spec!.source, 'input');
    const records = await checkInputFile(args.input as string, spec!.source, format);
    if (args.reshard !== undefined) reshards = parseReshards(args.reshard as string, shards ?? 1, records);
    // An earlier run's outputs go now: a run stopped part-way must not leave files that look like its own.
    clearRunOutputs(args.out as string);
    if (records === 0) process.stderr.write(`warning: --input ${args.input as string} holds no records; the outputs will be empty\n`);
  }

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => onInterrupt(signal));
  watchParent();
  emulators = await startEmulators({ kinesisEmulator: kinesisEmulator as KinesisEmulator });
  // SDK clients read their endpoints from the environment when they are created.
  Object.assign(process.env, emulators.env());
  const ms = emulators.startupMs;
  process.stderr.write(`emulators up: kinesis ${ms.kinesis} ms, dynamodb ${ms.dynamodb} ms, sqs ${ms.sqs} ms, s3 ${ms.s3} ms (started in parallel)\n`);
  try {
    if (fileMode && spec) {
      if ((shards ?? 1) > 1) {
        process.stderr.write(`note: ${shards} shards have one watermark each; results may differ from a single-shard replay\n`);
      }
      const { summary, stats, evaluation } = await runFile({
        spec,
        inputPath: args.input as string,
        format,
        outDir: args.out as string,
        ...(shards === undefined ? {} : { shards }),
        ...(parallelizationFactor === undefined ? {} : { parallelizationFactor }),
        ...(reshards === undefined ? {} : { reshards }),
        ...(chaos === undefined ? {} : { chaos }),
        ...(seed === undefined ? {} : { seed }),
        ...(batchSize === undefined ? {} : { batchSize }),
        ...(loaded?.model === undefined ? {} : { model: loaded.model }),
        ...(labelsPath === undefined ? {} : { labelsPath }),
        ...(pageOptions === undefined ? {} : { page: pageOptions }),
        // Long runs show they are moving, on a terminal only (logs and tests stay quiet).
        ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      });
      process.stderr.write(`figures: ${JSON.stringify(stats)}\n`);
      // Where the time went and how much memory it took: this process (puts, event source mapping, consumer) and
      // each emulator, read before they stop.
      const usage = { consumer: processUsage(process.pid), ...emulators.usage() };
      const round = (n: number) => Math.round(n);
      const figures = Object.entries(usage).map(([who, u]) => (u ? `${who} ${(u.cpuMs / 1000).toFixed(1)} s CPU, peak ${round(u.peakRssMb)} MB` : `${who} n/a`));
      process.stderr.write(`${stats.records} records in ${((stats.putMs + stats.drainMs) / 1000).toFixed(1)} s (${stats.recordsPerSecond} records/s; put ${stats.putMs} ms, reads ${round(stats.esm.readMs)} ms, handler ${round(stats.esm.handlerMs)} ms), export ${stats.exportMs} ms\n`);
      process.stderr.write(`usage (${kinesisEmulator}): ${figures.join('; ')}\n`);
      process.stderr.write(
        `DynamoDB write units of the invocations ${stats.writeUnits.toLocaleString('en-US')}, lower bound ${stats.boundWriteUnits.toLocaleString('en-US')} (${(stats.writeUnits / Math.max(stats.boundWriteUnits, 1)).toFixed(2)}x; target at most 2x); ${stats.recordsPerSecond} records/s (target at least 1,000 on one shard at batch size 1,000)\n`,
      );
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (evaluation !== undefined) {
        const outDir = args.out as string;
        const labels = evaluation.labels;
        process.stderr.write(`scoring: ${evaluation.predictions} predictions in ${join(outDir, PREDICTIONS_FILE)}\n`);
        if (spec.evaluation !== undefined) {
          process.stderr.write(
            labels === undefined
              ? `evaluation: ${evaluation.windows} windows' score figures in ${join(outDir, EVALUATION_FILE)}; no precision or recall without --labels\n`
              : `evaluation: ${labels.lines} labels, ${labels.joined} joined, ${labels.rejected} dead-lettered (${join(outDir, REJECTED_LABELS_FILE)}); ${evaluation.windows} windows in ${join(outDir, EVALUATION_FILE)}\n`,
          );
        }
      }
      // The dead letters read back, checked as the replay checks its rejections.
      const checks = new RunChecks();
      const rejectedFile = join(args.out as string, 'rejected.jsonl');
      for await (const line of readLines(rejectedFile)) {
        if (line.trim() === '') continue;
        const r = JSON.parse(line) as { reason: string; message: string };
        checks.rejected(r.reason, r.message);
      }
      const warnings = checks.warnings({ records: summary.records, applied: summary.applied, rejectedFile });
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      return args.strict === true && warnings.length > 0 ? STRICT_EXIT_CODE : 0;
    }
    const out = (s: string): void => void process.stdout.write(s);
    const pagePart = pageOptions === undefined ? {} : { page: pageOptions };
    if (followOwn) return await runFollow({ emulators, spec: spec!, specPath: args.config as string, out, ...(featuresPort === undefined ? {} : { featuresPort }), ...pagePart });
    const width = process.stdout.isTTY ? process.stdout.columns : undefined;
    return await runDemo({ emulators, follow: args.follow === true, out, ...(width ? { width } : {}), ...(featuresPort === undefined ? {} : { featuresPort }), ...pagePart });
  } finally {
    await stopEmulators();
  }
}

// Stopping the emulators on a signal makes the run fail with connection errors: not an error to report, and the
// signal handler exits once they are down.
runMain(SANDBOX_CLI, main, { cleanup: stopEmulators, stopping: () => interrupted });
