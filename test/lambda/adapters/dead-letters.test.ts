import { describe, expect, it } from 'vitest';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from '../../../lambda/adapters/aws-clients';
import { DEAD_LETTER_QUEUE, createQueueInput } from '../../../lambda/contract/resources';
import { workerEmulators } from '../../support/worker-emulators';
import { type DeadLetterMessage, DeadLetterSender, MAX_MESSAGE_BYTES, encodeDeadLetter, sqsSafeJson } from '../../../lambda/adapters/dead-letters';
import type { Rejection } from '../../../lambda/core/engine';

const rejection = (data: string | Uint8Array): Rejection => ({ reason: 'invalid', message: 'x', shard: 's', seq: '1', watermark: null, data });

describe('dead-letter encoding', () => {
  it.each([
    ['plain text under the first cut', 'a'.repeat(900_000), false],
    ['quotes that double when escaped', '"'.repeat(600_000), true],
    ['control characters that grow sixfold when escaped', '\u0001'.repeat(200_000), true],
    ['bytes that are not UTF-8 (sent as base64)', Buffer.alloc(990_000, 0xff), true],
    ['a payload over the first cut', 'b'.repeat(1_048_576), true],
    ['characters SQS refuses, escaped', '\ufffe'.repeat(200_000), true],
  ])('keeps every body within the SQS limit: %s', (_name, data, truncated) => {
    const { message, body } = encodeDeadLetter(rejection(data as string | Uint8Array));
    expect(Buffer.byteLength(body, 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(message.truncated).toBe(truncated);
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
    expect(message.payloadBytes).toBe(size);
    expect(message.payloadSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('terminates and fits even when the key alone is over the limit', () => {
    const huge = 'k'.repeat(1_100_000);
    const { message, body } = encodeDeadLetter({ ...rejection('{}'), reason: 'late', key: huge, feature: 'f' });
    expect(Buffer.byteLength(body, 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(message).toMatchObject({ truncated: true, payloadBytes: 2 });
    expect(message.key).toHaveLength(1_000);
  });

  it('keeps a small payload whole and as text', () => {
    const { message } = encodeDeadLetter(rejection('{"user":"u"}'));
    expect(message).toMatchObject({ payload: '{"user":"u"}', payloadEncoding: 'utf8', truncated: false, payloadBytes: 12 });
  });

  it('escapes U+FFFE and U+FFFF always, characters above U+FFFF on request, and denotes the same value', () => {
    const value = { a: 'x\ufffe\uffff\u{1f600}\u{10ffff}\ud7ff\ue000\ufffd' };
    const plain = sqsSafeJson(JSON.stringify(value));
    expect(plain).not.toMatch(/[\ufffe\uffff]/);
    expect(plain).toContain('\u{1f600}');
    const escaped = sqsSafeJson(JSON.stringify(value), true);
    expect(escaped).toMatch(/^[\t\n\r\x20-\ud7ff\ue000-\ufffd]*$/);
    expect(JSON.parse(plain)).toEqual(value);
    expect(JSON.parse(escaped)).toEqual(value);
  });
});

describe("the labels consumer's dead letters", () => {
  it("say so, and are neither deduplicated against the feature stream's nor stored over their payloads", async () => {
    const emulators = await workerEmulators();
    const saved = { ...process.env };
    Object.assign(process.env, emulators.env());
    try {
      const sqs = sqsClient();
      const queueUrl = (await sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `dl-source-${Date.now() % 100000}`)))).QueueUrl!;
      const puts: string[] = [];
      const payloads = { bucket: 'b', pipeline: 'p', put: async (key: string) => void puts.push(key) };
      // The same shard id and sequence number on both streams.
      const big = rejection('x'.repeat(1_100_000));
      await new DeadLetterSender({ client: sqs, queueUrl, payloads }).send([big]);
      await new DeadLetterSender({ client: sqs, queueUrl, payloads, source: 'labels' }).send([big]);
      const got: DeadLetterMessage[] = [];
      for (let i = 0; i < 5 && got.length < 2; i++) {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        got.push(...(res.Messages ?? []).map((m) => JSON.parse(m.Body!) as DeadLetterMessage));
      }
      // SQS dropped neither as a duplicate of the other.
      expect(got.map((m) => m.source ?? 'events').sort()).toEqual(['events', 'labels']);
      expect(new Set(puts).size).toBe(2);
      expect(got.find((m) => m.source === 'labels')!.payloadObject!.key).toContain('/p/labels/');
    } finally {
      process.env = saved;
    }
  });
});
