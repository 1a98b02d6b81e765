/**
 * `npm run training-set` end to end on files: no record that arrived after a label's time is in its row (one that
 * arrived at exactly that time is); rows equal the serving function on an engine fed only the events that arrived
 * by each label time; `--as final` equals the replay's final windows; the outputs' shapes; bad input refused by
 * name, through the CLI.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WindowEngine } from '../../../lambda/core/engine';
import { parseInputLine } from '../../../lambda/core/input-line';
import { keyShard, serveFeatures } from '../../../lambda/core/serving';
import { type PipelineSpec, parseSpec, parseSpecJson } from '../../../lambda/core/spec';
import { replay } from '../../../bin/replay/run';
import { trainingSet } from '../../../bin/training/run';
import { specDoc } from '../../support/engine-harness';
import { type CliRun, runCli } from '../../support/run-cli';

const REPO = resolve(__dirname, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'training-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
function file(lines: readonly string[]): string {
  const p = join(tmp, `f-${++files}.jsonl`);
  writeFileSync(p, lines.map((l) => `${l}\n`).join(''));
  return p;
}
const outDir = (): string => join(tmp, `out-${++files}`);
const readJsonl = (p: string): Record<string, unknown>[] =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const event = (payload: Record<string, unknown>, arrivalTime?: number, shard?: string): string =>
  JSON.stringify({ ...(arrivalTime === undefined ? {} : { arrivalTime }), ...(shard === undefined ? {} : { shard }), data: JSON.stringify(payload) });

const SPEC = parseSpec(
  specDoc({
    watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 },
    features: [
      { name: 'cnt_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
      { name: 'spend_1h', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 300_000 }, aggregate: 'sum', field: 'amount' },
      { name: 'session_last', window: { type: 'session', gapMs: 600_000 }, aggregate: 'last', field: 'amount' },
    ],
  }),
);
const FRAUD = parseSpecJson(readFileSync(join(REPO, 'bin/specs/fraud.json'), 'utf8'));
const FRAUD_EVENTS = join(REPO, 'bin/specs/fraud-records.jsonl');

describe('training rows: no leakage', () => {
  // 55 s into its minute: every event below is in the minute holding T.
  const T = 1_700_000_035_000;
  const events = file([
    event({ user: 'u', ts: T - 50_000, amount: 1, id: 'e1' }, T - 49_000),
    event({ user: 'u', ts: T - 40_000, amount: 2, id: 'e2' }, T), // arrives exactly at T: in T's row
    event({ user: 'u', ts: T - 45_000, amount: 4, id: 'e3' }, T + 1), // event time before T, arrived 1 ms after
    event({ user: 'u', ts: T - 1, amount: 8, id: 'e4' }, T + 1),
    event({ user: 'v', ts: T - 1, amount: 16, id: 'e5' }, T + 1),
  ]);
  const labels = file([
    JSON.stringify({ key: 'u', time: T + 1, id: 'after' }),
    JSON.stringify({ key: 'u', time: T, id: 'at' }),
    JSON.stringify({ key: 'u', time: new Date(T).toISOString(), id: 'at-iso' }),
    JSON.stringify({ key: 'v', time: T, id: 'v-at' }),
    JSON.stringify({ key: 'u', time: T - 1, id: 'before' }),
  ]);

  it.each([1, 2, 2000])('a record arriving 1 ms after the label time is never in its row; one arriving at it is (reader batches of %i)', async (batchSize) => {
    const out = outDir();
    const summary = await trainingSet({ spec: SPEC, eventsPath: events, labelsPath: labels, outDir: out, batchSize });
    const rows = readJsonl(join(out, 'training.jsonl'));
    expect(rows.map((r) => [r.id, r.features])).toEqual([
      ['after', { cnt_1m: 4, spend_1h: 15, session_last: 8 }],
      ['at', { cnt_1m: 2, spend_1h: 3, session_last: 2 }],
      ['at-iso', { cnt_1m: 2, spend_1h: 3, session_last: 2 }],
      ['v-at', { cnt_1m: 0, spend_1h: 0, session_last: null }],
      ['before', { cnt_1m: 1, spend_1h: 1, session_last: 1 }],
    ]);
    expect(summary).toEqual({ as: 'served', labels: 5, rows: 5, skipped: 0, keysNeverSeen: 0, rowsAllEmpty: 1, unavailableValues: 0, events: 5 });
  });
});

describe('training rows equal serving on the events that arrived by each label time', () => {
  it('on the fraud story, at every arrival time, a millisecond before and after, for every key', async () => {
    const lines = readFileSync(FRAUD_EVENTS, 'utf8').split('\n').filter((l) => l.length > 0);
    const records = lines.map((l, i) => parseInputLine(l, i + 1));
    const keys = ['user_05', 'acct_fraudster', 'user_01', 'never_seen'];
    const times = [...new Set(records.flatMap((r) => [r.arrivalTime! - 1, r.arrivalTime!, r.arrivalTime! + 1]))];
    const labelDocs = times.flatMap((time) => keys.map((key) => ({ key, time })));
    const out = outDir();
    const summary = await trainingSet({ spec: FRAUD, eventsPath: FRAUD_EVENTS, labelsPath: file(labelDocs.map((l) => JSON.stringify(l))), outDir: out, batchSize: 7, sweepEveryRecords: 10 });
    expect(summary.keysNeverSeen).toBe(1);
    const rows = readJsonl(join(out, 'training.jsonl'));
    expect(rows).toHaveLength(labelDocs.length);
    rows.forEach((row, i) => {
      const { key, time } = labelDocs[i]!;
      const engine = new WindowEngine(FRAUD);
      engine.processBatch(records.filter((r) => r.arrivalTime! <= time));
      const ents = engine.keyState(key)?.ents ?? [];
      const shard = keyShard(ents);
      const served = serveFeatures(engine.runtimes, ents, time, { watermark: shard === undefined ? null : engine.watermark(shard), writtenAt: time });
      expect(row, `${key} at ${time}`).toEqual({ key, time, features: Object.fromEntries(served.map((s) => [s.feature, s.value])) });
    });
  });
});

/** The value of the window holding T in a replay's windows.jsonl, as --as final reads it. */
function finalFromReplay(spec: PipelineSpec, windows: readonly Record<string, unknown>[], key: string, time: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const f of spec.features) {
    const w = f.window;
    const mine = windows.filter((x) => x.feature === f.name && x.key === key);
    let hit: Record<string, unknown> | undefined;
    if (w.type === 'tumbling' || w.type === 'sliding') {
      const slide = w.type === 'sliding' ? w.slideMs : w.sizeMs;
      const start = (Math.floor((time - w.sizeMs) / slide) + 1) * slide;
      hit = mine.find((x) => x.windowStart === start);
    } else {
      hit = mine.filter((x) => (x.windowStart as number) <= time && time < (x.windowEnd as number)).sort((a, b) => (b.windowStart as number) - (a.windowStart as number))[0];
    }
    out[f.name] = hit !== undefined ? (hit.value as number) : f.aggregate === 'count' || f.aggregate === 'sum' || f.aggregate === 'distinct' ? 0 : null;
  }
  return out;
}

describe('--as final', () => {
  it.each(['dlq', 'update'] as const)('reads the replay\'s final windows holding each label time (latePolicy %s)', async (latePolicy) => {
    const spec = parseSpecJson(JSON.stringify({ ...FRAUD, latePolicy }));
    const lines = readFileSync(FRAUD_EVENTS, 'utf8').split('\n').filter((l) => l.length > 0);
    const arrivals = lines.map((l, i) => parseInputLine(l, i + 1).arrivalTime!);
    const keys = ['user_05', 'acct_fraudster', 'user_01', 'user_18'];
    const labelDocs = arrivals.flatMap((a, i) => keys.map((key, k) => ({ key, time: a + ((i * 7 + k * 13_000) % 600_000) - 300_000 })));
    const replayOut = outDir();
    await replay({ spec, inputPath: FRAUD_EVENTS, outDir: replayOut });
    const windows = readJsonl(join(replayOut, 'windows.jsonl'));
    const out = outDir();
    const summary = await trainingSet({ spec, eventsPath: FRAUD_EVENTS, labelsPath: file(labelDocs.map((l) => JSON.stringify(l))), outDir: out, mode: 'final' });
    expect(summary.as).toBe('final');
    const rows = readJsonl(join(out, 'training.jsonl'));
    rows.forEach((row, i) => {
      const { key, time } = labelDocs[i]!;
      expect(row.features, `${key} at ${time}`).toEqual(finalFromReplay(spec, windows, key, time));
    });
    // Lateness changed some values: the served rows differ from the final ones somewhere.
    const servedOut = outDir();
    await trainingSet({ spec, eventsPath: FRAUD_EVENTS, labelsPath: file(labelDocs.map((l) => JSON.stringify(l))), outDir: servedOut });
    const served = readJsonl(join(servedOut, 'training.jsonl'));
    expect(served.some((r, i) => JSON.stringify(r.features) !== JSON.stringify(rows[i]!.features))).toBe(true);
  });
});

describe('outputs', () => {
  it('rows in the labels\' order with their fields; CSV quoted after RFC 4180; skipped labels listed with line and reason', async () => {
    const events = file([event({ user: 'u', ts: 1000, amount: 5, id: 'a' }, 1000), event({ user: 42, ts: 2000, amount: 7, id: 'b' }, 2000)]);
    const labels = file([
      JSON.stringify({ key: 'u', time: 1500, note: 'a "quoted", comma\nand newline', extra: { n: [1, 2] } }),
      '',
      JSON.stringify({ time: 1500 }),
      JSON.stringify({ key: 42, time: 2500, cnt_1m: 'a label field named like a feature' }),
      JSON.stringify({ key: 'u', time: 'yesterday' }),
      JSON.stringify({ key: '', time: 3 }),
      JSON.stringify({ key: 'u' }),
    ]);
    const out = outDir();
    const summary = await trainingSet({ spec: SPEC, eventsPath: events, labelsPath: labels, outDir: out });
    expect(summary).toEqual({ as: 'served', labels: 6, rows: 2, skipped: 4, keysNeverSeen: 0, rowsAllEmpty: 0, unavailableValues: 0, events: 2 });
    expect(readJsonl(join(out, 'training.jsonl'))).toEqual([
      { key: 'u', time: 1500, note: 'a "quoted", comma\nand newline', extra: { n: [1, 2] }, features: { cnt_1m: 1, spend_1h: 5, session_last: 5 } },
      { key: 42, time: 2500, cnt_1m: 'a label field named like a feature', features: { cnt_1m: 1, spend_1h: 7, session_last: 7 } },
    ]);
    expect(readFileSync(join(out, 'training.csv'), 'utf8')).toBe(
      'key,time,note,extra,cnt_1m,features.cnt_1m,spend_1h,session_last\r\n' +
        'u,1500,"a ""quoted"", comma\nand newline","{""n"":[1,2]}",,1,5,5\r\n' +
        '42,2500,,,a label field named like a feature,1,7,7\r\n',
    );
    expect(readJsonl(join(out, 'skipped-labels.jsonl'))).toEqual([
      { line: 3, reason: 'key is missing', label: { time: 1500 } },
      { line: 5, reason: 'time must be a time (epoch milliseconds or ISO-8601), got "yesterday"', label: { key: 'u', time: 'yesterday' } },
      { line: 6, reason: 'key must be a non-empty string or a finite number, got ""', label: { key: '', time: 3 } },
      { line: 7, reason: 'time is missing', label: { key: 'u' } },
    ]);
  });
});

const cli = (args: readonly string[]): Promise<CliRun> => runCli('bin/training-set.ts', args);

describe('bad input, through the CLI', () => {
  const spec = join(REPO, 'bin/specs/fraud.json');
  const goodLabels = file([JSON.stringify({ key: 'user_05', time: 1768469000000 })]);
  const ev = (payload: Record<string, unknown>, arrivalTime?: number): string => event({ user_id: 'user_05', event_time: 1768468000000, amount: 1, event_id: String(arrivalTime), ...payload }, arrivalTime);

  it('names the line of a label that is not JSON, of an event without arrivalTime or arriving before the previous one, and removes earlier outputs', async () => {
    const out = outDir();
    const ok = await cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', join(REPO, 'bin/specs/fraud-labels.jsonl'), '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    // The README's quick start shows this summary.
    expect(JSON.parse(ok.stdout)).toMatchObject({ as: 'served', labels: 11, rows: 11, skipped: 0, keysNeverSeen: 0, rowsAllEmpty: 0 });
    const [notJson, noArrival, backwards, notObject] = await Promise.all([
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', file([JSON.stringify({ key: 'a', time: 1 }), '', '{"key": "a", time']), '--out', out]),
      cli(['--config', spec, '--events', file([ev({}, 5), ev({})]), '--labels', goodLabels, '--out', outDir()]),
      cli(['--config', spec, '--events', file([ev({}, 5), ev({}, 7), ev({}, 6)]), '--labels', goodLabels, '--out', outDir()]),
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', file(['[1]', JSON.stringify({ key: 'a', time: 1, features: {} })]), '--out', outDir()]),
    ]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^error: --labels line 3: not valid JSON \(.+\); no output kept \(removed the partial training\.jsonl, training\.csv, skipped-labels\.jsonl from .+\)\n$/);
    expect(existsSync(join(out, 'training.jsonl'))).toBe(false);
    expect(noArrival.code).toBe(1);
    expect(noArrival.stderr).toBe('error: --events line 2: "arrivalTime" is missing; training rows need each event\'s arrival time (epoch milliseconds) to know what had arrived by a label\'s time\n');
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toBe('error: --events line 3: arrivalTime 6 is before the previous event\'s 7; give the events in arrival order\n');
    expect(notObject.code).toBe(1);
    expect(notObject.stderr).toBe('error: --labels line 1: must be a JSON object {"key": ..., "time": ...}, got [1]\n');
  });

  it('refuses an unknown --as, a missing labels file and a label field named "features"; warns about skipped labels', async () => {
    const [badAs, noLabels, featuresField, skipped] = await Promise.all([
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', goodLabels, '--out', outDir(), '--as', 'later']),
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', join(tmp, 'none.jsonl'), '--out', outDir()]),
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', file([JSON.stringify({ key: 'user_05', time: 1 }), JSON.stringify({ key: 'user_05', time: 1768469000000, features: 1 })]), '--out', outDir()]),
      cli(['--config', spec, '--events', FRAUD_EVENTS, '--labels', file([JSON.stringify({ key: 'user_05' }), JSON.stringify({ key: 'user_05', time: 1768469000000 })]), '--out', join(tmp, 'skipped-out')]),
    ]);
    expect(badAs.code).toBe(64);
    expect(badAs.stderr).toMatch(/^error: --as must be served or final, got "later"\nusage:/);
    expect(noLabels.code).toBe(1);
    expect(noLabels.stderr).toBe(`error: --labels ${join(tmp, 'none.jsonl')}: no such file; give the path of a labels file (one JSON object per line with "key" and "time")\n`);
    expect(featuresField.code).toBe(1);
    expect(featuresField.stderr).toBe('error: --labels line 2: has a field "features", which the row\'s features would replace; rename it\n');
    expect(skipped.code, skipped.stderr).toBe(0);
    // Its one row has no event before it: the empty-rows warning follows.
    expect(skipped.stderr.split('\n')[0]).toBe(`warning: 1 label(s) skipped (no usable key or time); see ${join(tmp, 'skipped-out')}/skipped-labels.jsonl`);
    expect(skipped.stderr.split('\n')[1]).toMatch(/^warning: every one of the 1 training rows is empty/);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ labels: 2, rows: 1, skipped: 1 });
  });
});
