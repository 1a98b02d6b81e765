/**
 * `npm run features -- --key K [--key K2] [--at T] [--json]` (options: bin/cli/commands.ts)
 * Reads the keys' features as of T through the client library, from the sandbox's DynamoDB emulator (the
 * endpoint exported as `npm start -- --follow` prints) or from AWS (`--table` the StateTableName stack output),
 * and prints a table per key, or the client's JSON.
 */
import { join } from 'node:path';
import { FeatureRequestError, MAX_KEYS_PER_REQUEST, requestTime } from '../lambda/core/feature-request';
import { FeatureClient } from '../lambda/adapters/feature-client';
import { UsageError, helpText, parseArgs } from './cli/args';
import { FEATURES_CLI } from './cli/commands';
import { featureTable } from './cli/feature-table';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { loadSpecFile } from './cli/spec-file';
import { runMain } from './cli/run-main';

const DEFAULT_SPEC = join(__dirname, 'specs', 'fraud.json');
const DEFAULT_TABLE = 'sandbox-state';

const SANDBOX_HINT = 'to read the sandbox, start `npm start -- --follow` and export the variables it prints; to read AWS, set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION, and give --table';

/** What the SDK's errors mean here, and what to do about them. */
function explainReadError(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  if (e.name === 'ResourceNotFoundException') return `table not found (${e.message}); give --table, and the endpoint in AWS_ENDPOINT_URL_DYNAMODB for the sandbox`;
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/.test(e.message)) {
    return `no AWS credentials found${endpoint === undefined ? ' and no local endpoint set (AWS_ENDPOINT_URL_DYNAMODB)' : ''}: ${SANDBOX_HINT}`;
  }
  if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message)) {
    return `nothing answers at ${endpoint ?? 'the DynamoDB endpoint'} (${e.message}): is \`npm start -- --follow\` still running? Export the variables it prints`;
  }
  if (/Region is missing/i.test(e.message)) return `no AWS region set: ${SANDBOX_HINT}`;
  return undefined;
}

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

runMain(FEATURES_CLI, main, { explain: explainReadError });
