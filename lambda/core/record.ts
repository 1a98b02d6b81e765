/**
 * Record decoding and validation (docs/semantics.md §2). Untrusted payloads are parsed defensively: size-capped, only own
 * properties read (so `__proto__` or `constructor` keys cannot masquerade as fields), and every rejection names
 * the field at fault.
 */
import { hash53 } from './aggregates/hash';
import type { PipelineSpec } from './spec';

/** Payloads above this are rejected before parsing. Kinesis allows larger records; features never need them. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
/** ECMAScript Date range: anything outside is not a real instant. */
const MAX_ABS_TIME_MS = 8.64e15;
/**
 * Longest key, in UTF-8 bytes. A key is part of DynamoDB item keys (`entity#<key>`, the feature table's `pk`),
 * limited to 2,048 bytes, and is stored in the key's items beside its window state and id memory, which must
 * stay within DynamoDB's 400 KB item size.
 */
export const MAX_KEY_BYTES = 1024;
/**
 * Longest producer id (idField), in UTF-8 bytes. With scoring, the key and the id make a prediction's partition
 * key (`prediction#<key length>:<key>/<id>`), which DynamoDB limits to 2,048 bytes: 1,024 + 960 and the rest fit.
 */
export const MAX_ID_BYTES = 960;
/**
 * A feature's value must be smaller in magnitude than this, the top of DynamoDB's number range: sums of such
 * values never overflow to Infinity, which neither JSON nor DynamoDB can hold. Smaller results beyond DynamoDB's
 * range (a sum over 1e126, a value under 1e-130) are stored as text by the adapters.
 */
export const MAX_ABS_VALUE = 1e126;
const ISO_8601 =
  /^[+-]?\d{4,6}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const HAS_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

export interface DecodedRecord {
  /** Entity key, compared as a string: 42 and "42" are the same entity. */
  readonly key: string;
  /** Event time, epoch milliseconds. */
  readonly time: number;
  /** Producer event id (idField), when the spec names one and the record carries a string or number. */
  readonly id: string | undefined;
  /**
   * Value aggregated by each feature, in spec order: the field's number; for `distinct`, a 53-bit hash of the
   * field as a string (so 42 and "42" are one value); 0 for `count`.
   */
  readonly values: readonly number[];
}

export type DecodeResult =
  | { readonly ok: true; readonly record: DecodedRecord }
  /** `key` is set when the key parsed and a later field was at fault, so the rejection names its entity. */
  | { readonly ok: false; readonly message: string; readonly key?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NOT_UTF8 = 'payload is not valid UTF-8';

function own(o: Record<string, unknown>, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `the string "${v.slice(0, 40)}…"` : `the string "${v}"`;
  if (typeof v === 'number') return String(v);
  return `a ${Array.isArray(v) ? 'array' : typeof v}`;
}

/** Parses the time field: epoch-ms number or ISO-8601 string (no offset means UTC). */
export function parseEventTime(v: unknown): number | undefined {
  let t: number;
  if (typeof v === 'number') {
    t = v;
  } else if (typeof v === 'string' && ISO_8601.test(v.trim())) {
    // The pattern accepts a lowercase t and z; Date.parse and the offset rules below want them uppercase.
    let s = v.trim().toUpperCase().replace(' ', 'T').replace(',', '.');
    if (!validCalendarDate(s)) return undefined;
    if (s.includes('T')) s = s.replace(/([+-]\d{2})$/, '$1:00'); // ±hh → ±hh:mm, which Date.parse requires
    t = Date.parse(HAS_OFFSET.test(s) || !s.includes('T') ? s : `${s}Z`);
  } else {
    return undefined;
  }
  return Number.isFinite(t) && Math.abs(t) <= MAX_ABS_TIME_MS ? t : undefined;
}

/** Date.parse rolls 2023-02-29 over to March 1st; a date that does not exist is refused instead. */
function validCalendarDate(s: string): boolean {
  const m = /^([+-]?\d{4,6})-(\d{2})-(\d{2})/.exec(s);
  if (!m) return false;
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), month, 0); // day 0 of the next month: the last day of this one
  return day <= d.getUTCDate();
}

export class RecordDecoder {
  private readonly keyField: string;
  private readonly timeField: string;
  private readonly idField: string | undefined;
  private readonly fields: readonly (string | undefined)[];
  /** Per feature: its field is compared as a string (distinct) rather than read as a number. */
  private readonly distinct: readonly boolean[];

  public constructor(
    spec: PipelineSpec,
    private readonly maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
  ) {
    this.keyField = spec.source.keyField;
    this.timeField = spec.source.timeField;
    this.idField = spec.source.idField;
    this.fields = spec.features.map((f) => (f.aggregate === 'count' ? undefined : f.field));
    this.distinct = spec.features.map((f) => f.aggregate === 'distinct');
  }

  public decode(payload: string | Uint8Array): DecodeResult {
    // A UTF-16 unit takes at most 3 UTF-8 bytes: short strings need no exact count.
    const size = typeof payload !== 'string' ? payload.byteLength : payload.length * 3 <= this.maxPayloadBytes ? 0 : Buffer.byteLength(payload, 'utf8');
    if (size > this.maxPayloadBytes) {
      return { ok: false, message: `payload is ${size} bytes, over the ${this.maxPayloadBytes}-byte limit` };
    }
    let text: string;
    try {
      text = typeof payload === 'string' ? payload : utf8.decode(payload);
    } catch {
      return { ok: false, message: NOT_UTF8 };
    }
    // A string holding a lone UTF-16 surrogate has no UTF-8 form: judged as the bytes that would carry it.
    if (typeof payload === 'string' && !payload.isWellFormed()) return { ok: false, message: NOT_UTF8 };
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { ok: false, message: `payload is not valid JSON: ${(e as Error).message}` };
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return { ok: false, message: `payload must be a JSON object, got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}` };
    }
    const o = doc as Record<string, unknown>;

    const rawKey = own(o, this.keyField);
    let key: string;
    if (typeof rawKey === 'string' && rawKey.length > 0) key = rawKey;
    else if (typeof rawKey === 'number' && Number.isFinite(rawKey)) key = String(rawKey);
    else return { ok: false, message: rawKey === undefined ? `${this.keyField} is missing` : `${this.keyField} must be a non-empty string or a finite number, got ${describe(rawKey)}` };
    // An escaped lone surrogate ("\ud800") is valid JSON but no Unicode text: DynamoDB would store it as U+FFFD
    // and merge distinct keys.
    if (!key.isWellFormed()) return { ok: false, message: `${this.keyField} must be Unicode text, got a string holding a lone UTF-16 surrogate` };
    // A UTF-16 unit takes at most 3 UTF-8 bytes: short keys need no exact count.
    const keyBytes = key.length * 3 <= MAX_KEY_BYTES ? 0 : Buffer.byteLength(key, 'utf8');
    if (keyBytes > MAX_KEY_BYTES) return { ok: false, message: `${this.keyField} must be at most ${MAX_KEY_BYTES} bytes of UTF-8, got ${keyBytes} bytes` };

    const rawTime = own(o, this.timeField);
    const time = parseEventTime(rawTime);
    if (time === undefined) {
      return {
        ok: false,
        message: rawTime === undefined ? `${this.timeField} is missing` : `${this.timeField} must be epoch milliseconds or an ISO-8601 date-time within ±8.64e15 ms, got ${describe(rawTime)}`,
        key,
      };
    }

    const values: number[] = [];
    for (let i = 0; i < this.fields.length; i++) {
      const field = this.fields[i];
      if (field === undefined) {
        values.push(0);
        continue;
      }
      const v = own(o, field);
      if (this.distinct[i]) {
        if (typeof v === 'string' && v.length > 0) values.push(hash53(v));
        else if (typeof v === 'number' && Number.isFinite(v)) values.push(hash53(String(v)));
        else return { ok: false, message: `${field} must be a non-empty string or a finite number, got ${describe(v)}` };
        continue;
      }
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return { ok: false, message: v === undefined ? `${field} is missing` : `${field} must be a finite number, got ${describe(v)}`, key };
      }
      if (v >= MAX_ABS_VALUE || v <= -MAX_ABS_VALUE) {
        return { ok: false, message: `${field} must be a number of magnitude below 1e126 (DynamoDB's number range), got ${v}` };
      }
      values.push(v);
    }

    let id: string | undefined;
    if (this.idField !== undefined) {
      const rawId = own(o, this.idField);
      if (typeof rawId === 'string' && rawId.length > 0) id = rawId;
      else if (typeof rawId === 'number' && Number.isFinite(rawId)) id = String(rawId);
      // A UTF-16 unit takes at most 3 UTF-8 bytes: short ids need no exact count.
      const idBytes = id === undefined || id.length * 3 <= MAX_ID_BYTES ? 0 : Buffer.byteLength(id, 'utf8');
      if (idBytes > MAX_ID_BYTES) return { ok: false, message: `${this.idField} must be at most ${MAX_ID_BYTES} bytes of UTF-8, got ${idBytes} bytes`, key };
    }
    return { ok: true, record: { key, time, id, values } };
  }
}
