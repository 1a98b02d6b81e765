/**
 * A file of one's own events, one flat JSON object per line: `--flat` reads each line as the payload (kept byte
 * for byte, one shard), its arrival time from `--arrival-field` (default the spec's timeField). Every CLI that reads
 * a records file takes it and gives what the same events wrapped in the replay's envelope give; without it, a flat
 * line is refused with the fix named.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SHARD, InputLineError, inputLineParser, parseFlatLine, parseInputLine } from '../../../lambda/core/input-line';
import { readRecordBatches } from '../../../bin/replay/record-reader';
import { parseSpecJson } from '../../../lambda/core/spec';
import { type CliRun, runCli } from '../../support/run-cli';
import { runFile } from '../../../bin/sandbox/file-run';
import { workerEmulators } from '../../support/worker-emulators';

const dir = mkdtempSync(join(tmpdir(), 'flat-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_796_032_800_000; // 2026-11-30T10:00:00Z
const SPEC = {
  source: { keyField: 'user_id', timeField: 'event_time' },
  watermark: { allowedLatenessMs: 60_000 },
  features: [
    { name: 'spend_5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'n_5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'count' },
  ],
};
const spec = parseSpecJson(JSON.stringify(SPEC));
const write = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const specPath = write('spec.json', JSON.stringify(SPEC));
/** Thirty payments, 40 s apart, in event-time order; written as a producer would (spaces, a trailing zero). */
const flatLines = Array.from({ length: 30 }, (_, i) => `{"user_id": "u${i % 4}", "event_time": ${T0 + i * 40_000}, "amount": ${(i % 7) + 0.5}0, "received_at": ${T0 + i * 40_000 + 1500}}`);
const flatPath = write('flat.jsonl', `${flatLines.join('\n')}\n`);
const wrappedPath = write('wrapped.jsonl', `${flatLines.map((l) => JSON.stringify({ arrivalTime: (JSON.parse(l) as { event_time: number }).event_time, data: l })).join('\n')}\n`);
const labelsPath = write('labels.jsonl', `${['u0', 'u1', 'u2', 'u3'].map((u, i) => JSON.stringify({ key: u, time: T0 + 400_000 + i * 300_000, label: i % 2 })).join('\n')}\n`);
const sorted = (path: string): string[] => readFileSync(path, 'utf8').trim().split('\n').sort();

describe('parseFlatLine', () => {
  it('keeps the line as the payload byte for byte, on the default shard, arriving at its event time', () => {
    const text = '{"user_id": "u1", "event_time": 1796032800000, "amount": 3.50}';
    expect(parseFlatLine(text, 4, 'event_time')).toEqual({ data: text, shard: DEFAULT_SHARD, seq: '4', arrivalTime: 1796032800000 });
  });

  it('reads the arrival field as the spec reads its time field: its unit, or ISO-8601', () => {
    expect(parseFlatLine('{"ts": 1796032800}', 1, 'ts', 's').arrivalTime).toBe(1_796_032_800_000);
    expect(parseFlatLine('{"at": "2026-11-30T10:00:01Z"}', 1, 'at', 'ms').arrivalTime).toBe(1_796_032_801_000);
  });

  it('leaves the arrival time out when the field is missing or not a time, and a line that is not JSON to the engine', () => {
    expect(parseFlatLine('{"user_id": "u1"}', 1, 'event_time').arrivalTime).toBeUndefined();
    expect(parseFlatLine('{"event_time": "soon"}', 1, 'event_time').arrivalTime).toBeUndefined();
    expect(parseFlatLine('not { json', 2, 'event_time')).toEqual({ data: 'not { json', shard: DEFAULT_SHARD, seq: '2', arrivalTime: undefined });
  });
});

describe('a flat line read as the envelope', () => {
  const line = '{"user_id":"u1","event_time":1796032800000,"amount":3}';

  it('is refused with the fix: --flat, or the line wrapped as the example shows', () => {
    let error: InputLineError | undefined;
    try {
      inputLineParser({ kind: 'wrapped' }, spec.source)(line, 3);
    } catch (e) {
      error = e as InputLineError;
    }
    expect(error).toBeInstanceOf(InputLineError);
    expect(error!.message).toMatch(/^input line 3: "data" must be a string holding the record payload; this line looks like a flat event .*give --flat .*--arrival-field NAME/);
    // The example is a wrapped line that reads back as the same record.
    const example = /or wrap each line as (\{.*\})$/.exec(error!.message)![1]!;
    expect(parseInputLine(example, 1)).toEqual({ data: line, shard: DEFAULT_SHARD, seq: '1', arrivalTime: 1796032800000 });
  });

  it('keeps the short message for a line that does not carry the key field', () => {
    expect(() => inputLineParser({ kind: 'wrapped' }, spec.source)('{"amount": 3}', 1)).toThrow(/^input line 1: "data" must be a string holding the record payload$/);
  });
});

describe('--flat in every CLI that reads a records file', () => {
  it('the reader thread yields the records the flat parser makes, arrival from the named field', async () => {
    const got = [];
    for await (const b of readRecordBatches(flatPath, spec, { batchSize: 7, format: { kind: 'flat', arrivalField: 'received_at' } })) got.push(...b.records);
    expect(got.map((r) => [r.data, r.shard, r.arrivalTime])).toEqual(flatLines.map((l) => [l, DEFAULT_SHARD, (JSON.parse(l) as { received_at: number }).received_at]));
    expect(got.every((r) => r.decoded?.ok === true)).toBe(true);
  });

  it('npm run replay: the same windows as the wrapped file; without --flat the error names it', async () => {
    const [flat, wrapped, refused, misuse] = await Promise.all([
      runCli('bin/replay.ts', ['--config', specPath, '--input', flatPath, '--flat', '--out', join(dir, 'replay-flat')]),
      runCli('bin/replay.ts', ['--config', specPath, '--input', wrappedPath, '--out', join(dir, 'replay-wrapped')]),
      runCli('bin/replay.ts', ['--config', specPath, '--input', flatPath, '--out', join(dir, 'replay-refused')]),
      runCli('bin/replay.ts', ['--config', specPath, '--input', flatPath, '--arrival-field', 'received_at', '--out', join(dir, 'replay-misuse')]),
    ]);
    expect([flat.code, flat.stderr]).toEqual([0, '']);
    expect(wrapped.code).toBe(0);
    expect(flat.stdout).toBe(wrapped.stdout);
    expect(sorted(join(dir, 'replay-flat', 'windows.jsonl'))).toEqual(sorted(join(dir, 'replay-wrapped', 'windows.jsonl')));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: input line 1: .*looks like a flat event.*give --flat/);
    expect(misuse.code).toBe(64);
    expect(misuse.stderr).toMatch(/^error: --arrival-field needs --flat/);
  });

  it('npm run training-set and npm run consistency: the same rows as the wrapped file', async () => {
    const run = (events: string, out: string, extra: readonly string[]): Promise<CliRun> =>
      runCli('bin/training-set.ts', ['--config', specPath, '--events', events, ...extra, '--labels', labelsPath, '--out', join(dir, out)]);
    const [flat, wrapped, refused] = await Promise.all([run(flatPath, 'ts-flat', ['--flat']), run(wrappedPath, 'ts-wrapped', []), run(flatPath, 'ts-refused', [])]);
    expect([flat.code, flat.stderr]).toEqual([0, '']);
    expect(flat.stdout).toBe(wrapped.stdout);
    expect(readFileSync(join(dir, 'ts-flat', 'training.csv'), 'utf8')).toBe(readFileSync(join(dir, 'ts-wrapped', 'training.csv'), 'utf8'));
    expect(refused.stderr).toMatch(/^error: --events line 1: .*give --flat/);
    // The rows, served as of the labels' times, are what a recomputation from the flat file gives.
    const served = readFileSync(join(dir, 'ts-flat', 'training.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const r = JSON.parse(l) as { key: string; time: number; features: Record<string, number | null> };
        return JSON.stringify({ key: r.key, at: r.time, features: r.features });
      });
    const servedPath = write('served.jsonl', `${served.join('\n')}\n`);
    const check = await runCli('bin/consistency.ts', ['--config', specPath, '--events', flatPath, '--flat', '--served', servedPath]);
    expect(check.code, check.stderr).toBe(0);
  });

  it('npm run backfill: the replay\'s windows from the flat file', async () => {
    const r = await runCli('bin/backfill.ts', ['--config', specPath, '--input', flatPath, '--flat', '--partitions', '2', '--workers', '2', '--out', join(dir, 'backfill-flat')]);
    expect(r.code, r.stderr).toBe(0);
    expect(sorted(join(dir, 'backfill-flat', 'windows.jsonl'))).toEqual(sorted(join(dir, 'replay-wrapped', 'windows.jsonl')));
  }, 120_000);
});

describe('npm start in file mode', () => {
  it('runs a flat file through the local pipeline to the windows of the same events wrapped', async () => {
    const emulators = await workerEmulators();
    const saved = { ...process.env };
    Object.assign(process.env, emulators.env());
    try {
      const flat = await runFile({ spec, inputPath: flatPath, format: { kind: 'flat', arrivalField: 'received_at' }, outDir: join(dir, 'start-flat'), name: 'flat-start-a' });
      // The same arrivals, wrapped.
      const wrappedAt = write('wrapped-at.jsonl', `${flatLines.map((l) => JSON.stringify({ arrivalTime: (JSON.parse(l) as { received_at: number }).received_at, data: l })).join('\n')}\n`);
      const wrapped = await runFile({ spec, inputPath: wrappedAt, outDir: join(dir, 'start-wrapped'), name: 'flat-start-b' });
      expect(flat.summary).toEqual(wrapped.summary);
      expect(flat.summary.applied).toBe(30);
      expect(sorted(join(dir, 'start-flat', 'windows.jsonl'))).toEqual(sorted(join(dir, 'start-wrapped', 'windows.jsonl')));
    } finally {
      process.env = saved;
    }
  }, 120_000);
});
