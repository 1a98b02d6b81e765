/**
 * `npm run cost` (options: bin/cli/commands.ts):
 *
 *   npm run cost -- --summary DIR/summary.json[,...] [--rates 10,100,1000] [--serving-reads R] [--serving-ms MS]
 *                   [--target-utilization P] [--min-capacity N] [--flink-sink-units W] [--json]
 *       cost per million events of file runs' usage at list prices (bin/cost/prices.ts), at each rate: the
 *       consumer, scoring (predictions table, predictions stream), labels (a run with --labels) and features
 *       endpoint reads (R per event, priced by their requests); the tables on demand and provisioned; Flink with
 *       its online-store writes
 *   npm run cost -- --curve [--rates ...] [--records N] [--keys N] [--target-utilization P] [--min-capacity N]
 *                   [--plot FILE.svg] [--doc docs/cost.md] [--json]
 *       the cost/freshness curve of the reference workload, measured on local emulators (bin/cost/curve.ts)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSUMER_FUNCTION_DEFAULTS, SERVING_FUNCTION_DEFAULTS } from '../lambda/contract/resources';
import { LABELS_FUNCTION_DEFAULTS } from '../lib/labels-consumer';
import { type ParsedArgs, UsageError, helpText, parseArgs } from './cli/args';
import { COST_CLI } from './cli/commands';
import { CliFileError, checkReadableFile, prepareOutputFile } from './cli/files';
import { silenceSdkNodeVersionWarning } from './cli/node-support';
import { runMain } from './cli/run-main';
import { BACKFILL_WORKER_RATES, backfillCost, backfillCostLines, defaultPartitions } from './cost/backfill';
import { runCurve } from './cost/curve';
import { type ProvisionedModel, DEFAULT_PROVISIONED_MODEL, costPerMillion, flinkSmallestPerMillion, flinkSmallestPerMonth, flinkWithSinkPerMillion, servingReadCost } from './cost/model';
import { curveSvg } from './cost/plot';
import { PRICES, PRICE_LIST_DATE, PRICE_REGION } from './cost/prices';
import { COST_BEGIN, COST_END, capacityLines, curveLines, flinkSinkText, priceHeading, provisionedText, readmeSection, replaceSection, runCostLines, unconfirmedLines } from './cost/report';
import { readRunSummary } from './cost/run-summary';
import { startEmulators } from './local/emulators';

export const CURVE_WINDOWS_S = [0, 1, 5, 30] as const;
/**
 * Billed duration assumed for one features endpoint read (a warm function's one BatchGetItem round trip): stated
 * with every figure, and --serving-ms replaces it.
 */
export const DEFAULT_SERVING_MS = 20;
/** One key item up to 4 KB read eventually consistent (the endpoint's default read). */
export const SERVING_READ_UNITS = 0.5;

function list(option: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0)) throw new UsageError(`--${option} must be a comma-separated list without empty items, got "${text}"`);
  return items;
}

function rates(text: string | undefined): number[] {
  if (text === undefined) return [10, 100, 1000];
  return list('rates', text).map((s) => {
    const n = Number(s);
    if (!(Number.isFinite(n) && n > 0 && n <= 1_000_000)) throw new UsageError(`--rates: each rate must be a number of events per second above 0 and at most 1000000, got "${s}"`);
    return n;
  });
}

/** --target-utilization and --min-capacity, checked as the stack checks them. */
function provisionedModel(args: ParsedArgs): ProvisionedModel {
  const targetUtilization = (args['target-utilization'] as number | undefined) ?? DEFAULT_PROVISIONED_MODEL.targetUtilization;
  if (!(Number.isFinite(targetUtilization) && targetUtilization >= 20 && targetUtilization <= 90)) throw new UsageError(`--target-utilization must be a percentage from 20 to 90, got ${targetUtilization}`);
  const minUnits = (args['min-capacity'] as number | undefined) ?? DEFAULT_PROVISIONED_MODEL.minUnits;
  if (!(Number.isInteger(minUnits) && minUnits >= 1)) throw new UsageError(`--min-capacity must be a whole number of capacity units, 1 or more, got ${minUnits}`);
  return { targetUtilization, minUnits };
}

async function main(): Promise<number> {
  silenceSdkNodeVersionWarning();
  const args = parseArgs(process.argv.slice(2), COST_CLI);
  if (args.help) {
    process.stdout.write(helpText(COST_CLI));
    return 0;
  }
  if (args.backfill !== undefined) return backfillEstimate(args);
  const curve = args.curve === true;
  if (curve === (args.summary !== undefined)) throw new UsageError('give either --summary FILE[,FILE...], --curve or --backfill N');
  if (!curve) for (const name of ['records', 'keys', 'plot', 'doc'] as const) if (args[name] !== undefined) throw new UsageError(`--${name} goes with --curve`);
  const rateList = rates(args.rates as string | undefined);
  const provisioned = provisionedModel(args);
  const json = args.json === true;
  const out = (line: string) => process.stdout.write(`${line}\n`);

  if (!curve) {
    const runs = list('summary', args.summary as string).map(readRunSummary);
    const readsPerEvent = (args['serving-reads'] as number | undefined) ?? 0;
    if (!(Number.isFinite(readsPerEvent) && readsPerEvent >= 0)) throw new UsageError(`--serving-reads must be a number of reads per event, 0 or more, got ${readsPerEvent}`);
    const servingMs = (args['serving-ms'] as number | undefined) ?? DEFAULT_SERVING_MS;
    if (!(Number.isFinite(servingMs) && servingMs >= 1)) throw new UsageError(`--serving-ms must be a billed duration of at least 1 ms, got ${servingMs}`);
    const serving = { readsPerEvent, ms: servingMs, memoryMb: SERVING_FUNCTION_DEFAULTS.memorySizeMb, readUnitsPerRead: SERVING_READ_UNITS };
    const sinkUnits = args['flink-sink-units'] as number | undefined;
    if (sinkUnits !== undefined && !(Number.isFinite(sinkUnits) && sinkUnits >= 0)) throw new UsageError(`--flink-sink-units must be write units per event, 0 or more, got ${sinkUnits}`);
    const results = runs.map((run) => ({
      path: run.path,
      records: run.records,
      usage: run.usage,
      ...(run.labels === undefined ? {} : { labels: run.labels }),
      costs: rateList.map((rate) =>
        costPerMillion({
          records: run.records,
          usage: run.usage,
          rate,
          memoryMb: CONSUMER_FUNCTION_DEFAULTS.memorySizeMb,
          serving,
          provisioned,
          ...(run.labels === undefined ? {} : { labels: { ...run.labels, memoryMb: LABELS_FUNCTION_DEFAULTS.memorySizeMb } }),
        }),
      ),
      flink: rateList.map((rate) => flinkWithSinkPerMillion(rate, sinkUnits ?? (run.usage.dynamodbWriteUnits - run.usage.dynamodbPredictionsWriteUnits) / run.records, provisioned)),
    }));
    const perMillionReads = 1e6 * servingReadCost(serving);
    if (json) {
      out(
        JSON.stringify(
          { region: PRICE_REGION, priceListDate: PRICE_LIST_DATE, prices: PRICES, serving: { ...serving, perMillionReads }, provisioned, flinkSmallestPerMonth: flinkSmallestPerMonth(), flinkSmallestPerMillion: Object.fromEntries(rateList.map((r) => [r, flinkSmallestPerMillion(r)])), runs: results },
          null,
          2,
        ),
      );
      return 0;
    }
    out(`USD per million events: ${priceHeading()}`);
    for (const r of results) for (const line of runCostLines(r, r.costs, r.flink)) out(line);
    out(
      `Features endpoint: ${readsPerEvent} read(s) per event priced above; a million reads cost ${perMillionReads.toFixed(2)} USD (each: 1 Lambda request, ${servingMs} ms billed at ${SERVING_FUNCTION_DEFAULTS.memorySizeMb} MB, ${SERVING_READ_UNITS} read unit for one key item up to 4 KB read eventually consistent; the function URL adds no charge).`,
    );
    out(`Flink smallest: 1 KPU + 1 orchestration KPU + 50 GB running storage = $${flinkSmallestPerMonth().toFixed(2)} a month; the stream costs the same under either consumer.`);
    out(`${provisionedText(provisioned)}.`);
    out(
      `${flinkSinkText()}: ${sinkUnits === undefined ? "the run's own state-table write units per event (it writes each changed key's item once per batch: one write per changed key per second at batches of one second of events; --flink-sink-units replaces it)" : `${sinkUnits} write units per event (--flink-sink-units)`}.`,
    );
    for (const line of unconfirmedLines()) out(line);
    return 0;
  }

  const positive = (name: string, fallback: number): number => {
    const v = (args[name] as number | undefined) ?? fallback;
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
    return v;
  };
  const records = positive('records', 3000);
  const keys = positive('keys', 5000);
  const plot = args.plot as string | undefined;
  const readme = args.doc as string | undefined;
  if (plot !== undefined) prepareOutputFile('--plot', plot);
  let readmeText: string | undefined;
  if (readme !== undefined) {
    checkReadableFile('--doc', readme, 'a Markdown file with a cost section');
    readmeText = readFileSync(readme, 'utf8');
    if (replaceSection(readmeText, '') === '') throw new CliFileError(`--doc ${readme} has no section to replace: it needs one line "${COST_BEGIN}" and, after it, one "${COST_END}"`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cost-curve-'));
  const emulators = await startEmulators();
  Object.assign(process.env, emulators.env());
  try {
    const points = await runCurve({ rates: rateList, windowsS: CURVE_WINDOWS_S, records, keys, dir, provisioned, progress: (l) => process.stderr.write(`${l}\n`) });
    if (json) out(JSON.stringify({ region: PRICE_REGION, priceListDate: PRICE_LIST_DATE, recordsPerRun: records, keys, points }, null, 2));
    else {
      out(`cost/freshness of the reference workload: ${priceHeading()}; ${records} records per run (or one batch)`);
      for (const line of curveLines(points)) out(line);
      out(`Flink smallest: $${flinkSmallestPerMonth().toFixed(2)} a month. Processing time is measured on local emulators, not on Lambda.`);
      out('');
      out(`DynamoDB capacity beside Flink with its sink, at one-second batches: ${provisionedText(provisioned)}; ${flinkSinkText()} (this consumer's state-table write units per event at that batch).`);
      for (const line of capacityLines(points)) out(line);
      for (const line of unconfirmedLines()) out(line);
    }
    if (plot !== undefined) {
      writeFileSync(plot, curveSvg(points, { title: 'Cost per million events against freshness', note: `${PRICE_REGION} list prices of ${PRICE_LIST_DATE}; Lambda Arm ${CONSUMER_FUNCTION_DEFAULTS.memorySizeMb} MB; provisioned stream; ${records} records per run` }));
      process.stderr.write(`wrote ${plot}\n`);
    }
    if (readme !== undefined && readmeText !== undefined) {
      writeFileSync(readme, replaceSection(readmeText, readmeSection(points, records, keys, provisioned)));
      process.stderr.write(`updated the cost section of ${readme}\n`);
    }
    return 0;
  } finally {
    await emulators.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(COST_CLI, main);

function backfillEstimate(args: ParsedArgs): number {
  const records = args.backfill as number;
  if (!Number.isInteger(records) || records < 1) throw new UsageError(`--backfill must be a positive integer of records, got ${records}`);
  let [segmentRate, partitionRate]: number[] = [BACKFILL_WORKER_RATES.segment, BACKFILL_WORKER_RATES.partition];
  if (args['worker-rates'] !== undefined) {
    const parts = list('worker-rates', args['worker-rates'] as string).map(Number);
    if (parts.length !== 2 || parts.some((n) => !(Number.isFinite(n) && n > 0))) throw new UsageError(`--worker-rates must be two positive numbers SEG,PART, got "${String(args['worker-rates'])}"`);
    [segmentRate, partitionRate] = parts;
  }
  const p = args.partitions as number | undefined;
  if (p !== undefined && (!Number.isInteger(p) || p < 1 || p > 10_000)) throw new UsageError(`--partitions must be an integer from 1 to 10000, got ${p}`);
  const partitions = p ?? defaultPartitions(records, partitionRate);
  const estimates = rates(args.rates as string | undefined).map((rate) => {
    const input = { records, rate, partitions, segmentRate: segmentRate!, partitionRate: partitionRate! };
    return { input, cost: backfillCost(input) };
  });
  if (args.json === true) {
    process.stdout.write(`${JSON.stringify({ region: PRICE_REGION, priceListDate: PRICE_LIST_DATE, estimates }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`USD at list prices: ${priceHeading()}\n`);
  for (const e of estimates) for (const line of backfillCostLines(e.cost, e.input)) process.stdout.write(`${line}\n`);
  for (const line of unconfirmedLines()) process.stdout.write(`${line}\n`);
  return 0;
}
