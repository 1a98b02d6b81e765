/**
 * Hostile payloads the decoder must name precisely: a byte-order mark, producer ids of the wrong type, values of
 * the wrong type for every aggregate, the last instant of the Date range in both forms, and a KPL aggregate that
 * does not decode. The decoder is shared by the consumer, the replay and the sandbox, so these verdicts hold in
 * every path (test/e2e/hostile-records.test.ts runs them through both).
 */
import { describe, expect, it } from 'vitest';
import { type DecodeResult, RecordDecoder, parseEventTime } from '../../../lambda/core/record';
import { makeSpec } from '../../support/engine-harness';

const spec = makeSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  features: [
    { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
    { name: 'spend', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
    { name: 'shops', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'distinct', field: 'shop' },
  ],
});
const decoder = new RecordDecoder(spec);
const base = { user: 'u1', ts: 1000, amount: 5, shop: 's', id: 'e1' };

function rejection(r: DecodeResult): { message: string; key?: string } {
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.record)}`);
  return r.key === undefined ? { message: r.message } : { message: r.message, key: r.key };
}

describe('RecordDecoder: hostile records', () => {
  it('rejects a leading byte-order mark by name, as text and as bytes alike', () => {
    const text = `\ufeff${JSON.stringify(base)}`;
    const expected = { message: 'payload starts with a byte-order mark (U+FEFF), which JSON text must not' };
    expect(rejection(decoder.decode(text))).toEqual(expected);
    expect(rejection(decoder.decode(Buffer.from(text, 'utf8')))).toEqual(expected);
    // Inside a string value it is an ordinary character.
    expect(decoder.decode(JSON.stringify({ ...base, user: '\ufeffu' })).ok).toBe(true);
  });

  it.each([
    [true, 'a boolean'],
    [{}, 'an object'],
    ['', 'the string ""'],
    [null, 'null'],
    [[1], 'an array'],
    [Number.MAX_VALUE * 10, 'null'], // JSON.stringify writes Infinity as null
  ])('rejects the producer id %j as invalid, naming field, value and key', (id, described) => {
    expect(rejection(decoder.decode(JSON.stringify({ ...base, id })))).toEqual({ message: `id must be a non-empty string or a finite number, got ${described}`, key: 'u1' });
  });

  it('still takes a record without its id (no de-duplication for it)', () => {
    const { id: _, ...noId } = base;
    const r = decoder.decode(JSON.stringify(noId));
    expect(r.ok && r.record.id).toBeUndefined();
  });

  it('names arrays with "an", a missing distinct field as missing, and carries the key in every field rejection', () => {
    expect(rejection(decoder.decode(JSON.stringify({ ...base, amount: [1] })))).toEqual({ message: 'amount must be a finite number, got an array', key: 'u1' });
    const { shop: _, ...noShop } = base;
    expect(rejection(decoder.decode(JSON.stringify(noShop)))).toEqual({ message: 'shop is missing', key: 'u1' });
    expect(rejection(decoder.decode(JSON.stringify({ ...base, shop: [] })))).toEqual({ message: 'shop must be a non-empty string or a finite number, got an array', key: 'u1' });
    expect(rejection(decoder.decode(JSON.stringify({ ...base, amount: 1e126 })))).toEqual({
      message: "amount must be a number of magnitude below 1e126 (DynamoDB's number range), got 1e+126",
      key: 'u1',
    });
    expect(rejection(decoder.decode(JSON.stringify({ ...base, ts: [] })))).toMatchObject({ message: expect.stringContaining('got an array') as string });
  });

  it('accepts the ends of the Date range in ISO form as it does as numbers, and refuses one past them', () => {
    expect(parseEventTime('+275760-09-13T00:00:00.000Z')).toBe(8.64e15);
    expect(parseEventTime('+275760-09-13')).toBe(8.64e15);
    expect(parseEventTime('-271821-04-20T00:00:00Z')).toBe(-8.64e15);
    expect(parseEventTime('+275760-09-13T00:00:00.001Z')).toBeUndefined();
    expect(parseEventTime('-271821-04-19T23:59:59.999Z')).toBeUndefined();
    // Calendar checks without a Date: leap days in far years, no 31st of April.
    expect(parseEventTime('+200100-02-29')).toBeUndefined();
    expect(parseEventTime('+200400-02-29')).toBe(Date.UTC(200400, 1, 29));
    expect(parseEventTime('2000-02-29')).toBe(Date.UTC(2000, 1, 29));
    expect(parseEventTime('1900-02-29')).toBeUndefined();
    expect(parseEventTime('2024-04-31')).toBeUndefined();
  });

  it('names a KPL aggregate that does not decode, instead of calling it not UTF-8', () => {
    const bad = Buffer.concat([Buffer.from('f3899ac2', 'hex'), Buffer.from('0a0170120f0800100a1a09', 'hex'), Buffer.alloc(16, 7)]);
    expect(rejection(decoder.decode(bad)).message).toBe('payload is a Kinesis Producer Library aggregate that does not decode (bad MD5 checksum or protobuf)');
    expect(rejection(decoder.decode(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).message).toBe('payload is not valid UTF-8');
  });
});
