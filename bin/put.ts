/**
 * `npm run put -- --config SPEC.json --input EVENTS.jsonl [--flat] [--stream NAME] [--endpoint URL] [--dry-run]`
 * (options: bin/cli/commands.ts; docs/producers.md). Puts a file of events onto the running sandbox's stream
 * (`npm start -- --follow`), partition key the spec's keyField, and prints a JSON summary on stdout.
 */
import { endpointFor } from '../lambda/adapters/endpoints';
import { UsageError, helpText, parseArgs } from './cli/args';
import { PUT_CLI } from './cli/commands';
import { checkReadableFile } from './cli/files';
import { inputFormatOf } from './cli/input-format';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { runMain } from './cli/run-main';
import { loadSpecFile } from './cli/spec-file';
import { checkInputFile } from './sandbox/file-run';
import { SANDBOX_STREAM, planPut, putFile } from './sandbox/put';

async function main(): Promise<number> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), PUT_CLI);
  if (args.help) {
    process.stdout.write(helpText(PUT_CLI));
    return 0;
  }
  const spec = loadSpecFile(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`));
  const format = inputFormatOf(args, spec.source, 'input');
  const input = args.input as string;
  checkReadableFile('--input', input, 'a file of events (one JSON object per line with --flat, else the replay\'s input format)');
  const stream = (args.stream as string | undefined) ?? SANDBOX_STREAM;
  const endpoint = (args.endpoint as string | undefined) ?? endpointFor('KINESIS');
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw new UsageError(`--endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  // Every line is checked (envelope, record size) before anything is put.
  const records = await checkInputFile(input, spec.source, format);
  if (args['dry-run'] === true) {
    const plan = await planPut(spec, input, format);
    process.stdout.write(`${JSON.stringify({ dryRun: true, stream, endpoint: endpoint ?? null, ...plan }, null, 2)}\n`);
    return 0;
  }
  if (endpoint === undefined) {
    throw new UsageError('no Kinesis endpoint: start the sandbox with npm start -- --follow, run the export lines it prints in this shell (AWS_ENDPOINT_URL_KINESIS among them), or give --endpoint URL');
  }
  if (records === 0) process.stderr.write(`warning: --input ${input} holds no events; nothing to put\n`);
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const summary = await putFile({
    spec,
    inputPath: input,
    format,
    stream,
    endpoint,
    onProgress: (put) => {
      const now = Date.now();
      if (!tty || (now - last < 500 && put < records)) return;
      last = now;
      process.stderr.write(`\r${put} of ${records} events put (${((100 * put) / Math.max(records, 1)).toFixed(0)}%)   `);
    },
  });
  if (tty && records > 0) process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

runMain(PUT_CLI, main);
