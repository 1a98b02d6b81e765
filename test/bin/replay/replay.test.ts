import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InputLineError } from '../../../lambda/core/input-line';
import { parseSpec } from '../../../lambda/core/spec';
import { replay } from '../../../bin/replay/run';
import { specDoc } from '../../support/engine-harness';

const REPO = resolve(__dirname, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'replay-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
function workDir(): string {
  const d = join(tmp, `run-${++dirs}`);
  return d;
}

function writeLines(lines: readonly string[], eol = '\n'): string {
  const path = join(tmp, `input-${++dirs}.jsonl`);
  writeFileSync(path, lines.join(eol) + eol);
  return path;
}

function readJsonl(path: string): unknown[] {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as unknown);
}

type Row = { feature: string; key: string; windowStart: number };
const byWindow = (a: unknown, b: unknown): number => {
  const x = a as Row;
  const y = b as Row;
  return x.feature.localeCompare(y.feature) || x.key.localeCompare(y.key) || x.windowStart - y.windowStart;
};

/** One input line: the payload object is serialized into the "data" string. */
const line = (payload: unknown, extra: { arrivalTime?: number; shard?: string } = {}): string =>
  JSON.stringify({ ...extra, data: typeof payload === 'string' ? payload : JSON.stringify(payload) });

const SPEC_DOC = specDoc({
  watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 1000 },
  features: [
    { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
    { name: 'spend', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
  ],
});
const SHARD0 = 'shardId-000000000000';
const SHARD1 = 'shardId-000000000001';

// Line numbers are those of the file; line 2 is blank.
const LINES = [
  line({ user: 'u', ts: 1, amount: 3, id: 'a' }, { arrivalTime: 5 }), // 1 applied
  '', // 2 blank, skipped
  line({ user: 'u', ts: 4, amount: 4, id: 'b' }, { arrivalTime: 6, shard: SHARD0 }), // 3 applied
  line('not json'), // 4 invalid record (the line itself is JSON)
  line({ user: 'v', ts: 5000, amount: 1, id: 'c' }, { arrivalTime: 7 }), // 5 future: 4993 ms ahead
  line({ user: 'u', ts: 10, amount: 5, id: 'd' }), // 6 applied, W = 10: [0,10) final
  line({ user: 'u', ts: 1, amount: 3, id: 'a' }), // 7 duplicate of line 1 (would be late; its id is kept until W ≥ 1 + 10 + 0)
  line({ user: 'u', ts: 2, amount: 9, id: 'e' }), // 8 late for cnt and spend
  line({ user: 42, ts: 3, amount: 1, id: 'f' }, { shard: SHARD1 }), // 9 other shard: W = −∞, applied
  line({ user: '42', ts: 13, amount: 2, id: 'g' }, { shard: SHARD1 }), // 10 same entity as line 9
];

const w = (feature: string, key: string, windowStart: number, value: number, count: number) => ({ feature, key, windowStart, windowEnd: windowStart + 10, value, count });

describe('replay()', () => {
  it('dlq: writes final windows, rejected records and the summary of the replay contract', async () => {
    const out = workDir();
    const summary = await replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines(LINES), outDir: out });
    expect(summary).toMatchObject({ records: 9, applied: 5, late: 2, invalid: 1, future: 1, duplicates: 1 });
    expect(summary.records).toBe(summary.applied + summary.lateRecords + summary.invalid + summary.future + summary.duplicates);

    expect(readJsonl(join(out, 'windows.jsonl')).sort(byWindow)).toEqual([
      w('cnt', '42', 0, 1, 1),
      w('cnt', '42', 10, 1, 1),
      w('cnt', 'u', 0, 2, 2),
      w('cnt', 'u', 10, 1, 1),
      w('spend', '42', 0, 1, 1),
      w('spend', '42', 10, 2, 1),
      w('spend', 'u', 0, 7, 2),
      w('spend', 'u', 10, 5, 1),
    ]);
    const rejected = readJsonl(join(out, 'rejected.jsonl'));
    expect(rejected).toEqual([
      { reason: 'invalid', message: expect.stringMatching(/^payload is not valid JSON/), line: 4, shard: SHARD0, watermark: 4, data: 'not json' },
      {
        reason: 'future',
        message: 'ts is 4993 ms ahead of arrival, over maxFutureSkewMs 1000',
        line: 5,
        shard: SHARD0,
        watermark: 4,
        eventTime: 5000,
        key: 'v',
        data: JSON.stringify({ user: 'v', ts: 5000, amount: 1, id: 'c' }),
      },
      ...['cnt', 'spend'].map((feature) => ({
        reason: 'late',
        feature,
        message: expect.stringContaining(feature),
        line: 8,
        shard: SHARD0,
        watermark: 10,
        eventTime: 2,
        key: 'u',
        data: JSON.stringify({ user: 'u', ts: 2, amount: 9, id: 'e' }),
      })),
    ]);
    expect(existsSync(join(out, 'corrections.jsonl'))).toBe(false);
  });

  it('global windows: writes each firing to firings.jsonl, per trigger, with purge and without, the same at any batch size', async () => {
    const doc = specDoc({
      watermark: { allowedLatenessMs: 0 },
      features: [
        { name: 'every2', window: { type: 'global', trigger: { count: 2 } }, aggregate: 'sum', field: 'amount' },
        { name: 'every2_pane', window: { type: 'global', trigger: { count: 2, purge: true } }, aggregate: 'sum', field: 'amount' },
        { name: 'each10ms', window: { type: 'global', trigger: { everyMs: 10 } }, aggregate: 'distinct', field: 'amount' },
        { name: 'p50', window: { type: 'tumbling', sizeMs: 100 }, aggregate: 'percentile', field: 'amount', percentile: 0.5 },
        { name: 'first', window: { type: 'tumbling', sizeMs: 100 }, aggregate: 'first', field: 'amount' },
      ],
    });
    const input = writeLines([1, 5, 12, 13, 25].map((ts, i) => line({ user: 'u', ts, amount: i + 1, id: `e${i}` })));
    const runs = await Promise.all([1, 2, 5].map(async (batchSize) => {
      const out = workDir();
      const summary = await replay({ spec: parseSpec(doc), inputPath: input, outDir: out, batchSize });
      return { summary, firings: readJsonl(join(out, 'firings.jsonl')), windows: readJsonl(join(out, 'windows.jsonl')) };
    }));
    const f = (feature: string, firing: number, trigger: string, firedAt: number, value: number, count: number) => ({ feature, key: 'u', firing, trigger, firedAt, value, count });
    for (const r of runs) {
      expect(r.summary).toMatchObject({ records: 5, applied: 5, firings: 7, finalWindows: 2 });
      expect([...(r.firings as Array<{ feature: string; firing: number }>)].sort((a, b) => a.feature.localeCompare(b.feature) || a.firing - b.firing)).toEqual([
        // Time trigger: records at 1 and 5 fire when the watermark reaches 10 (record at 12), 12 and 13 at 20 (25),
        // and 25 at 30, when the end of the input moves the watermark past it.
        f('each10ms', 1, 'time', 10, 2, 2),
        f('each10ms', 2, 'time', 20, 4, 4),
        f('each10ms', 3, 'time', 30, 5, 5),
        f('every2', 1, 'count', 5, 3, 2),
        f('every2', 2, 'count', 13, 10, 4),
        f('every2_pane', 1, 'count', 5, 3, 2),
        f('every2_pane', 2, 'count', 13, 7, 2),
      ]);
      expect(r.windows.sort(byWindow)).toEqual([
        { feature: 'first', key: 'u', windowStart: 0, windowEnd: 100, value: 1, count: 5 },
        { feature: 'p50', key: 'u', windowStart: 0, windowEnd: 100, value: expect.closeTo(3, 1) as number, count: 5 },
      ]);
    }
  });

  it('update: writes each window once with its corrected value, and the corrections', async () => {
    const out = workDir();
    const summary = await replay({ spec: parseSpec({ ...SPEC_DOC, latePolicy: 'update' }), inputPath: writeLines(LINES), outDir: out });
    expect(summary).toMatchObject({ records: 9, applied: 6, late: 2, invalid: 1, future: 1, duplicates: 1, lateRecords: 0, corrections: 2 });
    const windows = readJsonl(join(out, 'windows.jsonl'));
    expect(windows).toHaveLength(8);
    expect(windows.filter((x) => (x as Row).key === 'u' && (x as Row).windowStart === 0).sort(byWindow)).toEqual([w('cnt', 'u', 0, 3, 3), w('spend', 'u', 0, 16, 3)]);
    expect(readJsonl(join(out, 'corrections.jsonl'))).toEqual([
      { feature: 'cnt', key: 'u', windowStart: 0, windowEnd: 10, old: { value: 2, count: 2 }, new: { value: 3, count: 3 } },
      { feature: 'spend', key: 'u', windowStart: 0, windowEnd: 10, old: { value: 7, count: 2 }, new: { value: 16, count: 3 } },
    ]);
    expect(readJsonl(join(out, 'rejected.jsonl')).map((r) => (r as { reason: string }).reason)).toEqual(['invalid', 'future']);
  });

  it('drop: counts late records in the summary but does not list them', async () => {
    const out = workDir();
    const summary = await replay({ spec: parseSpec({ ...SPEC_DOC, latePolicy: 'drop' }), inputPath: writeLines(LINES), outDir: out });
    expect(summary).toMatchObject({ records: 9, applied: 5, late: 2, lateRecords: 1 });
    expect(readJsonl(join(out, 'rejected.jsonl')).map((r) => (r as { reason: string }).reason)).toEqual(['invalid', 'future']);
  });

  it('reads CRLF files like LF files', async () => {
    const a = workDir();
    const b = workDir();
    const sa = await replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines(LINES), outDir: a });
    const sb = await replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines(LINES, '\r\n'), outDir: b });
    expect(sb).toEqual(sa);
    expect(readJsonl(join(b, 'windows.jsonl')).sort(byWindow)).toEqual(readJsonl(join(a, 'windows.jsonl')).sort(byWindow));
    expect(readJsonl(join(b, 'rejected.jsonl'))).toEqual(readJsonl(join(a, 'rejected.jsonl')));
  });

  async function sameForBatchSizes(lines: readonly string[]): Promise<void> {
    const input = writeLines(lines);
    const runs = [];
    for (const batchSize of [1, 3, 2000]) {
      const out = workDir();
      const summary = await replay({ spec: parseSpec(SPEC_DOC), inputPath: input, outDir: out, batchSize });
      runs.push({ summary, windows: readJsonl(join(out, 'windows.jsonl')).sort(byWindow), rejected: readJsonl(join(out, 'rejected.jsonl')) });
    }
    expect(runs[0]).toEqual(runs[2]);
    expect(runs[1]).toEqual(runs[2]);
  }

  it('gives the same output whatever the batch size', async () => {
    await sameForBatchSizes(LINES.filter((_, i) => i !== 6));
  });

  // Line 7 re-sends line 1 (id "a", t = 1) when W = 10: a duplicate by the check order of the semantics. The
  // outcome must not depend on where batches happen to end.
  it('gives the same output whatever the batch size when a producer retry arrives after its window closed', async () => {
    await sameForBatchSizes(LINES);
  });

  it('refuses a line that is not JSON, naming its line number', async () => {
    const input = writeLines([line({ user: 'u', ts: 1, amount: 1 }), '', '{"data": "x"', line({ user: 'u', ts: 2, amount: 1 })]);
    const failure = replay({ spec: parseSpec(SPEC_DOC), inputPath: input, outDir: workDir() });
    await expect(failure).rejects.toBeInstanceOf(InputLineError);
    await expect(failure).rejects.toMatchObject({ line: 3, message: expect.stringMatching(/^input line 3: not valid JSON/) });
  });

  it('keeps no partial output when it stops at a bad line, and says so', async () => {
    const out = workDir();
    const many = Array.from({ length: 5000 }, (_, i) => line({ user: `u${i % 50}`, ts: i * 10, amount: 1 }));
    const failure = replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines([...many, 'not json']), outDir: out });
    await expect(failure).rejects.toMatchObject({ line: 5001, message: expect.stringMatching(new RegExp(`^input line 5001: .*; no output kept \\(removed the partial windows.jsonl, rejected.jsonl from ${out}\\)$`)) });
    expect(existsSync(join(out, 'windows.jsonl'))).toBe(false);
    expect(existsSync(join(out, 'rejected.jsonl'))).toBe(false);
  });

  it('gives an invalid record the key it carried when the key parsed', async () => {
    const out = workDir();
    await replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines([line({ user: 'u7', ts: 1, amount: '12,50' }), line({ ts: 1, amount: 1 })]), outDir: out });
    expect(readJsonl(join(out, 'rejected.jsonl'))).toMatchObject([
      { reason: 'invalid', line: 1, key: 'u7', message: 'amount must be a finite number, got the string "12,50"' },
      { reason: 'invalid', line: 2, message: 'user is missing' },
    ]);
    expect(readJsonl(join(out, 'rejected.jsonl'))[1]).not.toHaveProperty('key');
  });

  it('refuses a line whose data is not a string', async () => {
    const input = writeLines([JSON.stringify({ data: { user: 'u', ts: 1 } })]);
    await expect(replay({ spec: parseSpec(SPEC_DOC), inputPath: input, outDir: workDir() })).rejects.toMatchObject({ line: 1 });
  });

  it('writes empty outputs for an input of blank lines', async () => {
    const out = workDir();
    const summary = await replay({ spec: parseSpec(SPEC_DOC), inputPath: writeLines(['', '   ', '']), outDir: out });
    expect(summary).toMatchObject({ records: 0, applied: 0, late: 0, invalid: 0, future: 0, duplicates: 0 });
    expect(readFileSync(join(out, 'windows.jsonl'), 'utf8')).toBe('');
    expect(readFileSync(join(out, 'rejected.jsonl'), 'utf8')).toBe('');
  });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', ['tsx', 'bin/replay.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('replay CLI', () => {
  it('runs end to end, reports bad specs by field path and missing options by name', async () => {
    const good = join(tmp, 'good-spec.json');
    writeFileSync(good, JSON.stringify(SPEC_DOC));
    const bad = join(tmp, 'bad-spec.json');
    writeFileSync(bad, JSON.stringify(specDoc({ features: [{ name: 's', window: { type: 'sliding', sizeMs: 10, slideMs: -1 }, aggregate: 'count' }] })));
    const input = writeLines(LINES);
    const out = workDir();

    const [ok, badSpec, noInput] = await Promise.all([
      runCli(['--config', good, '--input', input, '--out', out]),
      runCli(['--config', bad, '--input', input, '--out', workDir()]),
      runCli(['--config', good, '--out', workDir()]),
    ]);

    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ records: 9, applied: 5, late: 2, invalid: 1, future: 1, duplicates: 1 });
    expect(readJsonl(join(out, 'windows.jsonl'))).toHaveLength(8);
    expect(readJsonl(join(out, 'rejected.jsonl'))).toHaveLength(4);

    expect(badSpec.code).not.toBe(0);
    expect(badSpec.stdout).toBe('');
    expect(badSpec.stderr).toContain('features[0].window.slideMs must be a positive integer');

    expect(noInput.code).not.toBe(0);
    expect(noInput.stderr).toContain('--input');
  }, 90_000); // three CLI processes at once, each compiling TypeScript at start
});
