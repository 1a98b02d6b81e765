/**
 * Published on-demand list prices, US East (N. Virginia), as read on PRICE_LIST_DATE from the sources named on each
 * price. Lower volume tiers only (the first billion-scale tier of each service), no free tier, no savings plans.
 * A price the sources could not confirm for us-east-1 carries `confirmed: false`, and `npm run cost` says so.
 */

export const PRICE_REGION = 'us-east-1';
/** The day these prices were looked up. */
export const PRICE_LIST_DATE = '2026-11-30';
/** AWS bills monthly figures on 730 hours. */
export const HOURS_PER_MONTH = 730;

export interface Price {
  /** Per unit. */
  readonly usd: number;
  readonly per: string;
  /** How many units the source quotes the price for (1, a thousand, a million). */
  readonly quotedFor: number;
  readonly source: string;
  readonly confirmed: boolean;
  readonly note?: string;
}

const price = (quoted: number, quotedFor: number, per: string, source: string, confirmed = true, note?: string): Price => ({
  usd: quoted / quotedFor,
  per,
  quotedFor,
  source,
  confirmed,
  ...(note ? { note } : {}),
});

export const PRICES = {
  // Arm (the stack deploys the consumer on ARM_64, lib/consumer.ts); first 7.5 billion GB-s a month.
  lambdaRequest: price(0.2, 1e6, 'request', 'aws.amazon.com/lambda/pricing; $0.20 per 1M requests, x86 and Arm alike (git.mcrn.ar lambda_local_runner docs/lambda-13-cost.md)'),
  lambdaGbSecond: price(0.0000133334, 1, 'GB-second (Arm)', 'aws.amazon.com/lambda/pricing; Arm $0.0000133334 per GB-s, US East (cloudchipr.com/blog/aws-lambda-pricing)'),
  dynamodbWriteUnit: price(0.625, 1e6, 'write request unit (on-demand)', 'aws.amazon.com/dynamodb/pricing/on-demand; $0.625 per million WRU, US East (airbyte.com/data-engineering-resources/dynamodb-pricing)'),
  dynamodbReadUnit: price(0.125, 1e6, 'read request unit (on-demand)', 'aws.amazon.com/dynamodb/pricing/on-demand; $0.125 per million RRU, US East (airbyte.com/data-engineering-resources/dynamodb-pricing)'),
  // Provisioned capacity (the stack's stateTableCapacity and predictions.tableCapacity): billed per unit held per hour, used or not.
  dynamodbWcuHour: price(0.00065, 1, 'write capacity unit-hour (provisioned)', 'aws.amazon.com/dynamodb/pricing/provisioned; $0.00065 per WCU-hour, US East (N. Virginia) list price'),
  dynamodbRcuHour: price(0.00013, 1, 'read capacity unit-hour (provisioned)', 'aws.amazon.com/dynamodb/pricing/provisioned; $0.00013 per RCU-hour, US East (N. Virginia) list price'),
  // The dead-letter queue is FIFO (lambda/contract/resources.ts); each 64 KB chunk of a request is one request.
  sqsFifoRequest: price(0.5, 1e6, 'FIFO request (64 KB chunk)', 'aws.amazon.com/sqs/pricing; $0.50 per million FIFO requests (cloudburn.io/blog/amazon-sqs-pricing, March 2026)'),
  s3PutRequest: price(0.005, 1000, 'PUT, COPY, POST or LIST request (S3 Standard)', 'aws.amazon.com/s3/pricing; $0.005 per 1,000 (c3x.dev/blog/s3-request-fees-explained)'),
  s3GetRequest: price(0.0004, 1000, 'GET or HEAD request (S3 Standard)', 'aws.amazon.com/s3/pricing; $0.0004 per 1,000 (c3x.dev/blog/s3-request-fees-explained)'),
  // Storage of the stream archive (lib/archive-bucket.ts): Standard, then Infrequent Access, then Glacier Instant Retrieval.
  s3StandardGbMonth: price(0.023, 1, 'GB-month (S3 Standard, first 50 TB)', 'aws.amazon.com/s3/pricing; $0.023 per GB-month, US East'),
  s3InfrequentAccessGbMonth: price(0.0125, 1, 'GB-month (S3 Standard-IA)', 'aws.amazon.com/s3/pricing; $0.0125 per GB-month, US East'),
  s3GlacierInstantGbMonth: price(0.004, 1, 'GB-month (S3 Glacier Instant Retrieval)', 'aws.amazon.com/s3/pricing; $0.004 per GB-month, US East'),
  // The alternative archive: Firehose bills each record rounded up to 5 KB, and keeps no sequence number or arrival time by itself.
  firehoseGbIn: price(0.029, 1, 'GB ingested, records rounded up to 5 KB (Firehose)', 'aws.amazon.com/firehose/pricing; $0.029 per GB, first 500 TB, US East', false, 'not confirmed from a stored source'),
  // The backfill state machine (lib/backfill.ts): Standard workflows, Distributed Map children included, bill per state transition.
  stepFunctionsTransition: price(0.025, 1000, 'state transition (Standard workflow)', 'aws.amazon.com/step-functions/pricing; $0.0250 per 1,000 state transitions, US East (N. Virginia), retries included'),
  kinesisShardHour: price(0.015, 1, 'shard-hour (provisioned)', 'aws.amazon.com/kinesis/data-streams/pricing; $0.015 per shard-hour in a worked example (kindatechnical.com, Kinesis pricing lesson)'),
  kinesisPutPayloadUnit: price(
    0.014,
    1e6,
    'PUT payload unit of 25 KB (provisioned)',
    'aws.amazon.com/kinesis/data-streams/pricing; $0.014 per million PUT payload units (github.com/EveryMundo/aws-kinesis-client docs)',
    false,
    'the source quotes US West (Oregon); US East assumed equal',
  ),
  // On-demand bills each record rounded up to 1 KB in (aws.amazon.com/kinesis/data-streams/pricing, "Data-In").
  kinesisOnDemandStreamHour: price(0.04, 1, 'stream-hour (on-demand)', 'aws.amazon.com/kinesis/data-streams/pricing', false, 'no stored source shows the rate; the same rate as the idle-cost table below'),
  kinesisOnDemandGbIn: price(0.08, 1, 'GB in, records rounded up to 1 KB (on-demand)', 'aws.amazon.com/kinesis/data-streams/pricing', false, 'no stored source shows the rate; the same rate as the idle-cost table below'),
  kinesisOnDemandGbOut: price(0.04, 1, 'GB retrieved (on-demand)', 'aws.amazon.com/kinesis/data-streams/pricing', false, 'no stored source shows the rate; the same rate as the idle-cost table below'),
  flinkKpuHour: price(0.11, 1, 'KPU-hour', 'aws.amazon.com/managed-service-apache-flink/pricing; $0.11 per KPU-hour in its US East examples (api-evangelist/kinesis plans/kinesis-plans-pricing.yml, read 2026-09-20)'),
  flinkRunningStorageGbMonth: price(0.1, 1, 'GB-month of running application storage', 'aws.amazon.com/managed-service-apache-flink/pricing; $0.10 per GB-month, 50 GB per KPU (same source)'),
} as const;

export type PriceName = keyof typeof PRICES;

/** Managed Service for Apache Flink's smallest application: 1 KPU, plus the one orchestration KPU every application pays. */
export const FLINK_SMALLEST = { kpus: 1, orchestrationKpus: 1, storageGbPerKpu: 50 } as const;
