/**
 * The replay input line (docs/replay.md): `{"arrivalTime": <ms>, "data": "<payload string>", "shard": "<id>"}`.
 * A line that is not JSON (or not this envelope) is an input error; a payload that is not valid JSON is merely an
 * invalid record, judged later by the engine.
 *
 * The flat format (`--flat`): each line is the payload itself, kept as `data` byte for byte, on one shard, its
 * arrival time read from a field of the payload (by default the spec's time field: arrival = event time).
 * Every reader of records files (the replay's reader thread, the file run, the training set, the backfill) parses
 * lines with `inputLineParser`.
 */
import type { InputRecord } from './engine';
import { parseEventTime } from './record';
import type { SourceSpec, TimeUnit } from './spec';

/** How the lines of a records file are read: the replay's envelope (the default), or one payload per line. */
export type InputFormat = { readonly kind: 'wrapped' } | { readonly kind: 'flat'; readonly arrivalField: string };

export const WRAPPED: InputFormat = { kind: 'wrapped' };

/** Shard id used when a line names none: the id Kinesis gives the first shard of a stream. */
export const DEFAULT_SHARD = 'shardId-000000000000';

export class InputLineError extends Error {
  public constructor(
    public readonly line: number,
    public readonly detail: string,
  ) {
    super(`input line ${line}: ${detail}`);
    this.name = 'InputLineError';
  }
}

/** `source`, when given, lets the error on a line without the envelope name the fix (`--flat`). */
export function parseInputLine(text: string, line: number, source?: SourceSpec): InputRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputLineError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputLineError(line, 'must be a JSON object');
  const o = doc as Record<string, unknown>;
  const data = o.data;
  if (typeof data !== 'string') {
    const flat = source !== undefined && data === undefined && source.keyField in o;
    throw new InputLineError(line, `"data" must be a string holding the record payload${flat ? flatHint(text, o, source) : ''}`);
  }
  const arrival = o.arrivalTime;
  if (arrival !== undefined && (typeof arrival !== 'number' || !Number.isFinite(arrival))) {
    throw new InputLineError(line, '"arrivalTime" must be epoch milliseconds');
  }
  const shard = o.shard;
  if (shard !== undefined && (typeof shard !== 'string' || shard.length === 0)) {
    throw new InputLineError(line, '"shard" must be a non-empty string');
  }
  // One object shape whether or not the line has an arrival time (no spread: this runs once per input line).
  return { data, shard: shard ?? DEFAULT_SHARD, seq: String(line), arrivalTime: arrival };
}

/** Longest line quoted whole in the hint of a flat-looking line. */
const HINT_LINE_CHARS = 300;

/** The fix for a line that is a payload without the envelope. */
function flatHint(text: string, o: Record<string, unknown>, source: SourceSpec): string {
  const payload = text.length <= HINT_LINE_CHARS ? text.trim() : JSON.stringify(Object.fromEntries(Object.entries(o).slice(0, 4)));
  const arrivalTime = parseEventTime(o[source.timeField], source.timeUnit) ?? 1700000000000;
  return `; this line looks like a flat event (the payload itself, no envelope): give --flat to read each line as the payload, its arrival time from --arrival-field NAME (default the spec's timeField), or wrap each line as ${JSON.stringify({ arrivalTime, data: payload })}`;
}

/**
 * A flat line: the line is the payload (`data`, kept as read), on the default shard, its arrival time the
 * `arrivalField` of the payload read as the spec reads its time field (`timeUnit`; ISO-8601 strings in every
 * unit). A line that is not a JSON object, or whose arrival field is missing or not a time, has no arrival time;
 * the engine judges its payload as any other.
 */
export function parseFlatLine(text: string, line: number, arrivalField: string, timeUnit: TimeUnit = 'ms'): InputRecord {
  let arrival: number | undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) arrival = parseEventTime((doc as Record<string, unknown>)[arrivalField], timeUnit);
  return { data: text, shard: DEFAULT_SHARD, seq: String(line), arrivalTime: arrival };
}

/** The parser of one line of a records file in `format`, for the spec's source (its key field names a flat line). */
export function inputLineParser(format: InputFormat, source: SourceSpec): (text: string, line: number) => InputRecord {
  if (format.kind === 'flat') {
    const { arrivalField } = format;
    const unit = source.timeUnit ?? 'ms';
    return (text, line) => parseFlatLine(text, line, arrivalField, unit);
  }
  return (text, line) => parseInputLine(text, line, source);
}
