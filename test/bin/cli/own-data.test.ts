/**
 * A user's own data, as it often first arrives: times in epoch seconds, a misspelled field, labels that match
 * nothing. Probably-wrong results are never silent: the replay and the training set warn on the terminal, name
 * the cause, and with --strict exit 2; `source.timeUnit` reads seconds (and refuses numbers under "iso").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from '../../support/run-cli';

const dir = mkdtempSync(join(tmpdir(), 'own-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_796_032_800_000; // 2026-12-01T10:00:00Z
const spec = (source: Record<string, unknown>) => ({
  source: { keyField: 'user_id', timeField: 'ts', ...source },
  watermark: { allowedLatenessMs: 60_000 },
  features: [{ name: 'spend_5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'sum', field: 'amount' }],
});
const write = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
/** Twenty payments a minute apart, their time given by `time(ms)`. */
const events = (time: (ms: number) => unknown, field = 'amount') =>
  Array.from({ length: 20 }, (_, i) => JSON.stringify({ arrivalTime: T0 + i * 60_000 + 500, data: JSON.stringify({ user_id: `u${i % 3}`, ts: time(T0 + i * 60_000), [field]: 10 + i }) })).join('\n') + '\n';
const replay = (specPath: string, input: string, out: string, strict = false): Promise<CliRun> =>
  runCli('bin/replay.ts', ['--config', specPath, '--input', input, '--out', join(dir, out), ...(strict ? ['--strict'] : [])]);
const windows = (out: string) => readFileSync(join(dir, out, 'windows.jsonl'), 'utf8').trim().split('\n').sort();

describe('your own data', () => {
  it('warns when event times look like epoch seconds, exits 2 under --strict, and reads them with timeUnit "s"', async () => {
    const ms = write('ms.json', JSON.stringify(spec({})));
    const s = write('s.json', JSON.stringify(spec({ timeUnit: 's' })));
    const inMs = write('in-ms.jsonl', events((t) => t));
    const inS = write('in-s.jsonl', events((t) => t / 1000));
    const [asMs, wrong, strict, asS] = await Promise.all([replay(ms, inMs, 'ms'), replay(ms, inS, 'wrong'), replay(ms, inS, 'strict', true), replay(s, inS, 's')]);
    expect([asMs.code, asMs.stderr]).toEqual([0, '']);
    expect(wrong.code).toBe(0);
    expect(wrong.stderr).toBe('warning: every event time is before 2000-01-01 (the latest is 1796033940, 1970-01-21T18:53:53.940Z): they look like epoch seconds read as milliseconds; if so, set "timeUnit": "s" in the spec\'s "source"\n');
    expect(strict.code).toBe(2);
    expect(strict.stderr).toBe(wrong.stderr);
    // Read in seconds, the same events make the same windows as in milliseconds.
    expect([asS.code, asS.stderr]).toEqual([0, '']);
    expect(windows('s')).toEqual(windows('ms'));
  });

  it('with timeUnit "iso", refuses a number by name', async () => {
    const iso = write('iso.json', JSON.stringify(spec({ timeUnit: 'iso' })));
    const r = await replay(iso, write('in-ms2.jsonl', events((t) => t)), 'iso');
    const first = JSON.parse(readFileSync(join(dir, 'iso', 'rejected.jsonl'), 'utf8').split('\n')[0]!) as { message: string };
    expect(first.message).toBe('ts must be an ISO-8601 date-time (source.timeUnit "iso"; numbers are refused) within ±8.64e15 ms, got 1796032800000');
    expect(r.stderr).toMatch(/^warning: 20 of 20 records \(100%\) were rejected; most often:\n {2}20 × invalid: ts must be an ISO-8601 date-time/);
  });

  it('warns when most records are rejected, naming the field, and exits 2 under --strict', async () => {
    const ms = write('ms3.json', JSON.stringify(spec({})));
    const typo = write('typo.jsonl', events((t) => t, 'amout'));
    const [r, strict] = await Promise.all([replay(ms, typo, 'typo'), replay(ms, typo, 'typo-strict', true)]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: 20 of 20 records (100%) were rejected; most often:\n  20 × invalid: amount is missing\n  (every rejected record, with its line, is in ${join(dir, 'typo', 'rejected.jsonl')})\n`);
    expect(strict.code).toBe(2);
  });

  it('warns when every training row is empty, and exits 2 under --strict', async () => {
    const ms = write('ms4.json', JSON.stringify(spec({})));
    const input = write('in4.jsonl', events((t) => t));
    // Label times in seconds: all in January 1970, before any event arrived.
    const labels = write('labels-s.jsonl', ['u0', 'u1', 'u2'].map((k, i) => JSON.stringify({ key: k, time: (T0 + (5 + i) * 60_000) / 1000, fraud: i === 0 })).join('\n') + '\n');
    const good = write('labels-ms.jsonl', ['u0', 'u1', 'u2'].map((k, i) => JSON.stringify({ key: k, time: T0 + (5 + i) * 60_000, fraud: i === 0 })).join('\n') + '\n');
    const run = (l: string, out: string, strict = false) => runCli('bin/training-set.ts', ['--config', ms, '--events', input, '--labels', l, '--out', join(dir, out), ...(strict ? ['--strict'] : [])]);
    const [empty, strict, fine] = await Promise.all([run(labels, 't1'), run(labels, 't2', true), run(good, 't3', true)]);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toMatch(/^warning: every one of the 3 training rows is empty: .*epoch milliseconds/);
    expect(strict.code).toBe(2);
    expect([fine.code, fine.stderr]).toEqual([0, '']);
  });
});
