/**
 * `npm run redrive`: sends the records behind dead letters back onto the stream, after a fix (a corrected spec, a
 * fixed producer clock), and deletes their dead letters only once they are put.
 *
 * The dead-letter queue is FIFO with one message group per shard. SQS returns no more messages of a group while
 * any of its messages is in flight (received, neither deleted nor visible again), so the queue is read in pages:
 * every receive until none returns anything gives the oldest messages of each shard; the page's records are put,
 * then their dead letters deleted, which unlocks the next messages of each shard. A dead letter not selected
 * cannot be left at the head of its shard (it would lock it again): with --apply it is sent again, unchanged, to
 * the back of its shard's group, then the original is deleted (marked with this run's id, so the run stops when
 * it meets it again; so does a dead letter sent since the run started, the records it put rejected again). A dry run deletes and sends nothing, so it sees only the first page: the oldest dead
 * letters of each shard, which it then makes visible again.
 *
 * One rejected record has several dead letters when it was late for several features: it is put once (dead
 * letters grouped by shard, sequence number and sub-sequence number), its payload restored byte for byte (the
 * base64 of a non-UTF-8 payload decoded, the whole payload read from S3 when the message holds only its start)
 * and checked against the size and SHA-256 the dead letter carries.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { RecordsNotTakenError, putRecords as putOnStream } from '../cli/put-records';
import { decodeWtf8 } from '../../lambda/core/wtf8';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import type { PipelineSpec } from '../../lambda/core/spec';
import { partitionKeyOf } from '../sandbox/file-run';

/** The reasons of the consumer's dead letters that a redrive can send back (labels' own reasons never are). */
export const REDRIVE_REASONS = ['invalid', 'future', 'late'] as const;
export type RedriveReason = (typeof REDRIVE_REASONS)[number];

/** The message attribute naming the run that sent a dead letter to the back of its group. */
export const REQUEUED_BY = 'redriveRun';
/** Messages a page holds at most (a PutRecords request's worth of records, about). */
const PAGE_MESSAGES = 500;

export interface RedriveOptions {
  readonly spec: PipelineSpec;
  readonly queueUrl: string;
  readonly stream: string;
  readonly sqs: SQSClient;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  /** Dead letters of these reasons are selected. @default all three */
  readonly reasons?: readonly RedriveReason[];
  /** Only late dead letters of these features (and invalid or future ones, which name no feature, if selected). */
  readonly features?: readonly string[];
  /** Records put at most. */
  readonly limit?: number;
  /** Put and delete; otherwise read one page and make it visible again. */
  readonly apply: boolean;
  /** How long a page's messages stay invisible; they come back after it if the run dies. @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** Called after each page with the records put so far. */
  readonly onPage?: (put: number) => void;
}

export interface RedriveSample {
  readonly reason: string;
  readonly features: readonly string[];
  readonly shard: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number;
  readonly message: string;
  readonly partitionKey: string;
  readonly payloadBytes: number;
  /** The payload's start, as text. */
  readonly payload: string;
}

export interface RedriveReport {
  readonly apply: boolean;
  readonly queueUrl: string;
  readonly stream: string;
  /** ApproximateNumberOfMessages and ApproximateNumberOfMessagesNotVisible before the run. */
  readonly queueBefore: { readonly visible: number; readonly inFlight: number };
  /** Dead letters read (a dry run: the oldest of each shard only). */
  readonly read: number;
  /** The records selected, and their dead letters by reason and (late ones) by feature. */
  readonly selected: { readonly records: number; readonly deadLetters: number; readonly byReason: Record<string, number>; readonly byFeature: Record<string, number> };
  /** Records put onto the stream, and on which shard. */
  readonly put: number;
  readonly shards: Record<string, number>;
  /** Dead letters deleted: those of every record put. */
  readonly deleted: number;
  /** Dead letters not selected, sent to the back of their shard's group (--apply). */
  readonly requeued: number;
  /** Selected records whose payload could not be restored whole: left in the queue. */
  readonly unrestorable: ReadonlyArray<{ readonly shard: string; readonly sequenceNumber: string; readonly subSequenceNumber?: number; readonly why: string }>;
  /** The run stopped at --limit records. */
  readonly limited: boolean;
  readonly samples: readonly RedriveSample[];
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
}

interface Letter {
  readonly raw: Message;
  /** Undefined: not a dead letter of the consumer's (a labels consumer's reason, or unreadable). */
  readonly dl?: DeadLetterMessage;
  readonly record?: string;
  /** Sent to the back of its group by this run, or sent since the run started: each shard ends there. */
  readonly mine: boolean;
}

const isReason = (r: unknown): r is RedriveReason => (REDRIVE_REASONS as readonly unknown[]).includes(r);

function parseLetter(m: Message, runId: string, startedAt: number): Letter {
  // A dead letter sent since the run started (its own records rejected again, say) is left for the next run.
  const mine = m.MessageAttributes?.[REQUEUED_BY]?.StringValue === runId || Number(m.Attributes?.SentTimestamp ?? 0) >= startedAt;
  let dl: DeadLetterMessage | undefined;
  try {
    const doc = JSON.parse(m.Body ?? '') as Partial<DeadLetterMessage>;
    if (isReason(doc.reason) && doc.source === undefined && typeof doc.shard === 'string' && typeof doc.sequenceNumber === 'string' && typeof doc.payload === 'string') dl = doc as DeadLetterMessage;
  } catch {
    dl = undefined;
  }
  return dl === undefined ? { raw: m, mine } : { raw: m, dl, record: recordId(dl), mine };
}

/** One rejected record: its shard, sequence number and sub-sequence number. */
export function recordId(m: Pick<DeadLetterMessage, 'shard' | 'sequenceNumber' | 'subSequenceNumber'>): string {
  return `${m.shard}\u0000${m.sequenceNumber}\u0000${m.subSequenceNumber ?? ''}`;
}

/** The record's bytes as they were put, checked against the dead letter's size and hash; or why not. */
export async function restorePayload(m: DeadLetterMessage, s3: S3Client): Promise<Uint8Array | string> {
  let bytes: Uint8Array;
  if (m.truncated) {
    if (m.payloadObject === undefined) return `the payload was cut to fit the message and no copy was kept in S3 (${m.payloadBytes} bytes, SHA-256 ${m.payloadSha256})`;
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: m.payloadObject.bucket, Key: m.payloadObject.key }));
      bytes = (await res.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (e) {
      return `s3://${m.payloadObject.bucket}/${m.payloadObject.key} cannot be read: ${(e as Error).name} ${(e as Error).message}`;
    }
  } else {
    bytes = m.payloadEncoding === 'base64' ? Buffer.from(m.payload, 'base64') : Buffer.from(m.payload, 'utf8');
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (bytes.byteLength !== m.payloadBytes || sha !== m.payloadSha256) return `the restored payload (${bytes.byteLength} bytes) does not match the dead letter's size and SHA-256`;
  return bytes;
}

export async function redrive(o: RedriveOptions): Promise<RedriveReport> {
  const runId = randomUUID();
  const startedAt = Date.now();
  const reasons = new Set<string>(o.reasons ?? REDRIVE_REASONS);
  const features = o.features === undefined || o.features.length === 0 ? undefined : new Set(o.features);
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const visibility = o.visibilityTimeoutSeconds ?? 300;
  const matches = (dl: DeadLetterMessage): boolean => reasons.has(dl.reason) && (features === undefined || dl.feature === undefined || features.has(dl.feature));

  const attrs = await o.sqs.send(new GetQueueAttributesCommand({ QueueUrl: o.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  const queueBefore = { visible: Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };

  const byReason: Record<string, number> = {};
  const byFeature: Record<string, number> = {};
  const shards: Record<string, number> = {};
  const selectedRecords = new Set<string>();
  const putRecords = new Set<string>();
  const unrestorable: Array<RedriveReport['unrestorable'][number]> = [];
  const unrestorableIds = new Set<string>();
  const samples: RedriveSample[] = [];
  /** Messages to make visible again at the end (a dry run's page; this run's requeued ones met again). */
  const held: Message[] = [];
  let read = 0;
  let selectedLetters = 0;
  let deleted = 0;
  let requeued = 0;
  let limited = false;

  const count = (dl: DeadLetterMessage): void => {
    selectedLetters += 1;
    byReason[dl.reason] = (byReason[dl.reason] ?? 0) + 1;
    if (dl.feature !== undefined) byFeature[dl.feature] = (byFeature[dl.feature] ?? 0) + 1;
  };

  for (;;) {
    const page = await receivePage(o.sqs, o.queueUrl, visibility);
    if (page.length === 0) break;
    const letters = page.map((m) => parseLetter(m, runId, startedAt));
    // This run's requeued messages come back after every message that was before them: each shard is done.
    const fresh: Letter[] = [];
    for (const l of letters) {
      if (l.mine && !(l.record !== undefined && putRecords.has(l.record))) held.push(l.raw);
      else fresh.push(l);
    }
    if (fresh.length === 0) break;
    read += fresh.filter((l) => !l.mine).length;

    // Group the page's dead letters by record, in the order they came.
    const groups = new Map<string, Letter[]>();
    const notSelected: Letter[] = [];
    const alreadyPut: Letter[] = [];
    for (const l of fresh) {
      if (l.record !== undefined && putRecords.has(l.record)) {
        // A later dead letter of a record put on an earlier page (FIFO gives a shard's letters a few at a time).
        alreadyPut.push(l);
        if (matches(l.dl!)) count(l.dl!);
      } else if (l.record !== undefined) groups.set(l.record, [...(groups.get(l.record) ?? []), l]);
      else notSelected.push(l);
    }
    const toPut: Array<{ id: string; letters: Letter[]; entry: PutRecordsRequestEntry }> = [];
    const release: Letter[] = [];
    for (const [id, group] of groups) {
      const chosen = group.filter((l) => matches(l.dl!));
      if (chosen.length === 0 || unrestorableIds.has(id)) {
        notSelected.push(...group);
        continue;
      }
      if (putRecords.size + toPut.length >= limit) {
        limited = true;
        release.push(...group);
        continue;
      }
      selectedRecords.add(id);
      for (const l of chosen) count(l.dl!);
      const first = chosen[0]!.dl!;
      const restored = await restorePayload(first, o.s3);
      // As the payload was put: lone surrogates come back from their WTF-8 bytes, so the partition key is the original's.
      const text = typeof restored === 'string' ? '' : decodeWtf8(restored);
      const partitionKey = typeof restored === 'string' ? '' : partitionKeyOf(text, o.spec.source.keyField);
      if (samples.length < 5) {
        samples.push({
          reason: first.reason,
          features: chosen.flatMap((l) => (l.dl!.feature === undefined ? [] : [l.dl!.feature])),
          shard: first.shard,
          sequenceNumber: first.sequenceNumber,
          ...(first.subSequenceNumber === undefined ? {} : { subSequenceNumber: first.subSequenceNumber }),
          message: first.message,
          partitionKey,
          payloadBytes: first.payloadBytes,
          payload: typeof restored === 'string' ? first.payload.slice(0, 200) : text.slice(0, 200),
        });
      }
      if (typeof restored === 'string') {
        unrestorableIds.add(id);
        unrestorable.push({ shard: first.shard, sequenceNumber: first.sequenceNumber, ...(first.subSequenceNumber === undefined ? {} : { subSequenceNumber: first.subSequenceNumber }), why: restored });
        notSelected.push(...group);
        continue;
      }
      toPut.push({ id, letters: group, entry: { PartitionKey: partitionKey, Data: restored } });
    }

    if (!o.apply) {
      // A dry run reads one page only: the next messages of each shard stay locked behind it.
      held.push(...page);
      break;
    }
    await putOnStream(o.kinesis, o.stream, toPut.map((p) => p.entry), { onTaken: (s) => void (shards[s] = (shards[s] ?? 0) + 1) }).catch((e: unknown) => {
      throw e instanceof RecordsNotTakenError ? new Error(`${e.message} of this page; their dead letters are kept`) : e;
    });
    for (const p of toPut) putRecords.add(p.id);
    // Only now: a record's dead letters go once it is on the stream.
    deleted += await deleteAll(o.sqs, o.queueUrl, [...toPut.flatMap((p) => p.letters), ...alreadyPut].map((l) => l.raw));
    requeued += await requeue(o.sqs, o.queueUrl, notSelected, runId);
    o.onPage?.(putRecords.size);
    if (release.length > 0) {
      await makeVisible(o.sqs, o.queueUrl, release.map((l) => l.raw));
      break;
    }
  }
  await makeVisible(o.sqs, o.queueUrl, held);

  const warnings: string[] = [];
  if (o.spec.source.idField === undefined) {
    warnings.push('the spec has no source.idField: a record put again (a run stopped between its put and the deletion of its dead letters, then run again) is counted twice; with an idField the consumer skips it as a producer retry');
  }
  if (reasons.has('late') && o.spec.latePolicy !== 'update') {
    warnings.push(`late records are judged late again under latePolicy "${o.spec.latePolicy}" (their windows are still final): ${o.spec.latePolicy === 'dlq' ? 'they come back to the queue as new dead letters' : 'they are dropped'}; only latePolicy "update" applies them, within its correction horizon. Leave them out with --reason invalid,future`);
  }
  const notes: string[] = [];
  if (!o.apply) {
    notes.push('dry run: nothing was put, deleted or sent; the dead letters read were made visible again');
    notes.push('SQS returns no more messages of a FIFO group (one per shard) while its first ones are in flight, so a dry run reads only the oldest dead letters of each shard; --apply goes through the whole queue, page by page');
  }
  return {
    apply: o.apply,
    queueUrl: o.queueUrl,
    stream: o.stream,
    queueBefore,
    read,
    selected: { records: selectedRecords.size, deadLetters: selectedLetters, byReason, byFeature },
    put: o.apply ? putRecords.size : 0,
    shards,
    deleted,
    requeued,
    unrestorable,
    limited,
    samples,
    warnings,
    notes,
  };
}

/**
 * Every message SQS will give now: receives until one returns nothing (the first waits a second, so an empty
 * answer means an empty or locked queue rather than a sampled server).
 */
async function receivePage(sqs: SQSClient, queueUrl: string, visibility: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let emptyWaits = 0; out.length < PAGE_MESSAGES; ) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
        WaitTimeSeconds: out.length === 0 ? 1 : 0,
        MessageAttributeNames: [REQUEUED_BY],
        MessageSystemAttributeNames: ['MessageGroupId', 'SentTimestamp'],
      }),
    );
    const msgs = res.Messages ?? [];
    if (msgs.length > 0) {
      out.push(...msgs);
      continue;
    }
    if (out.length > 0 || ++emptyWaits >= 2) break;
  }
  return out;
}

async function deleteAll(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<number> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const res = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })) }));
    if ((res.Failed ?? []).length > 0) throw new Error(`dead letters not deleted: ${res.Failed!.map((f) => `${f.Code} ${f.Message ?? ''}`).join('; ')} (their records were put: a run again puts them again)`);
  }
  return messages.length;
}

async function makeVisible(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }));
  }
}

/**
 * Sends each message again, body unchanged, to the back of its group, then deletes the original: the send comes
 * first, so a run that dies in between leaves a copy, never a loss. The copy's deduplication id is new (the
 * original's would make SQS drop it within five minutes of the original's send).
 */
async function requeue(sqs: SQSClient, queueUrl: string, letters: readonly Letter[], runId: string): Promise<number> {
  for (let i = 0; i < letters.length; i += 10) {
    const chunk = letters.slice(i, i + 10);
    const res = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((l, j) => ({
          Id: String(j),
          MessageBody: l.raw.Body!,
          MessageGroupId: l.raw.Attributes?.MessageGroupId ?? l.dl?.shard ?? 'redrive',
          MessageDeduplicationId: createHash('sha256').update(`${l.raw.MessageId ?? ''}\u0000${l.raw.Body ?? ''}\u0000${runId}`).digest('hex'),
          MessageAttributes: { [REQUEUED_BY]: { DataType: 'String', StringValue: runId } },
        })),
      }),
    );
    if ((res.Failed ?? []).length > 0) throw new Error(`dead letters not selected could not be sent to the back of their shard: ${res.Failed!.map((f) => `${f.Code} ${f.Message ?? ''}`).join('; ')}`);
    await deleteAll(sqs, queueUrl, chunk.map((l) => l.raw));
  }
  return letters.length;
}
