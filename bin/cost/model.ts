/**
 * Cost per million events from a run's usage (bin/local/usage.ts) at the list prices of prices.ts. What the run
 * used is scaled to a million of its records; the stream's hourly charges (shard-hours, on-demand stream-hours) do
 * not scale with records but with time, so they depend on the event rate: a million events take 10⁶ / rate seconds.
 */
import type { Usage } from '../local/usage';
import { PROVISIONED_DEFAULTS } from '../../lib/tables';
import { FLINK_SMALLEST, HOURS_PER_MONTH, PRICES } from './prices';

/** Records one provisioned shard takes per second (and 1 MB/s; the bench's records are far below 1 KB). */
const SHARD_RECORDS_PER_SECOND = 1000;
const SHARD_BYTES_PER_SECOND = 1024 * 1024;
const GB = 1024 ** 3;

export interface CostInput {
  readonly records: number;
  readonly usage: Usage;
  /** Events per second, for the stream's hourly charges. */
  readonly rate: number;
  /** The consumer's memory size (GB-seconds). */
  readonly memoryMb: number;
  /** A run with labels: the label records and what the labels consumer used (scaled with the events). */
  readonly labels?: { readonly records: number; readonly usage: Usage; readonly memoryMb: number };
  /** Reads of the features endpoint per event, each priced by its requests (servingReadCost). */
  readonly serving?: ServingReads;
  /**
   * How provisioned tables are priced beside on-demand ones.
   * @default - the stack's defaults: 70 % target utilization, at least 1 unit
   */
  readonly provisioned?: ProvisionedModel;
}

/** Provisioned capacity under auto scaling at steady load. */
export interface ProvisionedModel {
  /** The utilization auto scaling tracks, percent (the stack's targetUtilization). */
  readonly targetUtilization: number;
  /** The fewest units it keeps (the stack's readMin and writeMin). */
  readonly minUnits: number;
}

export const DEFAULT_PROVISIONED_MODEL: ProvisionedModel = { targetUtilization: PROVISIONED_DEFAULTS.targetUtilization, minUnits: PROVISIONED_DEFAULTS.writeMin };

/**
 * Capacity units auto scaling holds at steady load: what is consumed per second over the target utilization,
 * rounded up, at least the minimum. Short peaks above it (a batch's writes land within its processing time) are
 * taken by DynamoDB's burst capacity, up to 300 seconds of unused units.
 */
export function provisionedUnits(unitsPerSecond: number, p: ProvisionedModel = DEFAULT_PROVISIONED_MODEL): number {
  // Rounded to 9 digits first, so that 70 units at 70 % are 100 units, not 101.
  return Math.max(p.minUnits, Math.ceil(Number(((unitsPerSecond * 100) / p.targetUtilization).toFixed(9))));
}

/** One table's reads and writes per event priced both ways, per million events at a rate. */
export interface TableCost {
  readonly writeUnitsPerEvent: number;
  readonly readUnitsPerEvent: number;
  /** Request units at the on-demand prices. */
  readonly onDemand: number;
  /** The write and read capacity units auto scaling holds at this rate. */
  readonly wcu: number;
  readonly rcu: number;
  /** Those units for the hours a million events take. */
  readonly provisioned: number;
}

export function tableCost(writeUnitsPerEvent: number, readUnitsPerEvent: number, rate: number, p: ProvisionedModel = DEFAULT_PROVISIONED_MODEL): TableCost {
  const hours = 1e6 / rate / 3600;
  const wcu = provisionedUnits(writeUnitsPerEvent * rate, p);
  const rcu = provisionedUnits(readUnitsPerEvent * rate, p);
  return {
    writeUnitsPerEvent,
    readUnitsPerEvent,
    onDemand: 1e6 * (writeUnitsPerEvent * PRICES.dynamodbWriteUnit.usd + readUnitsPerEvent * PRICES.dynamodbReadUnit.usd),
    wcu,
    rcu,
    provisioned: hours * (wcu * PRICES.dynamodbWcuHour.usd + rcu * PRICES.dynamodbRcuHour.usd),
  };
}

/** The state table and the predictions table (units 0 without scoring: that table then holds its minimum only when deployed). */
export interface TablesCost {
  readonly state: TableCost;
  readonly predictions: TableCost;
  readonly onDemand: number;
  readonly provisioned: number;
}

function tablesCost(state: TableCost, predictions: TableCost, scoring: boolean): TablesCost {
  const p = scoring ? predictions.provisioned : 0;
  return { state, predictions, onDemand: state.onDemand + predictions.onDemand, provisioned: state.provisioned + p };
}

/**
 * A features endpoint read as counted requests: one Lambda request (the function URL adds no charge), its duration
 * at the function's memory, and the read units of the key items it reads (eventually consistent: half a unit per
 * item up to 4 KB).
 */
export interface ServingReads {
  readonly readsPerEvent: number;
  /** Billed duration of one read (the handler's time; an assumption the caller states). */
  readonly ms: number;
  readonly memoryMb: number;
  readonly readUnitsPerRead: number;
}

/** Dollars for one features endpoint read. */
export function servingReadCost(s: Omit<ServingReads, 'readsPerEvent'>): number {
  return PRICES.lambdaRequest.usd + (s.ms / 1000) * (s.memoryMb / 1024) * PRICES.lambdaGbSecond.usd + s.readUnitsPerRead * PRICES.dynamodbReadUnit.usd;
}

/** Dollars per million events, by component. */
export interface CostPerMillion {
  readonly rate: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly sqs: number;
  readonly s3Put: number;
  readonly s3Get: number;
  /** Of `s3Put`: the stream archive's PUTs. */
  readonly archivePut: number;
  /** Storing the archive of a million events for a month: Standard, Infrequent Access, Glacier Instant Retrieval (not in the totals). */
  readonly archiveStorageMonth: { readonly standard: number; readonly infrequentAccess: number; readonly glacierInstant: number };
  /** Firehose ingesting the same million events (at least 5 KB each), for comparison (not in the totals). */
  readonly firehoseIngest: number;
  /** Provisioned stream: shard-hours at the shards the rate needs, and PUT payload units. */
  readonly kinesisShardHours: number;
  readonly kinesisPutPayloadUnits: number;
  /** On-demand stream: stream-hours, data in (1 KB per record at least), data retrieved. */
  readonly kinesisOnDemand: number;
  /** Of the DynamoDB writes and reads: the predictions table's (scoring's predictions and evaluation window counts). */
  readonly scoringDynamodb: number;
  /** The predictions stream (one record per prediction): provisioned (shard-hours and PUT payload units) and on-demand. */
  readonly predictionsStreamProvisioned: number;
  readonly predictionsStreamOnDemand: number;
  /** The labels consumer (Lambda requests and duration, DynamoDB, SQS dead letters), for the run's labels per event. */
  readonly labelsConsumer: number;
  /** The labels stream: provisioned and on-demand (0 without labels). */
  readonly labelsStreamProvisioned: number;
  readonly labelsStreamOnDemand: number;
  /** Reads of the features endpoint (0 without serving reads). */
  readonly serving: number;
  /** Everything but the stream: what the consumer's own design decides. */
  readonly consumer: number;
  readonly totalProvisioned: number;
  readonly totalOnDemand: number;
  /** The consumer's own reads and writes, by table, on-demand and provisioned. */
  readonly consumerTables: TablesCost;
  /** `consumer` with both tables provisioned (auto scaling at steady load) instead of on demand. */
  readonly consumerProvisionedTables: number;
  /** Everything the tables take (the consumer, the labels consumer, features endpoint reads), by table. */
  readonly allTables: TablesCost;
  /** The totals with both tables provisioned. */
  readonly totalProvisionedTables: number;
  readonly totalOnDemandProvisionedTables: number;
}

/** Provisioned shards a stream needs at `rate` events/s of `bytesPerEvent`. */
export function shardsFor(rate: number, bytesPerEvent: number): number {
  return Math.max(1, Math.ceil(rate / SHARD_RECORDS_PER_SECOND), Math.ceil((rate * bytesPerEvent) / SHARD_BYTES_PER_SECOND));
}

export function costPerMillion(c: CostInput): CostPerMillion {
  if (!(c.records > 0)) throw new RangeError(`records must be positive, got ${c.records}`);
  if (!(c.rate > 0)) throw new RangeError(`rate must be positive, got ${c.rate}`);
  const u = c.usage;
  const scale = 1e6 / c.records;
  const hours = 1e6 / c.rate / 3600;
  const bytesPerEvent = u.kinesisRecordsPut > 0 ? u.kinesisBytesPut / u.kinesisRecordsPut : 0;
  const lambdaRequests = u.invocations * scale * PRICES.lambdaRequest.usd;
  const lambdaDuration = (u.consumerMs / 1000) * (c.memoryMb / 1024) * scale * PRICES.lambdaGbSecond.usd;
  const dynamodbWrites = u.dynamodbWriteUnits * scale * PRICES.dynamodbWriteUnit.usd;
  const dynamodbReads = u.dynamodbReadUnits * scale * PRICES.dynamodbReadUnit.usd;
  const sqs = u.sqsBilledRequests * scale * PRICES.sqsFifoRequest.usd;
  const s3Put = (u.s3PutRequests + u.s3ListRequests) * scale * PRICES.s3PutRequest.usd;
  const s3Get = u.s3GetRequests * scale * PRICES.s3GetRequest.usd;
  const archivePut = (u.s3ArchivePutRequests ?? 0) * scale * PRICES.s3PutRequest.usd;
  const archiveGb = ((u.s3ArchiveBytes ?? 0) * scale) / GB;
  const archiveStorageMonth = { standard: archiveGb * PRICES.s3StandardGbMonth.usd, infrequentAccess: archiveGb * PRICES.s3InfrequentAccessGbMonth.usd, glacierInstant: archiveGb * PRICES.s3GlacierInstantGbMonth.usd };
  const firehoseIngest = ((Math.max(5, Math.ceil(bytesPerEvent / 1024 / 5) * 5) * 1024 * 1e6) / GB) * PRICES.firehoseGbIn.usd;
  const kinesisShardHours = shardsFor(c.rate, bytesPerEvent) * hours * PRICES.kinesisShardHour.usd;
  const kinesisPutPayloadUnits = u.kinesisPutPayloadUnits * scale * PRICES.kinesisPutPayloadUnit.usd;
  const kinesisOnDemand =
    hours * PRICES.kinesisOnDemandStreamHour.usd +
    ((u.kinesisBilledKbPut * 1024 * scale) / GB) * PRICES.kinesisOnDemandGbIn.usd +
    ((u.kinesisBytesRead * scale) / GB) * PRICES.kinesisOnDemandGbOut.usd;
  const consumer = lambdaRequests + lambdaDuration + dynamodbWrites + dynamodbReads + sqs + s3Put + s3Get;
  const scoringDynamodb = (u.dynamodbPredictionsWriteUnits * PRICES.dynamodbWriteUnit.usd + u.dynamodbPredictionsReadUnits * PRICES.dynamodbReadUnit.usd) * scale;
  // Every extra stream is billed by the hour like the events stream, at the shards its own rate needs.
  const streams = (recordsPerEvent: number, bytesPerRecord: number, payloadUnits: number, billedKb: number, bytesRead: number): { provisioned: number; onDemand: number } => ({
    provisioned: shardsFor(c.rate * recordsPerEvent, bytesPerRecord) * hours * PRICES.kinesisShardHour.usd + payloadUnits * scale * PRICES.kinesisPutPayloadUnit.usd,
    onDemand: hours * PRICES.kinesisOnDemandStreamHour.usd + ((billedKb * 1024 * scale) / GB) * PRICES.kinesisOnDemandGbIn.usd + ((bytesRead * scale) / GB) * PRICES.kinesisOnDemandGbOut.usd,
  });
  const none = { provisioned: 0, onDemand: 0 };
  const predictionsStream =
    u.predictionRecordsPut === 0 ? none : streams(u.predictionRecordsPut / c.records, u.predictionBytesPut / u.predictionRecordsPut, u.predictionPutPayloadUnits, u.predictionBilledKbPut, 0);
  const l = c.labels;
  const lu = l?.usage;
  const labelsConsumer =
    lu === undefined
      ? 0
      : (lu.invocations * PRICES.lambdaRequest.usd +
          (lu.consumerMs / 1000) * (l!.memoryMb / 1024) * PRICES.lambdaGbSecond.usd +
          lu.dynamodbWriteUnits * PRICES.dynamodbWriteUnit.usd +
          lu.dynamodbReadUnits * PRICES.dynamodbReadUnit.usd +
          lu.sqsBilledRequests * PRICES.sqsFifoRequest.usd) *
        scale;
  const labelsStream =
    lu === undefined || lu.kinesisRecordsPut === 0 ? none : streams(lu.kinesisRecordsPut / c.records, lu.kinesisBytesPut / lu.kinesisRecordsPut, lu.kinesisPutPayloadUnits, lu.kinesisBilledKbPut, lu.kinesisBytesRead);
  const serving = c.serving === undefined ? 0 : c.serving.readsPerEvent * 1e6 * servingReadCost(c.serving);
  const extras = labelsConsumer + serving;
  // Units per event by table: the predictions table's are counted apart; the labels consumer writes only there,
  // features endpoint reads read only the state table.
  const p = c.provisioned ?? DEFAULT_PROVISIONED_MODEL;
  const scoring = u.predictionRecordsPut > 0 || u.dynamodbPredictionsWriteUnits > 0;
  const perEvent = (n: number) => n / c.records;
  const stateWrites = perEvent(u.dynamodbWriteUnits - u.dynamodbPredictionsWriteUnits);
  const stateReads = perEvent(u.dynamodbReadUnits - u.dynamodbPredictionsReadUnits);
  const predictionsWrites = perEvent(u.dynamodbPredictionsWriteUnits);
  const predictionsReads = perEvent(u.dynamodbPredictionsReadUnits);
  const consumerTables = tablesCost(tableCost(stateWrites, stateReads, c.rate, p), tableCost(predictionsWrites, predictionsReads, c.rate, p), scoring);
  const servingReadUnits = c.serving === undefined ? 0 : c.serving.readsPerEvent * c.serving.readUnitsPerRead;
  const allTables = tablesCost(
    tableCost(stateWrites, stateReads + servingReadUnits, c.rate, p),
    tableCost(predictionsWrites + perEvent(lu?.dynamodbWriteUnits ?? 0), predictionsReads + perEvent(lu?.dynamodbReadUnits ?? 0), c.rate, p),
    scoring,
  );
  const totalProvisioned = consumer + kinesisShardHours + kinesisPutPayloadUnits + predictionsStream.provisioned + labelsStream.provisioned + extras;
  const totalOnDemand = consumer + kinesisOnDemand + predictionsStream.onDemand + labelsStream.onDemand + extras;
  return {
    rate: c.rate,
    lambdaRequests,
    lambdaDuration,
    dynamodbWrites,
    dynamodbReads,
    sqs,
    s3Put,
    s3Get,
    archivePut,
    archiveStorageMonth,
    firehoseIngest,
    kinesisShardHours,
    kinesisPutPayloadUnits,
    kinesisOnDemand,
    scoringDynamodb,
    predictionsStreamProvisioned: predictionsStream.provisioned,
    predictionsStreamOnDemand: predictionsStream.onDemand,
    labelsConsumer,
    labelsStreamProvisioned: labelsStream.provisioned,
    labelsStreamOnDemand: labelsStream.onDemand,
    serving,
    consumer,
    totalProvisioned,
    totalOnDemand,
    consumerTables,
    consumerProvisionedTables: consumer - consumerTables.onDemand + consumerTables.provisioned,
    allTables,
    totalProvisionedTables: totalProvisioned - allTables.onDemand + allTables.provisioned,
    totalOnDemandProvisionedTables: totalOnDemand - allTables.onDemand + allTables.provisioned,
  };
}

/** Managed Service for Apache Flink's smallest application for a month: KPU-hours (orchestration included) and running storage. */
export function flinkSmallestPerMonth(): number {
  const f = FLINK_SMALLEST;
  return (f.kpus + f.orchestrationKpus) * HOURS_PER_MONTH * PRICES.flinkKpuHour.usd + f.kpus * f.storageGbPerKpu * PRICES.flinkRunningStorageGbMonth.usd;
}

/** That month's cost per million events at `rate` events/s (the stream costs the same with either consumer). */
export function flinkSmallestPerMillion(rate: number): number {
  return flinkSmallestPerMonth() / ((rate * HOURS_PER_MONTH * 3600) / 1e6);
}

/**
 * Flink serving the same features at the same freshness: its smallest application, plus the online-store writes it
 * needs (a DynamoDB table the features endpoint reads). Assumption, stated with every figure: one write per changed
 * key per second, each as large as the key item this consumer writes; given as write units per event
 * (`writeUnitsPerEvent`), which is what this consumer's state table takes at batches of one second of events.
 */
export interface FlinkWithSink {
  readonly rate: number;
  readonly writeUnitsPerEvent: number;
  readonly compute: number;
  /** The sink table's writes on demand, and provisioned under auto scaling. */
  readonly sink: TableCost;
  readonly onDemand: number;
  readonly provisioned: number;
}

export function flinkWithSinkPerMillion(rate: number, writeUnitsPerEvent: number, p: ProvisionedModel = DEFAULT_PROVISIONED_MODEL): FlinkWithSink {
  if (!(writeUnitsPerEvent >= 0)) throw new RangeError(`writeUnitsPerEvent must be 0 or more, got ${writeUnitsPerEvent}`);
  const compute = flinkSmallestPerMillion(rate);
  const sink = tableCost(writeUnitsPerEvent, 0, rate, p);
  return { rate, writeUnitsPerEvent, compute, sink, onDemand: compute + sink.onDemand, provisioned: compute + sink.provisioned };
}
