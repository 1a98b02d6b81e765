import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PAYLOAD_BYTES, type DecodeResult, type DecodedRecord, RecordDecoder, parseEventTime } from '../../../lambda/core/record';
import { makeSpec } from '../../support/engine-harness';

const spec = makeSpec({
  features: [
    { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
    { name: 'spend', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
    { name: 'peak', window: { type: 'session', gapMs: 10 }, aggregate: 'max', field: 'score' },
  ],
});
const decoder = new RecordDecoder(spec);

function ok(r: DecodeResult): DecodedRecord {
  if (!r.ok) throw new Error(`expected a valid record, got: ${r.message}`);
  return r.record;
}

function rejected(r: DecodeResult): string {
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.record)}`);
  return r.message;
}

const decode = (doc: unknown): DecodeResult => decoder.decode(typeof doc === 'string' ? doc : JSON.stringify(doc));
const base = { user: 'u1', ts: 1000, amount: 5, score: 2 };

describe('parseEventTime', () => {
  it('takes epoch milliseconds as they are, including negative and fractional-free zero', () => {
    expect(parseEventTime(1700000000123)).toBe(1700000000123);
    expect(parseEventTime(0)).toBe(0);
    expect(parseEventTime(-86400000)).toBe(-86400000);
  });

  it.each([
    ['2024-03-15T10:00:00Z', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15T10:00:00.250Z', Date.UTC(2024, 2, 15, 10, 0, 0, 250)],
    ['2024-03-15T12:00:00+02:00', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15T05:30:00-04:30', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15T12:00:00+0200', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15T10:00:00', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15T10:00', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15 10:00:00', Date.UTC(2024, 2, 15, 10, 0, 0)],
    ['2024-03-15', Date.UTC(2024, 2, 15)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['1969-12-31T23:59:59.999Z', -1],
  ])('parses the ISO-8601 string %s', (text, expected) => {
    expect(parseEventTime(text)).toBe(expected);
  });

  it('reads a string without offset as UTC whatever the process time zone', () => {
    // Both forms must agree with the explicit Z form.
    expect(parseEventTime('2024-07-01T00:00:00')).toBe(parseEventTime('2024-07-01T00:00:00Z'));
    expect(parseEventTime('2024-07-01')).toBe(parseEventTime('2024-07-01T00:00:00Z'));
  });

  it.each([
    ['yesterday'],
    ['1700000000000'],
    [''],
    ['2024-13-01'],
    ['2024-03-15T25:00:00Z'],
    ['15/03/2024'],
    ['2024-03-15T10:00:00Zjunk'],
  ])('rejects the string %j', (text) => {
    expect(parseEventTime(text)).toBeUndefined();
  });

  it('rejects numbers outside the Date range and values of other types', () => {
    expect(parseEventTime(1e20)).toBeUndefined();
    expect(parseEventTime(-1e20)).toBeUndefined();
    expect(parseEventTime(8.64e15)).toBe(8.64e15);
    expect(parseEventTime(8.64e15 + 1)).toBeUndefined();
    expect(parseEventTime(Number.NaN)).toBeUndefined();
    expect(parseEventTime(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseEventTime(null)).toBeUndefined();
    expect(parseEventTime(true)).toBeUndefined();
    expect(parseEventTime({ ms: 5 })).toBeUndefined();
    expect(parseEventTime([1000])).toBeUndefined();
  });

  // ISO-8601 allows a time-zone designator of hours only (±hh); the decoder's own pattern admits it.
  it('accepts an hours-only offset like +02', () => {
    expect(parseEventTime('2024-03-15T12:00:00+02')).toBe(Date.UTC(2024, 2, 15, 10, 0, 0));
  });

  // The pattern is case-insensitive, so the reading must be too: a lowercase t is no local time.
  it('reads a lowercase t and z as their uppercase forms, with or without an offset', () => {
    expect(parseEventTime('2026-01-05t08:00:00')).toBe(Date.UTC(2026, 0, 5, 8, 0, 0));
    expect(parseEventTime('2026-01-05t08:00:00+05')).toBe(Date.UTC(2026, 0, 5, 3, 0, 0));
    expect(parseEventTime('2026-01-05t08:00:00.5z')).toBe(Date.UTC(2026, 0, 5, 8, 0, 0, 500));
    expect(parseEventTime('2026-01-05t08:00-0130')).toBe(Date.UTC(2026, 0, 5, 9, 30, 0));
  });

  // A calendar date that does not exist is not an ISO-8601 date; it must not silently become another day.
  it.each([['2023-02-29'], ['2024-04-31T10:00:00Z'], ['2024-02-30']])('rejects the non-existent date %s', (text) => {
    expect(parseEventTime(text)).toBeUndefined();
  });
});

describe('RecordDecoder: valid records', () => {
  it('decodes key, time, id and one value per feature in spec order (0 for count)', () => {
    expect(ok(decode({ ...base, id: 'e-1' }))).toEqual({ key: 'u1', time: 1000, id: 'e-1', values: [0, 5, 2] });
  });

  it('accepts ISO-8601 times', () => {
    expect(ok(decode({ ...base, ts: '1970-01-01T00:00:01Z' })).time).toBe(1000);
    expect(ok(decode({ ...base, ts: '1970-01-01T01:00:01+01:00' })).time).toBe(1000);
  });

  it('accepts a finite number as key and stringifies it: 42 and "42" are the same entity', () => {
    expect(ok(decode({ ...base, user: 42 })).key).toBe('42');
    expect(ok(decode({ ...base, user: '42' })).key).toBe('42');
    expect(ok(decode({ ...base, user: 0 })).key).toBe('0');
  });

  it('accepts a payload given as UTF-8 bytes', () => {
    expect(ok(decoder.decode(new TextEncoder().encode(JSON.stringify({ ...base, user: 'zoë' })))).key).toBe('zoë');
  });

  it('ignores fields no feature uses, and a count feature needs no field', () => {
    const countOnly = new RecordDecoder(makeSpec());
    expect(ok(countOnly.decode(JSON.stringify({ user: 'a', ts: 1, note: 'x' })))).toEqual({ key: 'a', time: 1, id: undefined, values: [0] });
  });

  it('stringifies numeric ids; a record without its id is not de-duplicated', () => {
    expect(ok(decode({ ...base, id: 7 })).id).toBe('7');
    expect(ok(decode(base)).id).toBeUndefined();
  });

  it('does not read the id when the spec names no idField', () => {
    const noId = new RecordDecoder(makeSpec({ source: { keyField: 'user', timeField: 'ts' } }));
    expect(ok(noId.decode(JSON.stringify({ user: 'a', ts: 1, id: 'x' }))).id).toBeUndefined();
  });
});

describe('RecordDecoder: invalid records name the field at fault', () => {
  it.each([
    ['a string', '"hello"', /must be a JSON object, got string/],
    ['a number', '12', /must be a JSON object, got number/],
    ['null', 'null', /must be a JSON object, got null/],
    ['an array', '[{"user":"u1","ts":1}]', /must be a JSON object, got an array/],
    ['not JSON', '{user: u1}', /not valid JSON/],
    ['empty', '', /not valid JSON/],
  ])('payload that is %s', (_what, text, expected) => {
    expect(rejected(decoder.decode(text))).toMatch(expected);
  });

  it.each([
    ['missing', { ts: 1, amount: 1, score: 1 }, /^user is missing$/],
    ['empty', { ...base, user: '' }, /^user .* got the string ""/],
    ['null', { ...base, user: null }, /^user .* got null/],
    ['boolean', { ...base, user: true }, /^user .* got a boolean/],
    ['object', { ...base, user: { id: 1 } }, /^user .* got an object/],
    ['array', { ...base, user: ['u1'] }, /^user .* got an array/],
  ])('key %s', (_what, doc, expected) => {
    expect(rejected(decode(doc))).toMatch(expected);
  });

  it('rejects a key that is a non-finite number written in JSON (overflowing literal)', () => {
    expect(rejected(decoder.decode('{"user": 1e400, "ts": 1, "amount": 1, "score": 1}'))).toMatch(/^user .* got Infinity/);
  });

  it.each([
    ['missing', { user: 'u', amount: 1, score: 1 }, /^ts is missing$/],
    ['absurd number', { ...base, ts: 1e20 }, /^ts must be .*got 100000000000000000000/],
    ['words', { ...base, ts: 'yesterday' }, /^ts must be .*got the string "yesterday"/],
    ['numeric string', { ...base, ts: '1000' }, /^ts must be .*got the string "1000"/],
    ['null', { ...base, ts: null }, /^ts must be .*got null/],
    ['object', { ...base, ts: { $date: 1 } }, /^ts must be .*got an object/],
  ])('time %s', (_what, doc, expected) => {
    expect(rejected(decode(doc))).toMatch(expected);
  });

  it('truncates a long offending string in the message', () => {
    const message = rejected(decode({ ...base, ts: 'x'.repeat(500) }));
    expect(message).toContain('x'.repeat(40));
    expect(message).not.toContain('x'.repeat(41));
  });

  it.each([
    ['missing', { user: 'u', ts: 1, score: 1 }, /^amount is missing$/],
    ['a numeric string', { ...base, amount: '5' }, /^amount must be a finite number, got the string "5"/],
    ['null', { ...base, amount: null }, /^amount must be a finite number, got null/],
    ['a boolean', { ...base, amount: false }, /^amount must be a finite number, got a boolean/],
  ])('aggregated field %s', (_what, doc, expected) => {
    expect(rejected(decode(doc))).toMatch(expected);
  });

  it('carries the key of a record rejected after its key parsed, and no key when the key itself is at fault', () => {
    const later = decode({ ...base, amount: '12,50' });
    expect(later).toEqual({ ok: false, message: 'amount must be a finite number, got the string "12,50"', key: base.user });
    expect(decode({ ...base, ts: 'yesterday' })).toMatchObject({ ok: false, key: base.user });
    expect(decode({ ...base, user: null })).not.toHaveProperty('key');
  });

  it('checks the field of every feature, not only the first', () => {
    expect(rejected(decode({ ...base, score: 'high' }))).toMatch(/^score must be a finite number/);
  });

  it('does not read fields through the prototype: a "__proto__" object holding the fields is rejected', () => {
    const message = rejected(decoder.decode('{"__proto__": {"user": "u1", "ts": 1, "amount": 1, "score": 1}}'));
    expect(message).toBe('user is missing');
  });

  it('does not take a key field that exists only on Object.prototype', () => {
    const byConstructor = new RecordDecoder(makeSpec({ source: { keyField: 'constructor', timeField: 'ts' } }));
    expect(rejected(byConstructor.decode(JSON.stringify({ ts: 1 })))).toBe('constructor is missing');
    const byToString = new RecordDecoder(makeSpec({ source: { keyField: 'user', timeField: 'toString' } }));
    expect(rejected(byToString.decode(JSON.stringify({ user: 'a' })))).toBe('toString is missing');
    // An own property with that name is fine.
    expect(ok(byConstructor.decode(JSON.stringify({ constructor: 'c1', ts: 1 }))).key).toBe('c1');
  });

  it('accepts a "__proto__" key field only as an own property, without touching the prototype chain', () => {
    const protoKeyed = new RecordDecoder(makeSpec({ source: { keyField: '__proto__', timeField: 'ts' } }));
    expect(ok(protoKeyed.decode('{"__proto__": "k9", "ts": 5}')).key).toBe('k9');
    expect(rejected(protoKeyed.decode('{"__proto__": {"polluted": true}, "ts": 5}'))).toMatch(/^__proto__ .* got an object/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects a payload over 256 KiB before parsing, stating its size', () => {
    const pad = 'x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES);
    const text = JSON.stringify({ ...base, pad });
    const size = Buffer.byteLength(text);
    expect(size).toBeGreaterThan(DEFAULT_MAX_PAYLOAD_BYTES);
    expect(rejected(decoder.decode(text))).toBe(`payload is ${size} bytes, over the 262144-byte limit`);
    expect(rejected(decoder.decode(Buffer.from(text)))).toContain(`payload is ${size} bytes`);
  });

  it('counts bytes, not characters, against the limit', () => {
    // 100 000 three-byte characters: 300 000 bytes, under 262 144 characters.
    const text = JSON.stringify({ ...base, pad: '€'.repeat(100_000) });
    expect(text.length).toBeLessThan(DEFAULT_MAX_PAYLOAD_BYTES);
    expect(rejected(decoder.decode(text))).toMatch(/^payload is \d+ bytes, over the 262144-byte limit/);
  });

  it('accepts a payload of exactly the limit, and honours a custom limit', () => {
    const head = JSON.stringify({ ...base, pad: '' });
    const text = JSON.stringify({ ...base, pad: 'y'.repeat(DEFAULT_MAX_PAYLOAD_BYTES - head.length) });
    expect(Buffer.byteLength(text)).toBe(DEFAULT_MAX_PAYLOAD_BYTES);
    expect(ok(decoder.decode(text)).key).toBe('u1');
    const small = new RecordDecoder(spec, 64);
    expect(rejected(small.decode(JSON.stringify({ ...base, pad: 'z'.repeat(64) })))).toMatch(/over the 64-byte limit/);
  });

  it('does not throw on deeply nested JSON', () => {
    const open = '['.repeat(100_000);
    expect(() => decoder.decode(open)).not.toThrow();
    expect(rejected(decoder.decode(open))).toMatch(/not valid JSON/);
    const balanced = open + ']'.repeat(100_000);
    expect(() => decoder.decode(balanced)).not.toThrow();
    expect(decoder.decode(balanced).ok).toBe(false);
    const nestedInObject = `{"user":"u","ts":1,"amount":1,"score":1,"deep":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`;
    expect(() => decoder.decode(nestedInObject)).not.toThrow();
  });

  it('rejects bytes that are not valid UTF-8', () => {
    const good = Buffer.from(JSON.stringify({ ...base, user: 'ab' }));
    const bad = Buffer.concat([good.subarray(0, 9), Buffer.from([0xff, 0xfe]), good.subarray(9)]);
    expect(rejected(decoder.decode(bad))).toBe('payload is not valid UTF-8');
    expect(rejected(decoder.decode(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])))).toBe('payload is not valid UTF-8');
  });

  // A payload string is text only if it has a UTF-8 form; the bytes a lone surrogate would take are refused too.
  it('rejects a payload string holding a lone UTF-16 surrogate as not UTF-8, like its bytes', () => {
    expect(rejected(decoder.decode(`{"user":"\ud800","ts":1,"amount":1,"score":1}`))).toBe('payload is not valid UTF-8');
    expect(rejected(decoder.decode(`{"user":"a","ts":1,"amount":1,"score":1}\udc00`))).toBe('payload is not valid UTF-8');
    expect(rejected(decoder.decode(Buffer.from('7b2275736572223a22eda080227d', 'hex')))).toBe('payload is not valid UTF-8');
    expect(ok(decoder.decode(`{"user":"\ud83d\ude00","ts":1,"amount":1,"score":1}`)).key).toBe('\u{1f600}');
  });

  it('rejects a key escaping a lone surrogate: DynamoDB would store it as U+FFFD and merge keys', () => {
    expect(rejected(decode('{"user":"a\\udc00","ts":1,"amount":1,"score":1}'))).toBe('user must be Unicode text, got a string holding a lone UTF-16 surrogate');
    expect(ok(decode('{"user":"\\ud83d\\ude00","ts":1,"amount":1,"score":1}')).key).toBe('\u{1f600}');
  });

  it('accepts keys of up to 1,024 bytes of UTF-8 and rejects longer ones, counting bytes', () => {
    expect(ok(decode({ ...base, user: 'x'.repeat(1024) })).key).toHaveLength(1024);
    expect(ok(decode({ ...base, user: 'é'.repeat(512) })).key).toHaveLength(512);
    expect(rejected(decode({ ...base, user: 'é'.repeat(512) + 'x' }))).toBe('user must be at most 1024 bytes of UTF-8, got 1025 bytes');
    expect(rejected(decode({ ...base, user: 'x'.repeat(2049) }))).toBe('user must be at most 1024 bytes of UTF-8, got 2049 bytes');
  });

  it('accepts producer ids of up to 960 bytes of UTF-8 and rejects longer ones, naming the field (a prediction key holds key and id)', () => {
    const withId = new RecordDecoder(makeSpec({ source: { keyField: 'user', timeField: 'ts', idField: 'id' } }));
    expect(ok(withId.decode(JSON.stringify({ ...base, id: 'x'.repeat(960) }))).id).toHaveLength(960);
    expect(rejected(withId.decode(JSON.stringify({ ...base, id: 'é'.repeat(480) + 'x' })))).toBe('id must be at most 960 bytes of UTF-8, got 961 bytes');
    expect(rejected(withId.decode(JSON.stringify({ ...base, id: 'x'.repeat(3000) })))).toBe('id must be at most 960 bytes of UTF-8, got 3000 bytes');
  });

  it('rejects values at or beyond 1e126 in magnitude (sums must stay finite) and keeps tiny ones', () => {
    expect(rejected(decode({ ...base, amount: 1e126 }))).toBe("amount must be a number of magnitude below 1e126 (DynamoDB's number range), got 1e+126");
    expect(rejected(decode({ ...base, score: -1e300 }))).toBe("score must be a number of magnitude below 1e126 (DynamoDB's number range), got -1e+300");
    expect(ok(decode({ ...base, amount: 9.999999999999998e125 })).values[1]).toBe(9.999999999999998e125);
    expect(ok(decode({ ...base, amount: 1e-200, ts: 5e-324 })).values[1]).toBe(1e-200);
  });
});
