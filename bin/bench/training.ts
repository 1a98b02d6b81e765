/**
 * Training rows beside the replay of the same events (`npm run bench -- --training`): the bench workload, labels
 * for keys drawn like the events' (a label picks a random event's key) at times spread evenly over the arrivals,
 * each run in a process of its own (bin/bench/timed-run.ts) for its wall time and peak resident memory; replay and
 * training runs alternate, the best of each is kept.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_SPEC, generateWorkload, prng, writeWorkload } from './workload';

export interface TrainingBenchOptions {
  readonly records: number;
  readonly keys: number;
  readonly labels: number;
  readonly spacingMs: number;
  readonly runs: number;
  readonly dir: string;
}

interface Timed {
  readonly ms: number;
  readonly maxRssMb: number;
}

function timedRun(args: readonly string[]): Promise<Timed> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', join(__dirname, 'timed-run.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Timed) : reject(new Error(`timed run ${args[0]} failed (exit code ${code})`)))),
  );
}

export async function runTrainingBench(o: TrainingBenchOptions): Promise<string[]> {
  const lines = generateWorkload({ records: o.records, keys: o.keys, seed: 7, spacingMs: o.spacingMs });
  const events = join(o.dir, 'events.jsonl');
  await writeWorkload(events, lines);
  const rnd = prng(11);
  const first = lines[0]!.arrivalTime;
  const span = lines[lines.length - 1]!.arrivalTime - first;
  const labels: string[] = [];
  while (labels.length < o.labels) {
    let key: unknown;
    try {
      key = (JSON.parse(lines[Math.floor(rnd() * lines.length)]!.data) as { user_id?: unknown }).user_id;
    } catch {
      continue; // a malformed record of the workload
    }
    if (typeof key !== 'string') continue;
    labels.push(JSON.stringify({ key, time: Math.round(first + rnd() * span), label: rnd() < 0.01 ? 1 : 0 }));
  }
  const labelsPath = join(o.dir, 'labels.jsonl');
  writeFileSync(labelsPath, `${labels.join('\n')}\n`);
  const specPath = join(o.dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(BENCH_SPEC));
  let replay: Timed = { ms: Infinity, maxRssMb: Infinity };
  let training: Timed = { ms: Infinity, maxRssMb: Infinity };
  for (let i = 0; i < o.runs; i++) {
    const r = await timedRun(['replay', specPath, events, join(o.dir, 'replay-out')]);
    const t = await timedRun(['training', specPath, events, labelsPath, join(o.dir, 'training-out')]);
    if (r.ms < replay.ms) replay = r;
    if (t.ms < training.ms) training = t;
  }
  const ratio = training.ms / replay.ms;
  return [
    `training rows (${o.labels.toLocaleString('en-US')} labels over ${o.records.toLocaleString('en-US')} events, ${BENCH_SPEC.features.length} features), each run in its own process, best of ${o.runs}:`,
    `  replay of the events          ${replay.ms.toFixed(0).padStart(7)} ms  peak resident ${replay.maxRssMb.toFixed(0)} MB`,
    `  training rows                 ${training.ms.toFixed(0).padStart(7)} ms  peak resident ${training.maxRssMb.toFixed(0)} MB`,
    `  ratio training / replay       ${ratio.toFixed(2)}x   (target ≤ 1.5x: ${ratio <= 1.5 ? 'met' : 'missed'})`,
  ];
}
