/**
 * Sends rejected records (late, invalid, future) to the dead-letter queue with their full payload. The queue is
 * FIFO: the deduplication id is derived from shard, sequence number, reason and feature, so the re-sends of a
 * retried Lambda batch within SQS's five-minute window are dropped by SQS itself.
 *
 * A payload whose message would exceed the queue's 1 MiB limit is kept whole in S3 (payloadObject), named from
 * the dead letter's shard and sequence number, before the message that points to it is sent.
 */
import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { FINALS_OBJECT_PREFIXES } from '../contract/resources';
import type { Rejection } from '../core/engine';
import { retryUnprocessed } from './concurrency';
import type { WriteGate } from './state-store';

/** SQS's message limit (1 MiB since 2025, the dead-letter queue's MaximumMessageSize) with a margin. */
export const MAX_MESSAGE_BYTES = 1_040_000;
/** First cut of an oversized payload; cut further while escaping or base64 keeps the body over the limit. */
export const MAX_INLINE_PAYLOAD_BYTES = 1_000_000;
/** SendMessageBatch's limit on the sum of its bodies. */
const MAX_BATCH_BYTES = 1_048_576;

export interface DeadLetterMessage {
  readonly reason: Rejection['reason'];
  readonly message: string;
  readonly feature?: string;
  readonly shard: string;
  readonly sequenceNumber: string;
  /** Position of the user record within a record a KPL producer aggregated (absent for plain records). */
  readonly subSequenceNumber?: number;
  /** Shard watermark when the record arrived (null = no record seen yet). */
  readonly watermark: number | null;
  readonly arrivalTime?: number;
  readonly eventTime?: number;
  readonly key?: string;
  /** Original payload (UTF-8 text, or base64 when `payloadEncoding` says so), possibly truncated. */
  readonly payload: string;
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payloadBytes: number;
  readonly payloadSha256: string;
  /** True when the payload was too large for SQS and only its first bytes are kept (size and hash are whole). */
  readonly truncated: boolean;
  /** Where the whole payload is kept when it was truncated here and the sender has a payload bucket. */
  readonly payloadObject?: { readonly bucket: string; readonly key: string };
  /** "labels" for the labels consumer's dead letters (they share the queue); absent for the feature stream's. */
  readonly source?: 'labels';
}

// ignoreBOM: a payload's leading byte-order mark is part of it (the decoder rejects it by name).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function toDeadLetter(r: Rejection, maxPayloadBytes = MAX_INLINE_PAYLOAD_BYTES): DeadLetterMessage {
  const bytes = typeof r.data === 'string' ? Buffer.from(r.data, 'utf8') : Buffer.from(r.data);
  const truncated = bytes.length > maxPayloadBytes;
  const dot = r.seq.indexOf('.');
  const kept = truncated ? bytes.subarray(0, maxPayloadBytes) : bytes;
  let payload: string;
  let payloadEncoding: 'utf8' | 'base64' = 'utf8';
  try {
    payload = utf8.decode(kept);
  } catch {
    payload = kept.toString('base64');
    payloadEncoding = 'base64';
  }
  return {
    reason: r.reason,
    message: r.message,
    ...(r.feature === undefined ? {} : { feature: r.feature }),
    shard: r.shard,
    // A KPL sub-record's engine sequence is `<sequence number>.<sub-sequence number>`.
    sequenceNumber: dot < 0 ? r.seq : r.seq.slice(0, dot),
    ...(dot < 0 ? {} : { subSequenceNumber: Number(r.seq.slice(dot + 1)) }),
    watermark: r.watermark,
    ...(r.arrivalTime === undefined ? {} : { arrivalTime: r.arrivalTime }),
    ...(r.eventTime === undefined ? {} : { eventTime: r.eventTime }),
    ...(r.key === undefined ? {} : { key: r.key }),
    payload,
    payloadEncoding,
    payloadBytes: bytes.length,
    payloadSha256: createHash('sha256').update(bytes).digest('hex'),
    truncated,
  };
}

/**
 * Characters SQS refuses in a message body (it takes #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000 up).
 * JSON.stringify already escapes control characters and lone surrogates; U+FFFE and U+FFFF it leaves as they are.
 */
const SQS_REFUSED = /[\uFFFE\uFFFF]/g;
/**
 * Characters above U+FFFF: real SQS takes them, but the local SQS emulator's character check (a regular
 * expression without the `u` flag) refuses them, so a body it refuses is sent again with these escaped too.
 */
const ABOVE_BMP = /[\u{10000}-\u{10FFFF}]/gu;
const HAS_ABOVE_BMP = /[\u{10000}-\u{10FFFF}]/u;
const unitEscape = (c: string): string => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/**
 * A JSON text SQS accepts, denoting the same value: the characters it refuses can only occur inside JSON strings,
 * where a \u escape stands for them exactly.
 */
export function sqsSafeJson(json: string, escapeAboveBmp = false): string {
  const safe = json.replace(SQS_REFUSED, unitEscape);
  return escapeAboveBmp ? safe.replace(ABOVE_BMP, unitEscape) : safe;
}

/**
 * The message and its JSON body, within MAX_MESSAGE_BYTES. JSON escaping (quotes double, control characters
 * grow sixfold) and base64 can push a payload under the first cut over the limit; it is then cut further, so a
 * poison record can never make the send fail and block its shard (the sender keeps the whole payload in S3).
 */
export function encodeDeadLetter(r: Rejection, escapeAboveBmp = false): { message: DeadLetterMessage; body: string } {
  let limit = MAX_INLINE_PAYLOAD_BYTES;
  for (let attempt = 0; attempt < 20 && limit > 0; attempt++) {
    const message = toDeadLetter(r, limit);
    const body = sqsSafeJson(JSON.stringify(message), escapeAboveBmp);
    const size = Buffer.byteLength(body, 'utf8');
    if (size <= MAX_MESSAGE_BYTES) return { message, body };
    limit = Math.floor(Math.min(limit, message.payloadBytes) * (MAX_MESSAGE_BYTES / size) * 0.95);
  }
  // Even without its payload the message is too large (a huge key): clip the key and the message text too.
  const full = toDeadLetter(r, 0);
  const message: DeadLetterMessage = {
    ...full,
    message: full.message.slice(0, 2_000),
    ...(full.key === undefined ? {} : { key: full.key.slice(0, 1_000) }),
    truncated: true,
  };
  return { message, body: sqsSafeJson(JSON.stringify(message), escapeAboveBmp) };
}

/** The S3 key of a dead letter's whole payload: one per record (the payload is the same for each feature). */
export function deadLetterPayloadKey(pipeline: string, m: Pick<DeadLetterMessage, 'shard' | 'sequenceNumber' | 'subSequenceNumber'>): string {
  const seq = m.subSequenceNumber === undefined ? m.sequenceNumber : `${m.sequenceNumber}.${m.subSequenceNumber}`;
  return `${FINALS_OBJECT_PREFIXES.deadLetterPayloads}/${pipeline}/${encodeURIComponent(m.shard)}/${encodeURIComponent(seq)}`;
}

export function deduplicationId(m: DeadLetterMessage): string {
  return createHash('sha256').update(`${m.source === undefined ? '' : `${m.source}\u0000`}${m.shard}\u0000${m.sequenceNumber}${m.subSequenceNumber === undefined ? '' : `.${m.subSequenceNumber}`}\u0000${m.reason}\u0000${m.feature ?? ''}`).digest('hex');
}

export interface DeadLetterSenderOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly writeGate?: WriteGate;
  /**
   * "labels" for the labels consumer: its dead letters say so, and their message groups, deduplication ids and
   * payload objects stay apart from the feature stream's (the two streams' shard ids and sequence numbers can meet).
   */
  readonly source?: 'labels';
  /**
   * Where payloads too large for a message are kept whole (under FINALS_OBJECT_PREFIXES.deadLetterPayloads and
   * the pipeline's name). Without it such a payload is only cut, its size and SHA-256 kept.
   */
  readonly payloads?: {
    readonly bucket: string;
    readonly pipeline: string;
    /** Puts an object in `bucket` (given by the caller, so a consumer without S3 bundles no S3 client). */
    readonly put: (key: string, body: Uint8Array) => Promise<void>;
  };
}

export class DeadLetterSender {
  public sent = 0;
  /** Payloads put in S3 because they were too large for a message. */
  public payloadObjects = 0;

  public constructor(private readonly o: DeadLetterSenderOptions) {}

  /** Sends every rejection; throws if any cannot be sent after retries, so the batch fails and nothing is lost. */
  public async send(rejections: readonly Rejection[]): Promise<void> {
    const stored = new Set<string>();
    const entries: SendMessageBatchRequestEntry[] = [];
    for (const [i, r] of rejections.entries()) entries.push(await this.entry(String(i), r, false, stored));
    for (const batch of packBatches(entries)) {
      let pending = batch;
      await retryUnprocessed(async () => {
        await this.o.writeGate?.('SendMessageBatch');
        const res = await this.o.client.send(new SendMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: pending }));
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        const escapable = new Set<string>();
        for (const f of res.Failed ?? []) {
          if (!f.SenderFault) continue;
          const body = pending.find((e) => e.Id === f.Id)?.MessageBody ?? '';
          // The local emulator refuses characters above U+FFFF (real SQS takes them): sent again escaped.
          if (f.Code === 'InvalidMessageContents' && HAS_ABOVE_BMP.test(body)) escapable.add(f.Id!);
          else throw new Error(`dead-letter queue refused a message: ${f.Code} ${f.Message ?? ''}`);
        }
        this.sent += pending.length - failed.size;
        const next: SendMessageBatchRequestEntry[] = [];
        for (const e of pending.filter((p) => failed.has(p.Id))) next.push(escapable.has(e.Id!) ? await this.entry(e.Id!, rejections[Number(e.Id)]!, true, stored) : e);
        pending = next;
        return pending.length;
      }, 'SendMessageBatch');
    }
  }

  private async entry(id: string, r: Rejection, escapeAboveBmp: boolean, stored: Set<string>): Promise<SendMessageBatchRequestEntry> {
    let { message, body } = encodeDeadLetter(r, escapeAboveBmp);
    const source = this.o.source;
    if (source !== undefined) {
      message = { ...message, source };
      body = sqsSafeJson(JSON.stringify(message), escapeAboveBmp);
    }
    if (message.truncated && this.o.payloads !== undefined) {
      const { put, bucket, pipeline } = this.o.payloads;
      const key = deadLetterPayloadKey(source === undefined ? pipeline : `${pipeline}/${source}`, message);
      // Put before the message that names it; the same key and bytes again on a retry.
      if (!stored.has(key)) {
        await this.o.writeGate?.(`PutObject ${key}`);
        await put(key, typeof r.data === 'string' ? Buffer.from(r.data, 'utf8') : r.data);
        stored.add(key);
        this.payloadObjects++;
      }
      message = { ...message, payloadObject: { bucket, key } };
      body = sqsSafeJson(JSON.stringify(message), escapeAboveBmp);
    }
    return { Id: id, MessageBody: body, MessageGroupId: (source === undefined ? message.shard : `${source}-${message.shard}`).slice(0, 128), MessageDeduplicationId: deduplicationId(message) };
  }
}

/** Groups entries into SendMessageBatch requests: at most 10 entries and 1 MiB each. */
function packBatches(entries: readonly SendMessageBatchRequestEntry[]): SendMessageBatchRequestEntry[][] {
  const out: SendMessageBatchRequestEntry[][] = [];
  let cur: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = Buffer.byteLength(e.MessageBody ?? '', 'utf8');
    if (cur.length === 10 || (cur.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
