import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, encodeDeadLetter, sqsSafeJson } from '../../../lambda/adapters/dead-letters';
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
