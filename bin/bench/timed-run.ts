/**
 * One timed run in a process of its own, so its peak resident memory is its own: `replay SPEC INPUT OUT` or
 * `training SPEC EVENTS LABELS OUT`. Prints `{"ms", "maxRssMb"}` (the whole process, worker threads included).
 */
import { readFileSync } from 'node:fs';
import { parseSpecJson } from '../../lambda/core/spec';
import { replay } from '../replay/run';
import { trainingSet } from '../training/run';

async function main(): Promise<void> {
  const [what, specPath, ...paths] = process.argv.slice(2);
  const spec = parseSpecJson(readFileSync(specPath!, 'utf8'));
  const t0 = process.hrtime.bigint();
  if (what === 'replay') await replay({ spec, inputPath: paths[0]!, outDir: paths[1]! });
  else await trainingSet({ spec, eventsPath: paths[0]!, labelsPath: paths[1]!, outDir: paths[2]! });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

void main();
