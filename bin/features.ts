/**
 * `npm run features -- --key K [--key K2] [--at T] [--json]` (options: bin/cli/commands.ts)
 * Reads the keys' features as of T through the client library, from the sandbox's DynamoDB emulator (the
 * endpoint exported as `npm start -- --follow` prints) or from AWS (`--table` the StateTableName stack output),
 * and prints a table per key, or the client's JSON.
 */
import { join } from 'node:path';
import { FeatureRequestError, MAX_KEYS_PER_REQUEST, requestTime } from '../lambda/core/feature-request';
import { UnknownFeatureError } from '../lambda/core/serving';
import { SpecError } from '../lambda/core/spec';
import { FeatureClient } from '../lambda/adapters/feature-client';
import { UsageError, helpText, parseArgs, usageText } from './cli/args';
import { FEATURES_CLI } from './cli/commands';
import { featureTable } from './cli/feature-table';
import { CliFileError } from './cli/files';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { loadSpecFile } from './cli/spec-file';
import { exitWhenFlushed } from './cli/exit';

const DEFAULT_SPEC = join(__dirname, 'specs', 'fraud.json');
const DEFAULT_TABLE = 'sandbox-state';

async function main(): Promise<number> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), FEATURES_CLI);
  if (args.help) {
    process.stdout.write(helpText(FEATURES_CLI));
    return 0;
  }
  const keys = args.key as readonly string[];
  if (keys.length > MAX_KEYS_PER_REQUEST) throw new UsageError(`--key is given ${keys.length} times: at most ${MAX_KEYS_PER_REQUEST}`);
  let at: number;
  try {
    at = args.at === undefined ? Date.now() : requestTime(/^-?\d+(\.\d+)?$/.test(args.at as string) ? Number(args.at) : args.at, '--at');
  } catch (e) {
    throw e instanceof FeatureRequestError ? new UsageError(e.message) : e;
  }
  const spec = loadSpecFile((args.config as string | undefined) ?? DEFAULT_SPEC, (w) => process.stderr.write(`warning: ${w}\n`));
  const client = new FeatureClient({ spec, tableName: (args.table as string | undefined) ?? DEFAULT_TABLE });
  const features = args.feature as readonly string[] | undefined;
  const rows = await client.getFeatures(keys, { at, ...(features ? { features } : {}), consistentRead: args.consistent === true });
  process.stdout.write(args.json === true ? `${JSON.stringify({ at, keys: rows }, null, 2)}\n` : featureTable(rows, at));
  return 0;
}

main().then(
  (code) => exitWhenFlushed(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`error: ${e.message}\n${usageText(FEATURES_CLI)}\n`);
    else if (e instanceof SpecError || e instanceof CliFileError || e instanceof UnknownFeatureError || e instanceof FeatureRequestError) process.stderr.write(`error: ${e.message}\n`);
    else if (e instanceof Error && e.name === 'ResourceNotFoundException') process.stderr.write(`error: table not found (${e.message}); give --table, and the endpoint in AWS_ENDPOINT_URL_DYNAMODB for the sandbox\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    exitWhenFlushed(e instanceof UsageError ? 64 : 1);
  },
);
