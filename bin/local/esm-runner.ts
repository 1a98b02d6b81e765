/**
 * A small local stand-in for AWS Lambda's Kinesis event source mapping (ESM), run against a Kinesis emulator.
 * LocalStack does not emulate bisection, so this reproduces the semantics the consumer relies on:
 * - per shard: strictly in order, one batch in flight; shards in parallel; parents read to the end before
 *   their children after a split or merge;
 * - at-least-once: a failed batch is retried (counting retry attempts); with bisection a failed batch is split
 *   in two halves first, which does not consume retries; with ReportBatchItemFailures the checkpoint moves to
 *   just before the lowest reported sequence number and everything from there on is re-delivered;
 * - when retries or the maximum record age run out, the metadata-only Kinesis on-failure message is sent to
 *   `onFailure` and the records are skipped.
 * Checkpoints live in memory only: a new mapping starts from `startingPosition` again.
 */
import { randomUUID } from 'node:crypto';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type ListShardsCommandInput,
  type _Record,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { awsRegion, kinesisClient } from '../../lambda/adapters/aws-clients';

export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** What Lambda sends to an on-failure destination for Kinesis: batch coordinates, never the records. */
export interface KinesisOnFailureMessage {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: OnFailureCondition;
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
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
  readonly handler: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | void>;
  /** Maximum records per invocation, 1 to 10,000. Default 100, as Lambda. */
  readonly batchSize?: number;
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
  /** On-failure destination; without it discarded batches are only counted. */
  readonly onFailure?: (message: KinesisOnFailureMessage) => Promise<void>;
  /** Pause between reads of a shard at its tip, and between retries. Default 50 ms. */
  readonly pollIntervalMs?: number;
  /** For ARNs in events and on-failure messages. Defaults: AWS_REGION or us-east-1, 000000000000, local-consumer. */
  readonly region?: string;
  readonly accountId?: string;
  readonly functionName?: string;
  /** Default: kinesisClient() from the environment. */
  readonly client?: KinesisClient;
}

export interface EsmCounters {
  /** Handler calls, retries included. */
  invocations: number;
  /** Invocations that threw or reported failed items. */
  failedInvocations: number;
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
}

/** Invalid options, or a call that does not fit the mapping's state. */
export class EventSourceMappingError extends Error {
  override readonly name = 'EventSourceMappingError';
}

export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
}

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
  functionError?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const arrivalMs = (r: _Record) => r.ApproximateArrivalTimestamp?.getTime() ?? Date.now();

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
    retries: 0,
    bisections: 0,
    recordsDelivered: 0,
    onFailureBatches: 0,
    reads: 0,
    readMs: 0,
    emptyReads: 0,
    handlerMs: 0,
  };

  private readonly client: KinesisClient;
  private readonly roleArn: string;
  private readonly shards = new Map<string, ShardState>();
  private readonly tasks = new Set<Promise<void>>();
  private running = false;

  constructor(options: LocalEventSourceMappingOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const s: Settings = {
      batchSize: 100,
      maximumBatchingWindowMs: 0,
      startingPosition: 'TRIM_HORIZON',
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      reportBatchItemFailures: true,
      pollIntervalMs: 50,
      region: awsRegion(),
      accountId: '000000000000',
      functionName: 'local-consumer',
      ...(given as LocalEventSourceMappingOptions),
    };
    if (!Number.isInteger(s.batchSize) || s.batchSize < 1 || s.batchSize > 10_000) {
      throw new EventSourceMappingError(`batchSize must be an integer from 1 to 10000, got ${s.batchSize}`);
    }
    if (!Number.isInteger(s.maximumRetryAttempts) || s.maximumRetryAttempts < -1) {
      throw new EventSourceMappingError(`maximumRetryAttempts must be -1 or more, got ${s.maximumRetryAttempts}`);
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
    try {
      await this.refreshShards(true);
    } catch (error) {
      this.running = false;
      throw error;
    }
  }

  /** Stops reading and waits for in-flight invocations. A later start() begins at startingPosition again. */
  async stop(): Promise<void> {
    this.running = false;
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
      if (open.every((s) => s.status === 'reading' && s.idleAt > since)) return;
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
    const { batchSize, pollIntervalMs } = this.settings;
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
            new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize - buffer.length }),
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
          await this.deliver(shard.id, buffer);
          buffer = [];
        }
        shard.lastError = undefined;
        if (closed && buffer.length === 0) {
          shard.status = 'done';
          await this.refreshShards(false); // starts the children
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

  /** Delivers one batch read from a shard, applying retries, bisection and partial failures, in order. */
  private async deliver(shardId: string, records: _Record[]): Promise<void> {
    // Work list in stream order: a bisected batch is replaced by its two halves, first half first.
    const work: Batch[] = [{ records, attempts: 0 }];
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
      if (redoFrom === undefined) {
        work.shift();
      } else if (batch.functionError && this.settings.bisectBatchOnFunctionError && batch.records.length > 1) {
        const mid = Math.ceil(batch.records.length / 2);
        work.splice(0, 1, { records: batch.records.slice(0, mid), attempts: 0 }, { records: batch.records.slice(mid), attempts: 0 });
        this.counters.bisections++;
      } else {
        batch.records = batch.records.slice(redoFrom);
        const maxRetries = this.settings.maximumRetryAttempts;
        if (maxRetries !== -1 && batch.attempts > maxRetries) {
          await this.discard(shardId, batch, 'RetryAttemptsExhausted');
          work.shift();
        } else {
          this.counters.retries++;
          await sleep(this.settings.pollIntervalMs);
        }
      }
    }
  }

  /** Invokes the handler; returns undefined on success, else the index of the first record to re-deliver. */
  private async invoke(shardId: string, batch: Batch): Promise<number | undefined> {
    batch.attempts++;
    batch.requestId = randomUUID();
    batch.functionError = undefined;
    this.counters.invocations++;
    this.counters.recordsDelivered += batch.records.length;
    let response: KinesisStreamBatchResponse | void;
    const t0 = performance.now();
    try {
      response = await this.settings.handler(this.event(shardId, batch.records));
    } catch {
      this.counters.failedInvocations++;
      batch.functionError = 'Unhandled';
      return 0;
    } finally {
      this.counters.handlerMs += performance.now() - t0;
    }
    const failures = this.settings.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
    if (failures.length === 0) return undefined;
    this.counters.failedInvocations++;
    const indexes = failures.map((f) => batch.records.findIndex((r) => r.SequenceNumber === f?.itemIdentifier));
    // An empty or unknown itemIdentifier makes Lambda treat the whole batch as failed.
    return indexes.includes(-1) ? 0 : Math.min(...indexes);
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
        approximateInvokeCount: batch.attempts,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(batch.functionError ? { functionError: batch.functionError } : {}),
      },
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
