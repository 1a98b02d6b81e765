/**
 * `npm run redrive -- --config SPEC.json [--queue URL] [--stream NAME] [--reason R,...] [--feature NAME] [--limit N]
 * [--apply]` (options: bin/cli/commands.ts; docs/operations.md). Sends the records behind dead letters back onto
 * the stream after a fix: a dry run by default, `--apply` to put them and delete their dead letters.
 */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sqsClient } from '../lambda/adapters/aws-clients';
import { endpointFor } from '../lambda/adapters/endpoints';
import { kinesisClient } from '../lambda/adapters/kinesis-client';
import { s3Client } from '../lambda/adapters/s3-client';
import { UsageError, helpText, parseArgs } from './cli/args';
import { REDRIVE_CLI } from './cli/commands';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { runMain } from './cli/run-main';
import { loadSpecFile } from './cli/spec-file';
import { REDRIVE_REASONS, type RedriveReason, redrive } from './redrive/redrive';
import { SANDBOX_STREAM } from './sandbox/put';

/** The dead-letter queue `npm start -- --follow` creates (LocalPipeline: `<name>-dead-letters.fifo`). */
export const SANDBOX_DEAD_LETTER_QUEUE = 'sandbox-dead-letters.fifo';

/** An error the operator can act on: what is missing and where, without a stack trace. */
class RedriveTargetError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'RedriveTargetError';
  }
}

function reasonsOf(value: string | undefined): RedriveReason[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const bad = list.filter((r) => !(REDRIVE_REASONS as readonly string[]).includes(r));
  if (list.length === 0 || bad.length > 0) throw new UsageError(`--reason must be one or more of ${REDRIVE_REASONS.join(', ')}, comma-separated (got ${JSON.stringify(value)})`);
  return [...new Set(list)] as RedriveReason[];
}

/** The emulator's placeholder credentials when an endpoint is set and none are (as npm run put does). */
function localCredentials(endpoint: string | undefined): { credentials?: { accessKeyId: string; secretAccessKey: string } } {
  const env = process.env;
  const has = (env.AWS_ACCESS_KEY_ID ?? '') !== '' || (env.AWS_PROFILE ?? '') !== '';
  return endpoint === undefined || has ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT'];

function explain(e: unknown, what: string, where: string | undefined): Error {
  const name = (e as Error).name;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (NETWORK_CODES.includes(code) || name === 'TimeoutError') {
    return new RedriveTargetError(`no ${what} answers at ${where ?? 'AWS'} (${code || name})${where === undefined ? '' : ': start the sandbox with npm start -- --follow and run the export lines it prints (each start picks new ports)'}`);
  }
  return e as Error;
}

async function resolveQueue(sqs: SQSClient, given: string | undefined, endpoint: string | undefined): Promise<string> {
  if (given === undefined && endpoint === undefined) {
    throw new UsageError('no SQS endpoint and no --queue: for the sandbox, start it with npm start -- --follow and run the export lines it prints (AWS_ENDPOINT_URL_SQS among them); on AWS, give --queue with the stack\'s DeadLetterQueueUrl output');
  }
  try {
    const url = given ?? (await sqs.send(new GetQueueUrlCommand({ QueueName: SANDBOX_DEAD_LETTER_QUEUE }))).QueueUrl!;
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['FifoQueue'] }));
    if (attrs.Attributes?.FifoQueue !== 'true') throw new RedriveTargetError(`queue ${url} is not a FIFO queue: give the dead-letter queue (the stack's DeadLetterQueueUrl output, a .fifo queue), not the on-failure queue`);
    return url;
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue' || /NonExistentQueue|does not exist/i.test((e as Error).message)) {
      throw new RedriveTargetError(
        given === undefined
          ? `queue ${SANDBOX_DEAD_LETTER_QUEUE} does not exist at ${endpoint}: npm start -- --follow prints the URL of its dead-letter queue (give it with --queue)`
          : `queue ${given} does not exist${endpoint === undefined ? '' : ` at ${endpoint}`}: give the dead-letter queue's URL (the stack's DeadLetterQueueUrl output)`,
      );
    }
    throw explain(e, 'SQS', endpoint);
  }
}

async function checkStream(kinesis: KinesisClient, stream: string, endpoint: string | undefined): Promise<void> {
  try {
    await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  } catch (e) {
    if ((e as Error).name === 'ResourceNotFoundException') {
      throw new RedriveTargetError(`stream "${stream}" does not exist${endpoint === undefined ? '' : ` at ${endpoint}`}: give the stream records go to with --stream (the stack's StreamName output; npm start -- --follow prints its stream's name)`);
    }
    throw explain(e, 'Kinesis', endpoint);
  }
}

async function main(): Promise<number> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), REDRIVE_CLI);
  if (args.help) {
    process.stdout.write(helpText(REDRIVE_CLI));
    return 0;
  }
  const reasons = reasonsOf(args.reason as string | undefined);
  const limit = args.limit as number | undefined;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`--limit must be a positive integer (got ${limit})`);
  const features = (args.feature as readonly string[] | undefined) ?? [];
  if (features.length > 0 && reasons !== undefined && !reasons.includes('late')) throw new UsageError('--feature selects late dead letters (only they name a feature): add late to --reason');
  const spec = loadSpecFile(args.config as string, (w) => process.stderr.write(`warning: ${w}\n`));
  const unknown = features.filter((f) => !spec.features.some((s) => s.name === f));
  if (unknown.length > 0) process.stderr.write(`warning: --feature ${unknown.join(', ')}: not a feature of the spec (${spec.features.map((f) => f.name).join(', ')}); dead letters may still name it\n`);
  const stream = (args.stream as string | undefined) ?? SANDBOX_STREAM;
  const sqsEndpoint = endpointFor('SQS');
  const kinesisEndpoint = endpointFor('KINESIS');
  const s3Endpoint = endpointFor('S3');
  const sqs: SQSClient = sqsClient({ maxAttempts: 3, ...localCredentials(sqsEndpoint) });
  const kinesis: KinesisClient = kinesisClient({ maxAttempts: 3, ...localCredentials(kinesisEndpoint) });
  const s3: S3Client = s3Client({ maxAttempts: 3, ...localCredentials(s3Endpoint) });
  try {
    const queueUrl = await resolveQueue(sqs, args.queue as string | undefined, sqsEndpoint);
    const apply = args.apply === true;
    // A dry run needs no stream; an apply checks it before reading anything.
    if (apply) await checkStream(kinesis, stream, kinesisEndpoint);
    const report = await redrive({
      spec,
      queueUrl,
      stream,
      sqs,
      kinesis,
      s3,
      apply,
      ...(reasons === undefined ? {} : { reasons }),
      ...(features.length === 0 ? {} : { features }),
      ...(limit === undefined ? {} : { limit }),
      onPage: (put) => {
        if (process.stderr.isTTY === true) process.stderr.write(`\r${put} records put   `);
      },
    });
    if (apply && process.stderr.isTTY === true) process.stderr.write('\n');
    for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } finally {
    sqs.destroy();
    kinesis.destroy();
    s3.destroy();
  }
}

runMain(REDRIVE_CLI, main);
