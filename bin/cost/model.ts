/**
 * Cost per million events from a run's usage (bin/local/usage.ts) at the list prices of prices.ts. What the run
 * used is scaled to a million of its records; the stream's hourly charges (shard-hours, on-demand stream-hours) do
 * not scale with records but with time, so they depend on the event rate: a million events take 10⁶ / rate seconds.
 */
import type { Usage } from '../local/usage';
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
  /** Everything but the stream: what the consumer's own design decides. */
  readonly consumer: number;
  readonly totalProvisioned: number;
  readonly totalOnDemand: number;
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
    consumer,
    totalProvisioned: consumer + kinesisShardHours + kinesisPutPayloadUnits,
    totalOnDemand: consumer + kinesisOnDemand,
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
