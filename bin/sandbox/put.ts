/**
 * `npm run put`: puts a file of events (the replay's envelope, or flat with --flat) onto the sandbox's stream, in
 * file order, partition key the spec's keyField (as the file run puts them). Every line is checked before the
 * first put, so a bad line stops nothing half-way.
 */
import { DescribeStreamSummaryCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../../lambda/adapters/kinesis-client';
import { type InputFormat, inputLineParser } from '../../lambda/core/input-line';
import type { PipelineSpec } from '../../lambda/core/spec';
import { encodeWtf8 } from '../../lambda/core/wtf8';
import { readLines } from '../cli/lines';
import { putRecords } from '../cli/put-records';
import { partitionKeyOf } from './file-run';

/** The stream `npm start -- --follow` creates (LocalPipeline names it `<name>-events`, the name being "sandbox"). */
export const SANDBOX_STREAM = 'sandbox-events';

/** No stream answers where the put was pointed: the message says how to start or find the sandbox. */
export class SandboxNotFoundError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'SandboxNotFoundError';
  }
}

export interface PutOptions {
  readonly spec: PipelineSpec;
  readonly inputPath: string;
  readonly format: InputFormat;
  readonly stream: string;
  /** The Kinesis endpoint (the sandbox's AWS_ENDPOINT_URL_KINESIS). */
  readonly endpoint: string;
  /** Called after every request with the records put so far. */
  readonly onProgress?: (put: number) => void;
}

export interface PutSummary {
  readonly stream: string;
  readonly endpoint: string;
  readonly records: number;
  readonly keys: number;
  /** Records on each shard. */
  readonly shards: Record<string, number>;
  readonly ms: number;
}

/** What a dry run reports: the records and keys a put would send, and the first record as it would go. */
export interface PutPlan {
  readonly records: number;
  readonly keys: number;
  readonly first?: { readonly partitionKey: string; readonly data: string };
}

/** The records of the file as they would be put, each with its partition key. */
async function* fileRecords(spec: PipelineSpec, path: string, format: InputFormat): AsyncGenerator<{ partitionKey: string; data: string }> {
  const parseLine = inputLineParser(format, spec.source);
  let line = 0;
  for await (const text of readLines(path)) {
    line += 1;
    if (text.trim().length === 0) continue;
    const data = parseLine(text, line).data as string;
    yield { partitionKey: partitionKeyOf(data, spec.source.keyField), data };
  }
}

export async function planPut(spec: PipelineSpec, path: string, format: InputFormat): Promise<PutPlan> {
  let records = 0;
  let first: PutPlan['first'];
  const keys = new Set<string>();
  for await (const r of fileRecords(spec, path, format)) {
    records += 1;
    first ??= r;
    keys.add(r.partitionKey);
  }
  return { records, keys: keys.size, ...(first === undefined ? {} : { first }) };
}

/** The client for the sandbox: HTTP/1.1 (kinesisClient), and the emulator's placeholder credentials if none are set. */
export function sandboxKinesis(endpoint: string): KinesisClient {
  const env = process.env;
  const hasCredentials = (env.AWS_ACCESS_KEY_ID ?? '') !== '' || (env.AWS_PROFILE ?? '') !== '';
  return kinesisClient({ endpoint, maxAttempts: 2, ...(hasCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }) });
}

function unreachable(e: unknown, o: Pick<PutOptions, 'stream' | 'endpoint'>): Error {
  const name = (e as Error).name;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (name === 'ResourceNotFoundException') {
    return new SandboxNotFoundError(`stream "${o.stream}" does not exist at ${o.endpoint}: npm start -- --follow prints the name of its stream (give it with --stream)`);
  }
  if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(code) || name === 'TimeoutError') {
    return new SandboxNotFoundError(`no sandbox answers at ${o.endpoint} (${code || name}): start one with npm start -- --follow and run the export lines it prints (each start picks new ports)`);
  }
  return e as Error;
}

export async function putFile(o: PutOptions): Promise<PutSummary> {
  const kinesis = sandboxKinesis(o.endpoint);
  const t0 = Date.now();
  try {
    try {
      await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: o.stream }));
    } catch (e) {
      throw unreachable(e, o);
    }
    const keys = new Set<string>();
    const shards: Record<string, number> = {};
    async function* entries(): AsyncGenerator<PutRecordsRequestEntry> {
      for await (const r of fileRecords(o.spec, o.inputPath, o.format)) {
        keys.add(r.partitionKey);
        yield { PartitionKey: r.partitionKey, Data: encodeWtf8(r.data) };
      }
    }
    const put = await putRecords(kinesis, o.stream, entries(), { onTaken: (s) => void (shards[s] = (shards[s] ?? 0) + 1), ...(o.onProgress ? { onProgress: o.onProgress } : {}) }).catch((e: unknown) => {
      throw unreachable(e, o);
    });
    return { stream: o.stream, endpoint: o.endpoint, records: put, keys: keys.size, shards, ms: Date.now() - t0 };
  } finally {
    kinesis.destroy();
  }
}
