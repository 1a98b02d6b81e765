/**
 * A small local stand-in for AWS Lambda's Kinesis event source mapping (ESM), run against a Kinesis emulator.
 * LocalStack does not emulate bisection, so this reproduces the semantics the consumer relies on:
 * - per shard: in order, one batch in flight, or with a parallelization factor N up to N batches in flight, the
 *   records of one partition key always in the same one and in order; shards in parallel; parents read to the
 *   end before their children after a split or merge;
 * - at-least-once: a failed batch is retried (counting retry attempts); with bisection a batch whose invocation
 *   failed (the handler threw or ran past the function timeout) is split in two halves first, which does not
 *   consume retries; with ReportBatchItemFailures the checkpoint moves to just before the lowest reported
 *   sequence number and everything from there on is re-delivered;
 * - a response that is not a valid partial-batch response fails the whole batch (Lambda's documented success and
 *   failure conditions, see readBatchResponse);
 * - when retries or the maximum record age run out, the metadata-only Kinesis on-failure message is sent to
 *   `onFailure` and the records are skipped.
 * Checkpoints live in memory only: a new mapping starts from `startingPosition` again.
 *
 * A handler call that runs past the function timeout is stopped as Lambda stops the environment: each call runs in
 * an invocation context of its own (AsyncLocalStorage), and an SDK client with the stopAtTimeout middleware sends
 * no request for a call that was stopped. Requests sent before the timeout may still complete, as on AWS.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type ListShardsCommandInput,
  type _Record,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { FinalizeHandler, FinalizeHandlerArguments, HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { type ClientHook, type SdkClient, awsRegion } from '../../lambda/adapters/aws-clients';
import { kinesisClient } from './kinesis-client';

export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/**
 * What Lambda sends to an on-failure destination for Kinesis: batch coordinates, never the records (the shape of
 * the invocation record in Lambda's "Retain discarded batch records" documentation).
 */
export interface KinesisOnFailureMessage {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: OnFailureCondition;
    /** Invocations with these records; 1 for records that expired before any invocation. */
    approximateInvokeCount: number;
  };
  /**
   * The last invocation's result; absent for RecordAgeExceeded. `functionError` is "Unhandled" when the handler
   * threw or timed out, null when it returned (item failures, or a response that is no valid partial-batch one).
   */
  responseContext?: { statusCode: number; executedVersion: string; functionError: string | null };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export interface LocalEventSourceMappingOptions {
  readonly streamName: string;
  /** The function. Its response is judged as Lambda judges it (readBatchResponse), whatever its type. */
  readonly handler: (event: KinesisStreamEvent) => Promise<unknown>;
  /** Maximum records per invocation, 1 to 10,000. Default 100, as Lambda. */
  readonly batchSize?: number;
  /**
   * Batches of one shard in flight at once, 1 to 10. Default 1. As Lambda, records are assigned to the concurrent
   * batches by a hash of their partition key, so one key's records stay in order.
   */
  readonly parallelizationFactor?: number;
  /** How long to gather records before invoking with a partial batch. Default 0: invoke with what one read returns. */
  readonly maximumBatchingWindowMs?: number;
  /** Where to start in shards that exist at start(); shards created later are always read from their start. */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Retries of a failed batch before it is discarded; -1 means until the record expires. Default 10. */
  readonly maximumRetryAttempts?: number;
  /** Split a batch in two when the function throws. Default true. */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Honour `batchItemFailures` in the handler's response. Default true. */
  readonly reportBatchItemFailures?: boolean;
  /** Discard records older than this instead of invoking with them. Default: no limit. */
  readonly maximumRecordAgeMs?: number;
  /**
   * Function timeout: an invocation that has not settled by then is a function error, as on Lambda, and is
   * stopped: from then on every request of an SDK client with the stopAtTimeout middleware fails with
   * InvocationStoppedError instead of being sent, and invocationStopped() tells the handler's code it was stopped.
   * Requests already sent may still land, like those a timed-out Lambda function had sent. Default 3000, Lambda's
   * default timeout.
   */
  readonly functionTimeoutMs?: number;
  /** On-failure destination; without it discarded batches are only counted. */
  readonly onFailure?: (message: KinesisOnFailureMessage) => Promise<void>;
  /** Pause between reads of a shard at its tip. Default 50 ms. */
  readonly pollIntervalMs?: number;
  /**
   * Pause before a failed batch is invoked again: `initialMs`, doubling after each retry up to `maxMs`. The
   * default (1 s doubling to 15 s) puts 8 invocations of a failing batch about 60 s apart in all, as AWS's were
   * recorded, so retries age the iterator as on AWS; tests pass a few milliseconds.
   */
  readonly retryBackoffMs?: { readonly initialMs: number; readonly maxMs: number };
  /** For ARNs in events and on-failure messages. Defaults: AWS_REGION or us-east-1, 000000000000, local-consumer. */
  readonly region?: string;
  readonly accountId?: string;
  readonly functionName?: string;
  /** Default: kinesisClient() from the environment. */
  readonly client?: KinesisClient;
}

/** A few milliseconds between retries: for tests, where AWS's seconds would only make runs slow. */
export const FAST_RETRY_BACKOFF = { initialMs: 10, maxMs: 10 } as const;

/** Lambda's limit on an invocation's payload: a batch whose event would be larger is invoked in parts. */
export const MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface EsmCounters {
  /** Handler calls, retries included. */
  invocations: number;
  /** Invocations that threw, timed out, reported failed items or returned an invalid response. */
  failedInvocations: number;
  /** Invocations stopped at the function timeout. */
  timeouts: number;
  /** Responses that were not a valid partial-batch response (whole batch failed). */
  invalidResponses: number;
  retries: number;
  bisections: number;
  /** Records passed to the handler, re-deliveries included. */
  recordsDelivered: number;
  /** Batches discarded (and sent to onFailure when set). */
  onFailureBatches: number;
  /** GetRecords calls that returned records. */
  reads: number;
  /** Wall-clock time of those calls (and of the iterator calls before them), summed over shards. */
  readMs: number;
  /** GetRecords calls that found nothing (polling at the tip; their time is not in readMs). */
  emptyReads: number;
  /** Wall-clock time spent in the handler, summed over shards (shards run in parallel). */
  handlerMs: number;
  /** Batches invoked in parts because their event would exceed MAX_INVOCATION_PAYLOAD_BYTES. */
  payloadSplits: number;
  /** The most invocations of one shard seen in flight at once (at most the parallelization factor). */
  maxInFlightPerShard: number;
}

/** Invalid options, or a call that does not fit the mapping's state. */
export class EventSourceMappingError extends Error {
  override readonly name = 'EventSourceMappingError';
}

export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
}

/** A request of a handler call that was stopped (at its timeout, or by stop()): it was not sent. */
export class InvocationStoppedError extends Error {
  override readonly name = 'InvocationStoppedError';
}

/** One handler call, as the code it runs sees it through invocationStopped() and the stopAtTimeout middleware. */
interface Invocation {
  readonly requestId: string;
  stopped: boolean;
  /** Why it was stopped, once it was. */
  reason: string | undefined;
}

/** The invocation each handler call runs in: concurrent calls (shards, a parallelization factor) each see their own. */
const invocationContext = new AsyncLocalStorage<Invocation>();

/**
 * Why the handler call this code runs in was stopped (at its function timeout, or by stop()), or undefined while
 * it may go on, and outside any handler call.
 */
export function invocationStopped(): string | undefined {
  const invocation = invocationContext.getStore();
  return invocation?.stopped ? `invocation ${invocation.requestId} ${invocation.reason ?? 'stopped'}` : undefined;
}

/** Throws InvocationStoppedError when the current handler call was stopped. */
function refuseIfStopped(context: HandlerExecutionContext): void {
  const stopped = invocationStopped();
  if (stopped === undefined) return;
  const request = `${(context.clientName ?? 'SDK').replace(/Client$/, '')} ${(context.commandName ?? 'request').replace(/Command$/, '')}`;
  throw new InvocationStoppedError(`${stopped}: ${request} not sent`);
}

/**
 * A client hook: the client sends no request, and no retry of one, for a handler call that was stopped, so a
 * call that outlives its timeout writes nothing more, as on Lambda where the environment stops. Checked once
 * before the request is counted or built (initialize step, ahead of other hooks' middleware) and again before
 * every attempt (inside the SDK's retries). Outside a handler call it changes nothing.
 */
export const stopAtTimeout: ClientHook = (client: SdkClient) => {
  client.middlewareStack.add(
    (next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext) => (args: InitializeHandlerArguments<object>) => {
      refuseIfStopped(context);
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: 'stopAtTimeout' },
  );
  client.middlewareStack.add(
    (next: FinalizeHandler<object, MetadataBearer>, context: HandlerExecutionContext) => (args: FinalizeHandlerArguments<object>) => {
      refuseIfStopped(context);
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'stopAtTimeoutEachAttempt' },
  );
};

interface ShardState {
  id: string;
  parents: string[];
  startAt: 'TRIM_HORIZON' | 'LATEST';
  status: 'waiting' | 'reading' | 'done';
  /** Start time of the latest read that found the shard at its tip with nothing left to deliver. */
  idleAt: number;
  lastError?: unknown;
}

interface Batch {
  records: _Record[];
  /** Invocations with (a prefix-trimmed version of) this batch so far. */
  attempts: number;
  requestId?: string;
  /** Result of the latest invocation: "Unhandled" after a throw or timeout, null after a returned response. */
  functionError?: string | null;
  /** Retries of this batch so far (the backoff doubles with each). */
  retries: number;
}

/** How Lambda reads a handler's response when ReportBatchItemFailures is on. */
export type BatchResponseReading =
  | { readonly kind: 'success' }
  /** Re-deliver from this index of the batch (the lowest reported sequence number). */
  | { readonly kind: 'itemFailures'; readonly redoFrom: number }
  /** Not a valid partial-batch response: the whole batch failed. */
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Lambda's documented conditions (services-kinesis-batchfailurereporting): a null or empty response, or a null or
 * empty `batchItemFailures` list, is complete success; an `itemIdentifier` that is empty, null, missing (a wrong
 * key name) or no sequence number of the batch makes the whole batch a failure, as does any other result.
 */
export function readBatchResponse(response: unknown, sequenceNumbers: readonly string[]): BatchResponseReading {
  if (response === undefined || response === null) return { kind: 'success' };
  // An empty list reads as an empty response (AWS completed such a batch in its recording).
  if (Array.isArray(response) && response.length === 0) return { kind: 'success' };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return { kind: 'invalid', reason: `response is ${describeValue(response)}, not an object` };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid', reason: `batchItemFailures is ${describeValue(failures)}, not a list` };
  if (failures.length === 0) return { kind: 'success' };
  let redoFrom = Number.POSITIVE_INFINITY;
  for (const [i, item] of failures.entries()) {
    const id: unknown = item !== null && typeof item === 'object' ? (item as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    const at = typeof id === 'string' && id !== '' ? sequenceNumbers.indexOf(id) : -1;
    if (at === -1) {
      return { kind: 'invalid', reason: `batchItemFailures[${i}] has itemIdentifier ${describeValue(id)}, not a sequence number of the batch` };
    }
    redoFrom = Math.min(redoFrom, at);
  }
  return { kind: 'itemFailures', redoFrom };
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return v === '' ? 'an empty string' : `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v === 'object' ? 'an' : 'a'} ${typeof v}`;
}

/** How one call of the handler ended. */
type CallOutcome = { kind: 'returned'; value: unknown } | { kind: 'threw'; error: unknown } | { kind: 'timedOut' } | { kind: 'stopped' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const arrivalMs = (r: _Record) => r.ApproximateArrivalTimestamp?.getTime() ?? Date.now();

/** The size of a record in an invocation's event: its base64 data and the fields around it. */
const eventBytes = (r: _Record): number => Math.ceil((r.Data?.byteLength ?? 0) / 3) * 4 + 700 + (r.PartitionKey?.length ?? 0) * 3;

type Settings = Required<Omit<LocalEventSourceMappingOptions, 'maximumRecordAgeMs' | 'onFailure' | 'client'>> &
  Pick<LocalEventSourceMappingOptions, 'maximumRecordAgeMs' | 'onFailure'>;

export class LocalEventSourceMapping {
  /** The options with their defaults applied. */
  readonly settings: Readonly<Settings>;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly counters: EsmCounters = {
    invocations: 0,
    failedInvocations: 0,
    timeouts: 0,
    invalidResponses: 0,
    retries: 0,
    bisections: 0,
    recordsDelivered: 0,
    onFailureBatches: 0,
    reads: 0,
    readMs: 0,
    emptyReads: 0,
    handlerMs: 0,
    payloadSplits: 0,
    maxInFlightPerShard: 0,
  };
  private readonly inFlight = new Map<string, number>();

  private readonly client: KinesisClient;
  private readonly roleArn: string;
  private readonly shards = new Map<string, ShardState>();
  private readonly tasks = new Set<Promise<void>>();
  /** Why the latest invalid response was refused, with its shard: Lambda only counts these, but a reason helps. */
  lastInvalidResponse: string | undefined;
  /** The latest function error (what the handler threw, or its timeout), with its shard, as Lambda logs it. */
  lastFunctionError: string | undefined;
  private running = false;
  /** Closed shards whose children are being listed. */
  private listingChildren = 0;
  /** Aborted by stop(): ends every wait on a handler that is still running. */
  private stopping = new AbortController();

  constructor(options: LocalEventSourceMappingOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const s: Settings = {
      batchSize: 100,
      parallelizationFactor: 1,
      maximumBatchingWindowMs: 0,
      startingPosition: 'TRIM_HORIZON',
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      reportBatchItemFailures: true,
      functionTimeoutMs: 3000,
      pollIntervalMs: 50,
      retryBackoffMs: { initialMs: 1000, maxMs: 15_000 },
      region: awsRegion(),
      accountId: '000000000000',
      functionName: 'local-consumer',
      ...(given as LocalEventSourceMappingOptions),
    };
    if (!Number.isInteger(s.batchSize) || s.batchSize < 1 || s.batchSize > 10_000) {
      throw new EventSourceMappingError(`batchSize must be an integer from 1 to 10000, got ${s.batchSize}`);
    }
    if (!Number.isInteger(s.parallelizationFactor) || s.parallelizationFactor < 1 || s.parallelizationFactor > 10) {
      throw new EventSourceMappingError(`parallelizationFactor must be an integer from 1 to 10, got ${s.parallelizationFactor}`);
    }
    if (!Number.isInteger(s.maximumRetryAttempts) || s.maximumRetryAttempts < -1) {
      throw new EventSourceMappingError(`maximumRetryAttempts must be -1 or more, got ${s.maximumRetryAttempts}`);
    }
    if (!(s.functionTimeoutMs > 0) || !Number.isFinite(s.functionTimeoutMs)) {
      throw new EventSourceMappingError(`functionTimeoutMs must be a positive number, got ${s.functionTimeoutMs}`);
    }
    if (!(s.maximumBatchingWindowMs >= 0)) {
      throw new EventSourceMappingError(`maximumBatchingWindowMs must be 0 or more, got ${s.maximumBatchingWindowMs}`);
    }
    if (!(s.retryBackoffMs.initialMs >= 0) || !(s.retryBackoffMs.maxMs >= s.retryBackoffMs.initialMs)) {
      throw new EventSourceMappingError(`retryBackoffMs must have 0 <= initialMs <= maxMs, got ${JSON.stringify(s.retryBackoffMs)}`);
    }
    if (s.maximumRecordAgeMs !== undefined && !(s.maximumRecordAgeMs > 0)) {
      throw new EventSourceMappingError(`maximumRecordAgeMs must be positive (leave it out for no limit), got ${s.maximumRecordAgeMs}`);
    }
    this.settings = s;
    this.client = options.client ?? kinesisClient();
    this.streamArn = `arn:aws:kinesis:${s.region}:${s.accountId}:stream/${s.streamName}`;
    this.functionArn = `arn:aws:lambda:${s.region}:${s.accountId}:function:${s.functionName}`;
    this.roleArn = `arn:aws:iam::${s.accountId}:role/${s.functionName}-role`;
  }

  /** Lists the shards and starts reading; rejects if the stream cannot be listed. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    try {
      await this.refreshShards(true);
    } catch (error) {
      this.running = false;
      throw error;
    }
  }

  /**
   * Stops reading and waits for the shard readers to end. A handler call still running is stopped (as at its
   * timeout) rather than awaited, so a handler that never settles cannot hold stop() up. A later start() begins at
   * startingPosition again.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    while (this.tasks.size > 0) await Promise.all(this.tasks);
    this.shards.clear();
  }

  /** Resolves once every shard has been read to its tip after this call and nothing is in flight. */
  async drain(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.running) throw new EventSourceMappingError('drain() needs a started mapping');
    const since = Date.now();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    for (;;) {
      const open = [...this.shards.values()].filter((s) => s.status !== 'done');
      if (this.listingChildren === 0 && open.every((s) => s.status === 'reading' && s.idleAt > since)) return;
      if (Date.now() > since + timeoutMs) {
        const detail = open.map((s) => `${s.id} (${s.status}${s.lastError ? `, last error: ${String(s.lastError)}` : ''})`);
        throw new DrainTimeoutError(`${this.settings.streamName} not drained in ${timeoutMs} ms: ${detail.join(', ')}`);
      }
      await sleep(this.settings.pollIntervalMs);
    }
  }

  private async refreshShards(initial: boolean): Promise<void> {
    let input: ListShardsCommandInput = { StreamName: this.settings.streamName };
    for (;;) {
      const page = await this.client.send(new ListShardsCommand(input));
      for (const s of page.Shards ?? []) {
        if (!s.ShardId || this.shards.has(s.ShardId)) continue;
        const latest = initial && this.settings.startingPosition === 'LATEST';
        const closed = s.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        this.shards.set(s.ShardId, {
          id: s.ShardId,
          parents: [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => !!p),
          startAt: latest ? 'LATEST' : 'TRIM_HORIZON',
          status: latest && closed ? 'done' : 'waiting', // LATEST: nothing will ever arrive in a closed shard
          idleAt: 0,
        });
      }
      if (!page.NextToken) break;
      input = { NextToken: page.NextToken };
    }
    for (const shard of this.shards.values()) {
      // Children wait for all their parents (gone parents count as done) so per-key order survives resharding.
      const ready = shard.parents.every((p) => (this.shards.get(p)?.status ?? 'done') === 'done');
      if (shard.status === 'waiting' && ready && this.running) {
        shard.status = 'reading';
        const task: Promise<void> = this.readShard(shard).finally(() => this.tasks.delete(task));
        this.tasks.add(task);
      }
    }
  }

  private async readShard(shard: ShardState): Promise<void> {
    const { pollIntervalMs } = this.settings;
    // Enough for every concurrent batch to be full (GetRecords returns at most 10,000 records a call).
    const batchSize = this.settings.batchSize * this.settings.parallelizationFactor;
    let iterator: string | undefined;
    let lastFetched: string | undefined; // resume point when an iterator must be re-acquired
    let buffer: _Record[] = [];
    let bufferedSince = 0;
    let closed = false;
    while (this.running) {
      const readAt = Date.now();
      try {
        let atTip = false;
        if (!closed && buffer.length < batchSize) {
          const t0 = performance.now();
          iterator ??= await this.iterator(shard, lastFetched);
          const page = await this.client.send(
            new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(10_000, batchSize - buffer.length) }),
          );
          const records = page.Records ?? [];
          if (records.length > 0) {
            this.counters.reads++;
            this.counters.readMs += performance.now() - t0;
          } else {
            this.counters.emptyReads++;
          }
          if (records.length > 0 && buffer.length === 0) bufferedSince = Date.now();
          buffer.push(...records);
          lastFetched = records.at(-1)?.SequenceNumber ?? lastFetched;
          iterator = page.NextShardIterator;
          closed = !iterator; // no next iterator: the shard was split or merged and is fully read
          atTip = records.length === 0 && !page.MillisBehindLatest;
        }
        const full = buffer.length >= batchSize;
        const windowOver = Date.now() - bufferedSince >= this.settings.maximumBatchingWindowMs;
        if (buffer.length > 0 && (full || closed || windowOver)) {
          await this.deliverConcurrently(shard.id, buffer);
          buffer = [];
        }
        shard.lastError = undefined;
        if (closed && buffer.length === 0) {
          shard.status = 'done';
          // Until the children are listed, drain() must not take the stream for read to its tip.
          this.listingChildren++;
          try {
            await this.refreshShards(false); // starts the children
          } finally {
            this.listingChildren--;
          }
          return;
        }
        if (atTip) {
          if (buffer.length === 0) shard.idleAt = readAt;
          await sleep(pollIntervalMs);
        }
      } catch (error) {
        // Expired iterator, emulator hiccup or a failing onFailure: re-read after what was fetched and
        // re-deliver the buffer (at-least-once), as Lambda does after an internal error.
        shard.lastError = error;
        iterator = undefined;
        await sleep(pollIntervalMs);
      }
    }
  }

  private async iterator(shard: ShardState, after: string | undefined): Promise<string> {
    const position = after
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, StartingSequenceNumber: after }
      : { ShardIteratorType: shard.startAt };
    const res = await this.client.send(
      new GetShardIteratorCommand({ StreamName: this.settings.streamName, ShardId: shard.id, ...position }),
    );
    if (!res.ShardIterator) throw new Error(`no shard iterator for ${shard.id}`);
    return res.ShardIterator;
  }

  /**
   * Delivers what was read from a shard: one batch, or with a parallelization factor N, up to N batches at once,
   * each record in the batch of its partition key's hash (so one key's records stay in order), each of those
   * batches cut at the batch size and delivered in turn.
   */
  private async deliverConcurrently(shardId: string, records: _Record[]): Promise<void> {
    const { parallelizationFactor: n, batchSize } = this.settings;
    if (n === 1) return this.deliver(shardId, records);
    const lanes: _Record[][] = Array.from({ length: n }, () => []);
    for (const r of records) lanes[laneOf(r.PartitionKey ?? '', n)]!.push(r);
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = 0; i < lane.length && this.running; i += batchSize) await this.deliver(shardId, lane.slice(i, i + batchSize));
      }),
    );
  }

  /** Delivers one batch read from a shard, applying retries, bisection and partial failures, in order. */
  private async deliver(shardId: string, records: _Record[]): Promise<void> {
    // Work list in stream order: a bisected batch is replaced by its two halves, first half first. A batch whose
    // event would exceed Lambda's payload limit is invoked in consecutive parts.
    const work: Batch[] = payloadParts(records).map((part) => ({ records: part, attempts: 0, retries: 0 }));
    if (work.length > 1) this.counters.payloadSplits++;
    while (work.length > 0 && this.running) {
      const batch = work[0];
      const maxAge = this.settings.maximumRecordAgeMs;
      const expired = maxAge === undefined ? 0 : batch.records.filter((r) => Date.now() - arrivalMs(r) > maxAge).length;
      if (expired > 0) {
        // Arrival times only grow within a shard, so the expired records are a prefix of the batch.
        await this.discard(shardId, { ...batch, records: batch.records.slice(0, expired) }, 'RecordAgeExceeded');
        batch.records = batch.records.slice(expired);
        if (batch.records.length === 0) work.shift();
        continue;
      }
      const redoFrom = await this.invoke(shardId, batch);
      if (redoFrom === 'stopped') return;
      if (redoFrom === undefined) {
        work.shift();
      } else if (batch.functionError && this.settings.bisectBatchOnFunctionError && batch.records.length > 1) {
        const mid = Math.ceil(batch.records.length / 2);
        work.splice(0, 1, { records: batch.records.slice(0, mid), attempts: 0, retries: 0 }, { records: batch.records.slice(mid), attempts: 0, retries: 0 });
        this.counters.bisections++;
      } else {
        if (redoFrom > 0) {
          // The checkpoint moved past the records that succeeded: what is left is a new batch with a budget of
          // its own (AWS delivered the failing record retries + 2 times after a partial batch response).
          batch.records = batch.records.slice(redoFrom);
          batch.attempts = 0;
        }
        const maxRetries = this.settings.maximumRetryAttempts;
        if (redoFrom === 0 && maxRetries !== -1 && batch.attempts > maxRetries) {
          await this.discard(shardId, batch, 'RetryAttemptsExhausted');
          work.shift();
        } else {
          this.counters.retries++;
          const { initialMs, maxMs } = this.settings.retryBackoffMs;
          await this.pause(Math.min(maxMs, initialMs * 2 ** batch.retries++));
        }
      }
    }
  }

  /**
   * Invokes the handler; returns undefined on success, else the index of the first record to re-deliver, or
   * 'stopped' when stop() was called during the invocation.
   */
  private async invoke(shardId: string, batch: Batch): Promise<number | undefined | 'stopped'> {
    batch.attempts++;
    batch.requestId = randomUUID();
    batch.functionError = undefined;
    this.counters.invocations++;
    this.counters.recordsDelivered += batch.records.length;
    const t0 = performance.now();
    const running = (this.inFlight.get(shardId) ?? 0) + 1;
    this.inFlight.set(shardId, running);
    this.counters.maxInFlightPerShard = Math.max(this.counters.maxInFlightPerShard, running);
    const outcome = await this.call(batch.requestId, this.event(shardId, batch.records)).finally(() => this.inFlight.set(shardId, (this.inFlight.get(shardId) ?? 1) - 1));
    this.counters.handlerMs += performance.now() - t0;
    if (outcome.kind === 'stopped') return 'stopped';
    if (outcome.kind !== 'returned') {
      // A timeout is reported like a throw: the function failed (Lambda's "Unhandled").
      if (outcome.kind === 'timedOut') this.counters.timeouts++;
      this.lastFunctionError = `${shardId}: ${outcome.kind === 'timedOut' ? `timed out after ${this.settings.functionTimeoutMs} ms` : describeError(outcome.error)}`;
      this.counters.failedInvocations++;
      batch.functionError = 'Unhandled';
      return 0;
    }
    batch.functionError = null;
    if (!this.settings.reportBatchItemFailures) return undefined;
    const reading = readBatchResponse(outcome.value, batch.records.map((r) => r.SequenceNumber ?? ''));
    if (reading.kind === 'success') return undefined;
    this.counters.failedInvocations++;
    if (reading.kind === 'invalid') {
      this.counters.invalidResponses++;
      this.lastInvalidResponse = `${shardId}: ${reading.reason}`;
      return 0;
    }
    return reading.redoFrom;
  }

  /**
   * Calls the handler in an invocation context of its own, ending the wait at the function timeout or at stop(),
   * whichever comes first; either stops the invocation in the same step, so code of the call that runs later sees
   * it stopped, and code that ran before could not have been stopped yet.
   */
  private call(requestId: string, event: KinesisStreamEvent): Promise<CallOutcome> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve({ kind: 'stopped' });
    const invocation: Invocation = { requestId, stopped: false, reason: undefined };
    return new Promise<CallOutcome>((resolve) => {
      let settled = false;
      const stopWith = (reason: string, outcome: CallOutcome) => {
        if (settled) return; // a call that already ended is not stopped afterwards
        invocation.stopped = true;
        invocation.reason = reason;
        settle(outcome);
      };
      const onStop = () => stopWith('stopped with its event source mapping', { kind: 'stopped' });
      const settle = (outcome: CallOutcome) => {
        if (settled) return; // the first outcome wins
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onStop);
        resolve(outcome);
      };
      const timeoutMs = this.settings.functionTimeoutMs;
      const timer = setTimeout(() => stopWith(`stopped at its timeout of ${timeoutMs} ms, as Lambda stops the environment`, { kind: 'timedOut' }), timeoutMs);
      signal.addEventListener('abort', onStop);
      Promise.resolve()
        .then(() => invocationContext.run(invocation, () => this.settings.handler(event)))
        .then(
          (value) => settle({ kind: 'returned', value }),
          (error: unknown) => settle({ kind: 'threw', error }),
        );
    });
  }

  /** Waits, or less when stop() is called meanwhile. */
  private pause(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  private event(shardId: string, records: _Record[]): KinesisStreamEvent {
    return {
      Records: records.map(
        (r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey ?? '',
            sequenceNumber: r.SequenceNumber ?? '',
            data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
            approximateArrivalTimestamp: arrivalMs(r) / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: this.roleArn,
          awsRegion: this.settings.region,
          eventSourceARN: this.streamArn,
        }),
      ),
    };
  }

  private async discard(shardId: string, batch: Batch, condition: OnFailureCondition): Promise<void> {
    this.counters.onFailureBatches++;
    const first = batch.records[0];
    const last = batch.records[batch.records.length - 1];
    await this.settings.onFailure?.({
      requestContext: {
        requestId: batch.requestId ?? randomUUID(),
        functionArn: this.functionArn,
        condition,
        // Lambda reports 1 for records that expired before any invocation.
        approximateInvokeCount: Math.max(1, batch.attempts),
      },
      // Lambda writes no response for expired records, even after failed invocations.
      ...(condition === 'RetryAttemptsExhausted'
        ? { responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: batch.functionError ?? null } }
        : {}),
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber ?? '',
        endSequenceNumber: last.SequenceNumber ?? '',
        approximateArrivalOfFirstRecord: new Date(arrivalMs(first)).toISOString(),
        approximateArrivalOfLastRecord: new Date(arrivalMs(last)).toISOString(),
        batchSize: batch.records.length,
        streamArn: this.streamArn,
      },
    });
  }
}

/** Consecutive parts of a batch, each of whose events fits MAX_INVOCATION_PAYLOAD_BYTES (a record alone always goes). */
function payloadParts(records: _Record[]): _Record[][] {
  const parts: _Record[][] = [];
  let part: _Record[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = eventBytes(r);
    if (part.length > 0 && bytes + size > MAX_INVOCATION_PAYLOAD_BYTES) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(r);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** What the handler threw, as Lambda's log line gives it: the error's name and message. */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `threw ${typeof error === 'string' ? JSON.stringify(error) : String(error)}`;
}

/** The concurrent batch of a partition key: a hash of the key, so each key keeps to one batch and its order. */
function laneOf(partitionKey: string, n: number): number {
  return createHash('md5').update(partitionKey, 'utf8').digest().readUInt32BE(0) % n;
}
