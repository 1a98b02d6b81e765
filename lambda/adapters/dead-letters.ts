/**
 * Sends rejected records (late, invalid, future) to the dead-letter queue with their full payload. The queue is
 * FIFO: the deduplication id is derived from shard, sequence number, reason and feature, so the re-sends of a
 * retried Lambda batch within SQS's five-minute window are dropped by SQS itself.
 */
import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { Rejection } from '../core/engine';
import { retryUnprocessed } from './concurrency';
import type { WriteGate } from './state-store';

/** SQS's classic message limit (256 KiB) with a margin; every message body is kept at or below it. */
export const MAX_MESSAGE_BYTES = 250_000;
/** First cut of an oversized payload; cut further while escaping or base64 keeps the body over the limit. */
export const MAX_INLINE_PAYLOAD_BYTES = 200_000;
const MAX_BATCH_BYTES = 262_144;

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
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
 * The message and its JSON body, within MAX_MESSAGE_BYTES. JSON escaping (quotes double, control characters
 * grow sixfold) and base64 can push a payload under the first cut over the limit; it is then cut further, so a
 * poison record can never make the send fail and block its shard.
 */
export function encodeDeadLetter(r: Rejection): { message: DeadLetterMessage; body: string } {
  let limit = MAX_INLINE_PAYLOAD_BYTES;
  for (let attempt = 0; attempt < 20 && limit > 0; attempt++) {
    const message = toDeadLetter(r, limit);
    const body = JSON.stringify(message);
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
  return { message, body: JSON.stringify(message) };
}

export function deduplicationId(m: DeadLetterMessage): string {
  return createHash('sha256').update(`${m.shard}\u0000${m.sequenceNumber}${m.subSequenceNumber === undefined ? '' : `.${m.subSequenceNumber}`}\u0000${m.reason}\u0000${m.feature ?? ''}`).digest('hex');
}

export interface DeadLetterSenderOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly writeGate?: WriteGate;
}

export class DeadLetterSender {
  public sent = 0;

  public constructor(private readonly o: DeadLetterSenderOptions) {}

  /** Sends every rejection; throws if any cannot be sent after retries, so the batch fails and nothing is lost. */
  public async send(rejections: readonly Rejection[]): Promise<void> {
    const entries: SendMessageBatchRequestEntry[] = rejections.map((r, i) => {
      const { message, body } = encodeDeadLetter(r);
      return { Id: String(i), MessageBody: body, MessageGroupId: message.shard, MessageDeduplicationId: deduplicationId(message) };
    });
    for (const batch of packBatches(entries)) {
      let pending = batch;
      await retryUnprocessed(async () => {
        await this.o.writeGate?.('SendMessageBatch');
        const res = await this.o.client.send(new SendMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: pending }));
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        const senderFault = (res.Failed ?? []).find((f) => f.SenderFault);
        if (senderFault) throw new Error(`dead-letter queue refused a message: ${senderFault.Code} ${senderFault.Message ?? ''}`);
        this.sent += pending.length - failed.size;
        pending = pending.filter((e) => failed.has(e.Id));
        return pending.length;
      }, 'SendMessageBatch');
    }
  }
}

/** Groups entries into SendMessageBatch requests: at most 10 entries and 256 KiB each. */
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
