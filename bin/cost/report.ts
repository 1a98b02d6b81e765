/**
 * Text of `npm run cost`: the cost table of file runs, the cost/freshness table, the price list with its sources,
 * and the docs/cost.md section made of them (between COST_BEGIN and COST_END, so a re-run replaces every figure).
 */
import { CONSUMER_FUNCTION_DEFAULTS } from '../../lambda/contract/resources';
import type { CurvePoint } from './curve';
import { type CostPerMillion, DEFAULT_PROVISIONED_MODEL, type FlinkWithSink, type ProvisionedModel, flinkSmallestPerMillion, flinkSmallestPerMonth } from './model';
import { PRICES, PRICE_LIST_DATE, PRICE_REGION, type Price } from './prices';
import type { RunSummary } from './run-summary';

export const COST_BEGIN = '<!-- cost:begin (written by npm run cost -- --curve --doc docs/cost.md) -->';
export const COST_END = '<!-- cost:end -->';

const usd = (n: number): string => (n === 0 ? '$0' : n >= 100 ? `$${n.toFixed(0)}` : n >= 0.01 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`);
const secs = (n: number): string => (n >= 10 ? n.toFixed(0) : n.toFixed(2));

export function priceHeading(): string {
  return `list prices of ${PRICE_LIST_DATE}, ${PRICE_REGION}, on-demand; Lambda Arm at ${CONSUMER_FUNCTION_DEFAULTS.memorySizeMb} MB`;
}

/** A unit price as its source quotes it: per unit, per thousand or per million units. */
export function priceText(p: Price): string {
  const amount = String(Number((p.usd * p.quotedFor).toPrecision(6)));
  return p.quotedFor === 1 ? `$${amount} per ${p.per}` : `$${amount} per ${p.quotedFor === 1000 ? 'thousand' : 'million'} × ${p.per}`;
}

/** The prices the sources did not confirm, one line each (empty when all are confirmed). */
export function unconfirmedLines(): string[] {
  return (Object.values(PRICES) as Price[]).filter((p) => !p.confirmed).map((p) => `unconfirmed price: ${priceText(p)}: ${p.note ?? ''}`);
}

const ROWS: ReadonlyArray<readonly [string, (c: CostPerMillion) => number]> = [
  ['Lambda requests', (c) => c.lambdaRequests],
  ['Lambda duration', (c) => c.lambdaDuration],
  ['DynamoDB writes', (c) => c.dynamodbWrites],
  ['DynamoDB reads', (c) => c.dynamodbReads],
  ['  of which predictions table', (c) => c.scoringDynamodb],
  ['SQS (dead letters)', (c) => c.sqs],
  ['S3 PUT/LIST', (c) => c.s3Put],
  ['  of which archive PUTs', (c) => c.archivePut],
  ['S3 GET', (c) => c.s3Get],
  ['consumer total', (c) => c.consumer],
  ['Kinesis shard-hours', (c) => c.kinesisShardHours],
  ['Kinesis PUT payload units', (c) => c.kinesisPutPayloadUnits],
  ['predictions stream, provisioned', (c) => c.predictionsStreamProvisioned],
  ['labels consumer', (c) => c.labelsConsumer],
  ['labels stream, provisioned', (c) => c.labelsStreamProvisioned],
  ['features endpoint reads', (c) => c.serving],
  ['total, provisioned streams', (c) => c.totalProvisioned],
  ['Kinesis on-demand', (c) => c.kinesisOnDemand],
  ['predictions stream, on-demand', (c) => c.predictionsStreamOnDemand],
  ['labels stream, on-demand', (c) => c.labelsStreamOnDemand],
  ['total, on-demand streams', (c) => c.totalOnDemand],
  ['DynamoDB of the consumer, on-demand', (c) => c.consumerTables.onDemand],
  ['DynamoDB of the consumer, provisioned', (c) => c.consumerTables.provisioned],
  ['consumer total, provisioned tables', (c) => c.consumerProvisionedTables],
  ['total, provisioned streams and tables', (c) => c.totalProvisionedTables],
  ['total, on-demand streams, provisioned tables', (c) => c.totalOnDemandProvisionedTables],
  ['archive kept a month: Standard', (c) => c.archiveStorageMonth.standard],
  ['  in Infrequent Access', (c) => c.archiveStorageMonth.infrequentAccess],
  ['  in Glacier Instant Retrieval', (c) => c.archiveStorageMonth.glacierInstant],
  ['Firehose archive instead: ingest', (c) => c.firehoseIngest],
];

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** The capacity units auto scaling holds, per table, as `WCU/RCU`. */
const held = (c: CostPerMillion, table: 'state' | 'predictions'): string => `${c.allTables[table].wcu}/${c.allTables[table].rcu}`;

/** How provisioned tables are priced, in words. */
export function provisionedText(p: ProvisionedModel): string {
  return `provisioned tables: auto scaling holds consumed units per second / ${p.targetUtilization} %, rounded up, at least ${p.minUnits}, per table, at ${priceText(PRICES.dynamodbWcuHour)} and ${priceText(PRICES.dynamodbRcuHour)}; steady load assumed`;
}

/** Flink's online-store writes, in words. */
export function flinkSinkText(): string {
  return "Flink + sink: the smallest application plus its online-store writes to a DynamoDB table, one write per changed key per second, each the size of this consumer's key item";
}

/** The cost per million events of one run's usage at each rate, with Flink and its sink at `flink` (same rates). */
export function runCostLines(run: RunSummary, costs: readonly CostPerMillion[], flink: readonly FlinkWithSink[] = []): string[] {
  const u = run.usage;
  const perInvocation = u.invocations > 0 ? Math.round(run.records / u.invocations) : 0;
  const l = run.labels;
  return [
    `${run.path}: ${run.records} records, ${u.invocations} invocations (${perInvocation} records each), ${u.dynamodbWriteUnits} DynamoDB write units, ${u.dynamodbReadUnits} read units`,
    `  scoring: ${u.predictionRecordsPut} predictions put, predictions table ${u.dynamodbPredictionsWriteUnits} write units, ${u.dynamodbPredictionsReadUnits} read units; ${
      l === undefined ? 'no labels' : `labels: ${l.records} put, ${l.usage.invocations} invocations, ${l.usage.dynamodbWriteUnits} write units, ${l.usage.dynamodbReadUnits} read units`
    }`,
    ...table(
      ['USD per million events', ...costs.map((c) => `at ${c.rate}/s`)],
      [
        ...ROWS.map(([name, f]) => [name, ...costs.map((c) => usd(f(c)))]),
        ['state table WCU/RCU held', ...costs.map((c) => held(c, 'state'))],
        ...(run.usage.predictionRecordsPut > 0 ? [['predictions table WCU/RCU held', ...costs.map((c) => held(c, 'predictions'))]] : []),
        ['Flink smallest (compute only)', ...costs.map((c) => usd(flinkSmallestPerMillion(c.rate)))],
        ...(flink.length === 0
          ? []
          : [
              ['Flink + sink, on-demand table', ...flink.map((f) => usd(f.onDemand))],
              ['Flink + sink, provisioned table', ...flink.map((f) => usd(f.provisioned))],
              ['  sink WCU held', ...flink.map((f) => String(f.sink.wcu))],
            ]),
      ],
    ).map((l) => `  ${l}`),
  ];
}

const CURVE_HEADER = ['events/s', 'window s', 'batch', 'wait s', 'processing s', 'freshness s', 'DynamoDB WRU/event', 'consumer $/M', 'consumer, provisioned tables $/M', 'provisioned total $/M', 'on-demand total $/M', 'Flink 1 KPU $/M'];

function curveRows(points: readonly CurvePoint[]): string[][] {
  return points.map((p) => [
    String(p.rate),
    String(p.windowS),
    String(p.batchSize),
    secs(p.waitS),
    secs(p.processingS),
    secs(p.freshnessS),
    (p.usage.dynamodbWriteUnits / p.records).toFixed(2),
    usd(p.cost.consumer),
    usd(p.cost.consumerProvisionedTables),
    usd(p.cost.totalProvisioned),
    usd(p.cost.totalOnDemand),
    usd(p.flinkPerMillion),
  ]);
}

export function curveLines(points: readonly CurvePoint[]): string[] {
  return table(CURVE_HEADER, curveRows(points));
}

const CAPACITY_HEADER = [
  'events/s',
  'freshness s',
  'consumer WRU/event',
  'consumer WCU held',
  'consumer, on-demand tables $/M',
  'consumer, provisioned tables $/M',
  'Flink sink WCU held',
  'Flink + sink, on-demand $/M',
  'Flink + sink, provisioned $/M',
  'cheapest',
];

/** The points at one-second batches (window 1 s): one row per rate, the consumer's tables both ways beside Flink with its sink both ways. */
export function capacityPoints(points: readonly CurvePoint[]): CurvePoint[] {
  return points.filter((p) => p.windowS === 1);
}

function cheapest(p: CurvePoint): string {
  const options: Array<[string, number]> = [
    ['consumer, provisioned', p.cost.consumerProvisionedTables],
    ['consumer, on-demand', p.cost.consumer],
    ['Flink, provisioned', p.flink.provisioned],
    ['Flink, on-demand', p.flink.onDemand],
  ];
  return options.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
}

function capacityRows(points: readonly CurvePoint[]): string[][] {
  return capacityPoints(points).map((p) => [
    String(p.rate),
    secs(p.freshnessS),
    p.flink.writeUnitsPerEvent.toFixed(2),
    String(p.cost.consumerTables.state.wcu),
    usd(p.cost.consumer),
    usd(p.cost.consumerProvisionedTables),
    String(p.flink.sink.wcu),
    usd(p.flink.onDemand),
    usd(p.flink.provisioned),
    cheapest(p),
  ]);
}

/** The capacity table: on-demand against provisioned tables beside Flink with its sink, at one-second batches. */
export function capacityLines(points: readonly CurvePoint[]): string[] {
  return table(CAPACITY_HEADER, capacityRows(points));
}

/** A Markdown table; `numeric` right-aligns every column but the first. */
function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, numeric: boolean): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i > 0 && numeric ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** The cost section body of docs/cost.md: prices with sources, the curve, and what the runs were. */
export function readmeSection(points: readonly CurvePoint[], recordsPerRun: number, keys: number, provisioned: ProvisionedModel = DEFAULT_PROVISIONED_MODEL): string {
  const prices = (Object.values(PRICES) as Price[]).map((p) => [priceText(p), p.confirmed ? p.source : `${p.source} (**unconfirmed**: ${p.note ?? ''})`]);
  const runs = [...new Map(points.map((p) => [`${p.rate}/${p.batchSize}`, p])).values()];
  return [
    COST_BEGIN,
    `Prices: ${priceHeading()}, per unit:`,
    '',
    ...markdownTable(['price', 'source'], prices, false),
    '',
    `Managed Service for Apache Flink's smallest application: 1 KPU + 1 orchestration KPU + 50 GB running storage = $${flinkSmallestPerMonth().toFixed(2)} a month.`,
    '',
    `Cost/freshness curve: the reference workload (BENCH_SPEC, ${keys.toLocaleString('en-US')} Zipf keys) through the local file run, one run per rate and batch size of ${recordsPerRun.toLocaleString('en-US')} records (or one batch where a batch is larger): ${runs.map((p) => `${p.rate}/s × ${p.batchSize}`).join(', ')}. Processing time is the handler's time per batch on this machine's emulators, not on Lambda; where it exceeds the wait, one shard's consumer does not keep up with that rate here.`,
    '',
    ...markdownTable(CURVE_HEADER, curveRows(points), true),
    '',
    `DynamoDB capacity beside Flink with its sink, at one-second batches (window 1 s, the rows above): ${provisionedText(provisioned)}. ${flinkSinkText()}: the write units per event of this consumer's state table at that batch ("consumer WRU/event"), since it too writes each changed key's item once per batch. The stream costs the same under either consumer and is left out; the consumer's figures keep its S3 and SQS requests (final windows, the archive, dead letters), which Flink would need too and which are charged to the consumer only.`,
    '',
    ...markdownTable(CAPACITY_HEADER, capacityRows(points), true),
    COST_END,
  ].join('\n');
}

/** Replaces the section between the markers; the markers must be there once each. */
export function replaceSection(doc: string, section: string): string {
  const a = doc.indexOf(COST_BEGIN);
  const b = doc.indexOf(COST_END);
  if (a < 0 || b < a || doc.indexOf(COST_BEGIN, a + 1) >= 0) return '';
  return doc.slice(0, a) + section + doc.slice(b + COST_END.length);
}
