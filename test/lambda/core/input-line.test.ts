import { describe, expect, it } from 'vitest';
import { DEFAULT_SHARD, InputLineError, parseInputLine } from '../../../lambda/core/input-line';

function lineError(text: string, line: number): InputLineError {
  try {
    parseInputLine(text, line);
  } catch (e) {
    expect(e).toBeInstanceOf(InputLineError);
    return e as InputLineError;
  }
  throw new Error('line was accepted');
}

describe('parseInputLine', () => {
  it('reads data, arrival time and shard; the sequence number is the line number', () => {
    expect(parseInputLine('{"arrivalTime": 1700000000000, "data": "{\\"a\\":1}", "shard": "shardId-000000000003"}', 12)).toEqual({
      data: '{"a":1}',
      arrivalTime: 1700000000000,
      shard: 'shardId-000000000003',
      seq: '12',
    });
  });

  it('defaults the shard to the first Kinesis shard id and leaves the arrival time out', () => {
    const r = parseInputLine('{"data": "x"}', 1);
    expect(r).toEqual({ data: 'x', shard: DEFAULT_SHARD, seq: '1' });
    expect(DEFAULT_SHARD).toBe('shardId-000000000000');
    expect(r.arrivalTime).toBeUndefined();
  });

  it('keeps a payload that is not JSON as it is (the engine judges it)', () => {
    expect(parseInputLine('{"data": "not { json"}', 3).data).toBe('not { json');
  });

  it.each([
    ['not JSON', '{"data": ', /^input line 7: not valid JSON/],
    ['an array', '["x"]', /^input line 7: must be a JSON object/],
    ['null', 'null', /^input line 7: must be a JSON object/],
    ['data missing', '{"shard": "s"}', /^input line 7: "data" must be a string/],
    ['data an object', '{"data": {"user": 1}}', /^input line 7: "data" must be a string/],
    ['arrivalTime a string', '{"data": "x", "arrivalTime": "10:00"}', /^input line 7: "arrivalTime" must be epoch milliseconds/],
    ['shard empty', '{"data": "x", "shard": ""}', /^input line 7: "shard" must be a non-empty string/],
    ['shard a number', '{"data": "x", "shard": 3}', /^input line 7: "shard" must be a non-empty string/],
  ])('refuses a line that is %s, naming the line', (_what, text, expected) => {
    const e = lineError(text, 7);
    expect(e.line).toBe(7);
    expect(e.message).toMatch(expected);
  });
});
