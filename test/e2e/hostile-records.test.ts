/**
 * Hostile records that used to block a shard, lose a payload or be judged differently by the two paths: each input
 * goes through the replay and the sandbox (Kinesis → event source mapping → consumer → DynamoDB/SQS/S3 on
 * emulators), which must agree line for line with no batch abandoned.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { type PipelineSpec, parseSpec } from '../../lambda/core/spec';
import { type InputLine, judgeBoth, line } from '../support/both-paths';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

const spec: PipelineSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 1_000, maxFutureSkewMs: 300_000 },
  latePolicy: 'dlq',
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'sum', field: 'amount' },
  ],
});

interface Rejected {
  readonly line: number;
  readonly reason: string;
  readonly message: string;
  readonly data: string;
  readonly key?: string;
  readonly truncated?: boolean;
}

const rejectedOf = (dir: string): Rejected[] =>
  readFileSync(path.join(dir, 'rejected.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Rejected);

describe('hostile records: replay and sandbox judge alike, nothing blocks or is lost', () => {
  const saved = { ...process.env };
  let dir: string;
  let emulators: Emulators;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hostile-records-'));
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
  });

  afterAll(async () => {
    process.env = saved;
    await emulators?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('U+FFFE, U+FFFF and characters above U+FFFF in rejected records reach the dead-letter queue whole', async () => {
    const odd = ['\ufffe', '\uffff', '\u{1f600}', 'x\ufffe\u{10ffff}\uffff'];
    const lines: InputLine[] = odd.map((c, i) => ({ data: `{"user":"u${c}","ts":${T0},"amount":"${c}","id":"a${i}"}`, arrivalTime: T0 }));
    // Also as a key of a late record and in a payload that is not JSON at all.
    lines.push(line({ user: 'late', ts: T0 + 120_000, amount: 1, id: 'b' }, T0));
    lines.push(line({ user: 'late\ufffe\u{1f600}', ts: T0, amount: 1, id: 'c' }, T0));
    lines.push({ data: `\uffff\u{1f600} not json`, arrivalTime: T0 });
    const { replayed, sandboxDir } = await judgeBoth(dir, 'odd-chars', spec, lines, { batchSize: 3 });
    expect(replayed).toMatchObject({ invalid: 5, lateRecords: 1 });
    const rejected = rejectedOf(sandboxDir);
    expect(rejected.map((r) => r.data)).toEqual([...lines.slice(0, 4), ...lines.slice(5)].flatMap((l, i) => (i === 4 ? [l.data, l.data] : [l.data])));
    expect(rejected.find((r) => r.reason === 'late')?.key).toBe('late\ufffe\u{1f600}');
  });

  it('a byte-order mark before a payload is rejected by name in both paths', async () => {
    const lines = [
      { data: `\ufeff${JSON.stringify({ user: 'u', ts: T0, amount: 1, id: 'a' })}`, arrivalTime: T0 },
      line({ user: 'u', ts: T0, amount: 1, id: 'b' }, T0),
    ];
    const { replayed, replayDir } = await judgeBoth(dir, 'bom', spec, lines);
    expect(replayed).toMatchObject({ invalid: 1, applied: 1 });
    expect(rejectedOf(replayDir)[0]!.message).toBe('payload starts with a byte-order mark (U+FEFF), which JSON text must not');
  });

  it('producer ids of the wrong type are invalid in both paths, so a retried record cannot count twice', async () => {
    const ids: unknown[] = [true, {}, '', null, [1]];
    const lines = ids.flatMap((id) => {
      const l = line({ user: 'u', ts: T0, amount: 1, id }, T0);
      return [l, l]; // a producer retry
    });
    lines.push(line({ user: 'u', ts: T0, amount: 1, id: 'ok' }, T0), line({ user: 'u', ts: T0, amount: 1, id: 'ok' }, T0));
    const { replayed, replayDir } = await judgeBoth(dir, 'ids', spec, lines, { batchSize: 4 });
    expect(replayed).toMatchObject({ invalid: 10, duplicates: 1, applied: 1 });
    expect(rejectedOf(replayDir).map((r) => r.message)[0]).toBe('id must be a non-empty string or a finite number, got a boolean');
  });

  it('lines without an arrival time or with a negative one are judged as the replay judges them', async () => {
    const lines = [
      line({ user: 'u', ts: T0, amount: 1, id: 'a' }),
      line({ user: 'u', ts: T0 + 1, amount: 2, id: 'b' }, -5),
      line({ user: 'v', ts: T0 + 90_000, amount: 3, id: 'c' }),
      line({ user: 'u', ts: T0 + 2, amount: 4, id: 'd' }, -1),
    ];
    const { replayed } = await judgeBoth(dir, 'arrivals', spec, lines, { batchSize: 2 });
    // Arrivals before the epoch put the event times far ahead of arrival: future, in both.
    expect(replayed).toMatchObject({ applied: 2, future: 2 });
  });

  it('a dead letter too large for a message keeps its payload whole in S3, named from the dead letter', async () => {
    // Control characters grow sixfold in JSON: 400,000 of them make a 2.4 MB body; quotes double.
    const big = (fields: Record<string, unknown>, pad: string, n: number): string => `${JSON.stringify(fields).slice(0, -1)},"pad":"${pad.repeat(n)}"}`;
    const lines: InputLine[] = [
      { data: big({ user: 'u', ts: T0, amount: 'x', id: 'a' }, '\\u0001', 150_000), arrivalTime: T0 },
      { data: big({ user: 'u', ts: T0, amount: 'x', id: 'b' }, '\u0001', 150_000), arrivalTime: T0 },
      { data: big({ user: 'u', ts: T0, amount: 1, id: 'c' }, '"', 1), arrivalTime: T0 },
      { data: `{"user":"u","ts":${T0},"amount":1,"id":"d","q":"${'\\"'.repeat(400_000)}"}`, arrivalTime: T0 },
      line({ user: 'u', ts: T0 + 200_000, amount: 1, id: 'e' }, T0),
      { data: `{"user":"u","ts":${T0},"amount":1,"id":"f","q":"${'\u0002'.repeat(300_000)}"}`, arrivalTime: T0 },
    ];
    const { sandboxDir, stats } = await judgeBoth(dir, 'big-letters', spec, lines, { batchSize: 10 });
    const rejected = rejectedOf(sandboxDir);
    // Every payload came back whole (from the message or from S3), none merely cut.
    expect(rejected.every((r) => r.truncated === undefined)).toBe(true);
    for (const r of rejected) expect(r.data === lines[r.line - 1]!.data, `line ${r.line} whole`).toBe(true);
    // Lines 4 and 6 are over the 256 KiB payload limit (4) or hold raw control characters (6): invalid.
    expect(rejected.map((r) => r.line)).toEqual([1, 2, 3, 4, 6]);
    expect(stats.records).toBe(6);
  });
});
