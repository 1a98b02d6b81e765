/**
 * The replay input line (docs/replay.md): `{"arrivalTime": <ms>, "data": "<payload string>", "shard": "<id>"}`.
 * A line that is not JSON (or not this envelope) is an input error; a payload that is not valid JSON is merely an
 * invalid record, judged later by the engine.
 */
import type { InputRecord } from './engine';

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

export function parseInputLine(text: string, line: number): InputRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputLineError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputLineError(line, 'must be a JSON object');
  const o = doc as Record<string, unknown>;
  const data = o.data;
  if (typeof data !== 'string') throw new InputLineError(line, '"data" must be a string holding the record payload');
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
