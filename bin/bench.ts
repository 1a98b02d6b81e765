/**
 * `npm run bench` — prints throughput figures of the replay engine on a generated workload (see
 * bin/bench/workload.ts) beside the cost of merely reading and parsing the same file, and beside updating every
 * window a record belongs to one by one. Figures only; nothing here passes or fails.
 *
 * A second section runs the consumer's batch work on local emulators (bin/bench/emulator-bench.ts): DynamoDB
 * writes and capacity units per 1000 records and handler time per batch for batch sizes 100, 1000 and 10000.
 * `--skip-emulators` leaves it out; `--emulator-records N` sets the records per batch size (default 5000, and at
 * least two batches). `--spacing-ms N` sets the mean event-time gap between events (default 50: 20 events/s), which
 * decides how many records share a window and so how many final windows each record produces.
 *
 * A serving section times the serving function (lambda/core/serving.ts) per key, on the state halfway through.
 *
 * `--steady-state [--rate N] [--minutes N] [--batch-size N] [--keys N]` only runs the consumer on the emulators over
 * a long stretch of event time (bin/bench/steady-state.ts) and prints its units per quarter beside their bounds.
 *
 * `--kinesis-put [--kinesis-emulator kinesalite|kinesis-mock] [--records N] [--step N]` only measures the local
 * Kinesis emulator (bin/bench/kinesis-put.ts): put time per step of N records (default 5,000) as the stream fills to
 * --records (default 40,000), then the time to read it all back.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InputRecord, WindowEngine } from '../lambda/core/engine';
import { parseInputLine } from '../lambda/core/input-line';
import { NO_ID_PAGES, encodeKeyItem } from '../lambda/core/key-item';
import type { KeyState } from '../lambda/core/keyed-state';
import type { PipelineSpec } from '../lambda/core/spec';
import { UsageError, helpText, parseArgs } from './cli/args';
import { BENCH_CLI } from './cli/commands';
import { prepareOutputFile } from './cli/files';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { runMain } from './cli/run-main';
import { readLines } from './cli/lines';
import { BENCH_SPEC, SKETCH_SPEC, generateWorkload, writeLongWorkload, writeWorkload } from './bench/workload';
import { PerWindowEngine } from './bench/per-window';
import { runTrainingBench } from './bench/training';
import { formatEmulatorBench, runEmulatorBench } from './bench/emulator-bench';
import { formatSteadyState, runSteadyStateBench } from './bench/steady-state';
import { formatBackfillBench, runBackfillBench } from './bench/backfill';
import { formatKinesisPutBench, runKinesisPutBench } from './bench/kinesis-put';
import { formatServingBench, formatServingReadBench, runServingBench, runServingReadBench } from './bench/serving';
import type { KinesisEmulator } from './local/emulators';
import { replay } from './replay/run';

function best<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  return (async () => {
    let bestMs = Infinity;
    let value: T | undefined;
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      value = await fn();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (ms < bestMs) bestMs = ms;
    }
    return { ms: bestMs, value: value as T };
  })();
}

async function parseOnly(path: string): Promise<number> {
  let n = 0;
  for await (const line of readLines(path)) {
    const o = JSON.parse(line) as { data: string };
    try {
      JSON.parse(o.data);
    } catch {
      // malformed payloads are part of the workload
    }
    n++;
  }
  return n;
}

async function loadRecords(path: string): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  let line = 0;
  for await (const text of readLines(path)) out.push(parseInputLine(text, ++line));
  return out;
}

function withoutSessions(spec: PipelineSpec): PipelineSpec {
  return { ...spec, features: spec.features.filter((f) => f.window.type !== 'session') };
}

const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} records/s`;

async function main(): Promise<void> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), BENCH_CLI);
  if (args.help) {
    process.stdout.write(helpText(BENCH_CLI));
    return;
  }
  if (args['kinesis-put'] === true) {
    const emulator = (args['kinesis-emulator'] as string | undefined) ?? 'kinesalite';
    if (emulator !== 'kinesalite' && emulator !== 'kinesis-mock') throw new UsageError(`--kinesis-emulator must be kinesalite or kinesis-mock, got ${emulator}`);
    const result = await runKinesisPutBench({
      emulator: emulator as KinesisEmulator,
      records: (args.records as number | undefined) ?? 40_000,
      step: (args.step as number | undefined) ?? 5_000,
      progress: (line) => console.log(line),
    });
    for (const line of formatKinesisPutBench(result)) console.log(line);
    return;
  }
  const positive = (name: string, fallback: number): number => {
    const v = (args[name] as number | undefined) ?? fallback;
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
    return v;
  };
  if (args.backfill === true) {
    const result = await runBackfillBench({ records: positive('records', 1_000_000), keys: positive('keys', 5_000), progress: (line) => console.log(line) });
    for (const line of formatBackfillBench(result)) console.log(line);
    return;
  }
  if (args['steady-state'] === true) {
    const result = await runSteadyStateBench({
      rate: positive('rate', 50),
      minutes: positive('minutes', 20),
      batchSize: positive('batch-size', 100),
      keys: positive('keys', 2_000),
      progress: (line) => console.log(line),
    });
    for (const line of formatSteadyState(result)) console.log(line);
    return;
  }
  const records = positive('records', 300_000);
  const keys = positive('keys', 5_000);
  const runs = positive('runs', 3);
  const emulatorRecords = positive('emulator-records', 5_000);
  if (args['write-input'] !== undefined) {
    // Only write the workload (any size, in chunks) as a replay input file, plus the benchmark's spec beside it.
    const path = args['write-input'] as string;
    prepareOutputFile('--write-input', path);
    // The bench's own workload (its seed and --spacing-ms), streamed: any size, in arrival order throughout.
    await writeLongWorkload(path, { records, keys, seed: 7, spacingMs: (args['spacing-ms'] as number | undefined) ?? 50 });
    writeFileSync(`${path}.spec.json`, JSON.stringify(BENCH_SPEC, null, 2));
    console.log(`wrote ${records.toLocaleString('en-US')} records to ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) and the spec to ${path}.spec.json`);
    return;
  }
  if (args.training === true) {
    const dir = mkdtempSync(join(tmpdir(), 'training-bench-'));
    try {
      const lines = await runTrainingBench({ records, keys, labels: positive('labels', 30_000), spacingMs: (args['spacing-ms'] as number | undefined) ?? 50, runs, dir });
      for (const line of lines) console.log(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'feature-bench-'));
  try {
    const input = join(dir, 'records.jsonl');
    const spacingMs = (args['spacing-ms'] as number | undefined) ?? 50;
    if (!(spacingMs > 0)) throw new UsageError(`--spacing-ms must be a positive number of milliseconds, got ${spacingMs}`);
    const lines = generateWorkload({ records, keys, seed: 7, spacingMs });
    await writeWorkload(input, lines);
    const mb = statSync(input).size / 1e6;
    const hours = (records * spacingMs) / 3_600_000;
    console.log(`workload: ${records.toLocaleString('en-US')} records, ${keys.toLocaleString('en-US')} Zipf keys (s=1.1), ${mb.toFixed(1)} MB, seed delay mix, 1% duplicates, malformed records`);
    console.log(`event rate: ${(1000 / spacingMs).toLocaleString('en-US')} events/s over ${hours >= 1 ? `${hours.toFixed(1)} h` : `${(hours * 60).toFixed(0)} min`} of event time`);
    console.log(`features: ${BENCH_SPEC.features.map((f) => f.name).join(', ')}`);
    console.log(`node ${process.version}, best of ${runs} runs\n`);

    const parse = await best(runs, () => parseOnly(input));
    console.log(`read + JSON.parse (line and payload)   ${parse.ms.toFixed(0).padStart(7)} ms  ${rate(records, parse.ms)}`);
    const out = join(dir, 'out');
    let cpuMs = Infinity;
    const full = await best(runs, async () => {
      const cpu0 = process.cpuUsage();
      const summary = await replay({ spec: BENCH_SPEC, inputPath: input, outDir: out });
      const cpu = process.cpuUsage(cpu0);
      cpuMs = Math.min(cpuMs, (cpu.user + cpu.system) / 1000);
      return summary;
    });
    console.log(`replay (read, decode, window, write)   ${full.ms.toFixed(0).padStart(7)} ms  ${rate(records, full.ms)}`);
    console.log(`  CPU time of all its threads (reader, engine, writer) ${cpuMs.toFixed(0)} ms`);
    console.log(`  ratio replay / parse                 ${(full.ms / parse.ms).toFixed(2)}x   (target ≤ 4x)`);
    const s = full.value;
    console.log(`  summary: applied ${s.applied}, late pairs ${s.late}, invalid ${s.invalid}, duplicates ${s.duplicates}, final windows ${s.finalWindows}\n`);

    // Window maintenance alone, on records already in memory: sliced engine vs one update per window.
    const recs = await loadRecords(input);
    const spec = withoutSessions(BENCH_SPEC);
    const chunk = 2000;
    const sliced = await best(runs, async () => {
      const e = new WindowEngine(spec, { trackChanges: false });
      let finals = 0;
      for (let i = 0; i < recs.length; i += chunk) finals += e.processBatch(recs.slice(i, i + chunk)).finals.length;
      return finals + e.flush().finals.length;
    });
    const perWindow = await best(runs, async () => {
      const e = new PerWindowEngine(spec);
      let finals = 0;
      for (let i = 0; i < recs.length; i += chunk) {
        e.processBatch(recs.slice(i, i + chunk));
        finals += e.takeFinals();
      }
      e.fire(Infinity);
      finals += e.takeFinals();
      return { updates: e.stateUpdates, finals };
    });
    // The work both designs share (decode, de-duplicate, watermark) bounds any speed-up of window maintenance.
    const shared = await best(runs, async () => {
      const e = new PerWindowEngine({ ...spec, features: [] });
      for (let i = 0; i < recs.length; i += chunk) e.processBatch(recs.slice(i, i + chunk));
      return e.stateUpdates;
    });
    const slicedUpdates = recs.length * spec.features.length;
    console.log(`tumbling + sliding features only (${spec.features.length}), records in memory:`);
    console.log(`  sliced engine (one slice update per record and feature)  ${sliced.ms.toFixed(0).padStart(7)} ms  ${rate(records, sliced.ms)}`);
    console.log(`  per-window updates (every window of every record)        ${perWindow.ms.toFixed(0).padStart(7)} ms  ${rate(records, perWindow.ms)}`);
    console.log(`  speed-up                                                 ${(perWindow.ms / sliced.ms).toFixed(2)}x   (target ≥ 10x)`);
    console.log(`  state updates: sliced ≤ ${slicedUpdates.toLocaleString('en-US')}, per-window ${perWindow.value.updates.toLocaleString('en-US')} (${(perWindow.value.updates / slicedUpdates).toFixed(1)}x)`);
    console.log(`  final windows: sliced ${sliced.value.toLocaleString('en-US')}, per-window ${perWindow.value.finals.toLocaleString('en-US')} (must be equal)`);
    console.log(`  shared work alone (decode, de-duplicate, watermark; no windows) ${shared.ms.toFixed(0).padStart(7)} ms`);
    console.log(`  ceiling for any speed-up here: per-window / shared work    ${(perWindow.ms / shared.ms).toFixed(2)}x`);

    await newerAggregates({ records, keys, spacingMs, runs, dir });

    // Served at the arrival time of the workload's middle record: the state as the consumer holds it then.
    const at = recs[Math.floor(recs.length / 2)]!.arrivalTime!;
    console.log(`\nserving compute (docs/semantics.md §7), the bench spec's ${BENCH_SPEC.features.length} features of every key at T = the middle record's arrival:`);
    for (const line of formatServingBench(runServingBench(BENCH_SPEC, recs, at))) console.log(line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (args['skip-emulators'] !== true) {
    await emulatorSection(emulatorRecords, keys);
    // The client's read cost: items of the keys active halfway through a workload of --emulator-records records.
    const recs = generateWorkload({ records: emulatorRecords, keys, seed: 7, spacingMs: 50 }).map((l, i) => parseInputLine(JSON.stringify(l), i + 1));
    console.log('\nserving reads (the features client):');
    for (const line of formatServingReadBench(await runServingReadBench(BENCH_SPEC, recs, recs[Math.floor(recs.length / 2)]!.arrivalTime!))) console.log(line);
  }
}

// ---- newer aggregates ----------------------------------------------------------------------------------------------

/**
 * The same workload with a merchant id on every event (2,000 merchants, Zipf), replayed with the six features and
 * with the four newer ones added; then the stored state of every key halfway through the stream, in the byte form
 * the consumer writes.
 */
async function newerAggregates(o: { records: number; keys: number; spacingMs: number; runs: number; dir: string }): Promise<void> {
  const input = join(o.dir, 'merchants.jsonl');
  await writeWorkload(input, generateWorkload({ records: o.records, keys: o.keys, seed: 7, spacingMs: o.spacingMs, merchants: 2000 }));
  const extra = SKETCH_SPEC.features.slice(BENCH_SPEC.features.length);
  console.log(`
newer aggregates (same workload plus merchant_id among 2,000 merchants): ${extra.map((f) => `${f.name} (${f.aggregate})`).join(', ')}`);
  const out = join(o.dir, 'out-sketch');
  const six = await best(o.runs, () => replay({ spec: BENCH_SPEC, inputPath: input, outDir: out }));
  const ten = await best(o.runs, () => replay({ spec: SKETCH_SPEC, inputPath: input, outDir: out }));
  console.log(`  replay, the six features                  ${six.ms.toFixed(0).padStart(7)} ms  ${rate(o.records, six.ms)}`);
  console.log(`  replay, the six plus the four newer       ${ten.ms.toFixed(0).padStart(7)} ms  ${rate(o.records, ten.ms)}  (${(ten.ms / six.ms).toFixed(2)}x; ${ten.value.finalWindows.toLocaleString('en-US')} final windows, ${ten.value.firings.toLocaleString('en-US')} firings)`);

  const recs = (await loadRecords(input)).slice(0, Math.floor(o.records / 2));
  const engine = new WindowEngine(SKETCH_SPEC);
  for (let i = 0; i < recs.length; i += 2000) engine.processBatch(recs.slice(i, i + 2000));
  const perKey: number[] = [];
  const perFeature = new Map<string, number[]>();
  // Progress as the consumer stores it: one shard, a 56-digit Kinesis sequence number.
  const shards = new Map([['shardId-000000000000', { lastApplied: '49590338271490256608559692538361571095921575989136588898', maxEventTime: 1_700_000_000_000 }]]);
  // Ids as the consumer keeps them inline: up to 64 (its default inlineIdLimit); a busier key's go to id pages.
  const inline = (ids: KeyState['ids']): Map<number, number> => (ids !== undefined && ids.size <= 64 ? ids : new Map());
  const sizeOf = (ents: KeyState['ents'], ids: KeyState['ids']): number =>
    encodeKeyItem({ runtime: engine.runtimes, state: { ents, ids, paged: undefined, tags: undefined }, shards, ids: inline(ids), idPages: NO_ID_PAGES }).length;
  const bare = sizeOf([], undefined);
  for (const key of engine.keys()) {
    const ks = engine.keyState(key)!;
    ks.ents.forEach((e, fi) => {
      if (!e) return;
      const name = SKETCH_SPEC.features[fi]!.name;
      let sizes = perFeature.get(name);
      if (sizes === undefined) perFeature.set(name, (sizes = []));
      sizes.push(sizeOf(ks.ents.map((x, i) => (i === fi ? x : undefined)), undefined) - bare);
    });
    perKey.push(sizeOf(ks.ents, ks.ids));
  }
  perKey.sort((a, b) => a - b);
  const q = (xs: readonly number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  console.log(`  key item per key halfway through (${perKey.length.toLocaleString('en-US')} keys, all ten features, progress and inline ids included, ids beyond 64 paged):`);
  console.log(`    mean ${mean(perKey).toFixed(0)} B, p50 ${q(perKey, 0.5)} B, p99 ${q(perKey, 0.99)} B, max ${perKey[perKey.length - 1] ?? 0} B`);
  const sized = SKETCH_SPEC.features.map((f) => {
    const xs = [...(perFeature.get(f.name) ?? [])].sort((a, b) => a - b);
    return `${f.name} ${mean(xs).toFixed(0)}/${xs[xs.length - 1] ?? 0}`;
  });
  console.log(`    bytes per feature, mean/max: ${sized.join(', ')}`);

  // The six features' key item: what serving reads (target: one read unit, 4 KB).
  const six6 = new WindowEngine(BENCH_SPEC);
  for (let i = 0; i < recs.length; i += 2000) six6.processBatch(recs.slice(i, i + 2000));
  const items6: number[] = [];
  for (const key of six6.keys()) {
    const ks = six6.keyState(key)!;
    items6.push(encodeKeyItem({ runtime: six6.runtimes, state: ks, shards, ids: inline(ks.ids), idPages: NO_ID_PAGES }).length);
  }
  items6.sort((a, b) => a - b);
  const max6 = items6[items6.length - 1] ?? 0;
  console.log(`  key item of the six features (${items6.length.toLocaleString('en-US')} keys): mean ${mean(items6).toFixed(0)} B, p99 ${q(items6, 0.99)} B, max ${max6} B (target at most 4,096 B: ${max6 <= 4096 ? 'met' : 'missed'})`);
}

// ---- consumer batches on local emulators ------------------------------------------------------------------------

/** The consumer's write cost at 20 and 1,000 events/s, and with one very hot key (15% of events). */
async function emulatorSection(records: number, keys: number): Promise<void> {
  console.log(`\nconsumer batches on local emulators (${records.toLocaleString('en-US')} records per batch size, at least two batches; same workload and keys):`);
  const workloads = [{ spacingMs: 50 }, { spacingMs: 1 }, { spacingMs: 1, hotKeyShare: 0.15 }];
  for (const w of workloads) {
    const result = await runEmulatorBench({ records, keys, batchSizes: [100, 1000], ...w, progress: (line) => console.log(line) });
    console.log('');
    for (const line of formatEmulatorBench(result)) console.log(line);
    console.log('');
  }
}

runMain(BENCH_CLI, async () => {
  await main();
  return 0;
});
