/**
 * `npm run cost -- --backfill N`: what a backfill of N archived records costs on AWS, and how long it takes, with
 * the stack's defaults (lib/backfill.ts): requests and GB-seconds counted from the state machine's design
 * (docs/history.md, "Backfills") and the workers' record rates measured by `npm run bench -- --backfill`.
 */
import { PRICES } from './prices';

/**
 * Records per second of one worker thread, from `npm run bench -- --backfill` on the 2-core machine the figures of
 * docs/history.md come from: planning segments, and running partitions. A Lambda worker of 3008 MB has about two
 * vCPUs; these figures take it as one.
 */
export const BACKFILL_WORKER_RATES = { segment: 80_000, partition: 22_000 } as const;

export interface BackfillCostInput {
  readonly records: number;
  /** Events per second the archive was written at (sets its hours, so its segments and objects). */
  readonly rate: number;
  readonly partitions: number;
  /** Records per second of one worker: planning a segment, and running a partition. */
  readonly segmentRate: number;
  readonly partitionRate: number;
  /** @default 3008 */
  readonly memoryMb?: number;
  /** Distributed Map children at once. @default 100 */
  readonly maxConcurrency?: number;
  /** Records per archive object (the consumer's batch). @default 500 */
  readonly recordsPerObject?: number;
}

export interface BackfillCost {
  readonly segments: number;
  readonly partitions: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly transitions: number;
  readonly s3Puts: number;
  readonly s3Gets: number;
  readonly usd: { readonly lambda: number; readonly stepFunctions: number; readonly s3: number; readonly total: number };
  /** Estimated wall time: the two fan-outs, each as many rounds as the concurrency needs. */
  readonly wallSeconds: number;
  /** The largest partition's work in seconds: above 900 a worker would pass Lambda's 15 minutes. */
  readonly partitionSeconds: number;
  readonly segmentSeconds: number;
}

export function backfillCost(o: BackfillCostInput): BackfillCost {
  const memoryGb = (o.memoryMb ?? 3008) / 1024;
  const concurrency = o.maxConcurrency ?? 100;
  const segments = Math.max(1, Math.ceil(o.records / (o.rate * 3600)));
  const objects = Math.ceil(o.records / (o.recordsPerObject ?? 500));
  const p = o.partitions;
  const segmentSeconds = o.records / segments / o.segmentRate;
  const partitionSeconds = o.records / p / o.partitionRate;
  const lambdaRequests = 3 + segments + p;
  const lambdaGbSeconds = (o.records / o.segmentRate + o.records / o.partitionRate) * memoryGb;
  // Top level: start, 5 states, end; each Distributed Map child: start, its task, end.
  const transitions = 7 + 3 * (segments + p);
  // Plan: run.json, and the date and hour folders listed (a page for the dates, one per day); each segment: its
  // hour's LIST pages, a part per partition and a summary; combine: bases; each partition: up to 4 outputs and a
  // summary; finish: summary.json. (LIST requests are priced as PUTs.)
  const lists = 1 + Math.ceil(segments / 24) + segments * Math.ceil(objects / segments / 1000);
  const s3Puts = 1 + lists + segments * (p + 1) + 1 + 5 * p + 1;
  // Every step reads run.json; segments read their archive objects; combine reads summaries; partitions read
  // bases.json and a part per segment; finish reads the partitions' summaries.
  const s3Gets = lambdaRequests + objects + segments + p * (1 + segments) + p;
  const lambda = lambdaRequests * PRICES.lambdaRequest.usd + lambdaGbSeconds * PRICES.lambdaGbSecond.usd;
  const stepFunctions = transitions * PRICES.stepFunctionsTransition.usd;
  const s3 = s3Puts * PRICES.s3PutRequest.usd + s3Gets * PRICES.s3GetRequest.usd;
  const wallSeconds = Math.ceil(segments / concurrency) * segmentSeconds + Math.ceil(p / concurrency) * partitionSeconds;
  return { segments, partitions: p, lambdaRequests, lambdaGbSeconds, transitions, s3Puts, s3Gets, usd: { lambda, stepFunctions, s3, total: lambda + stepFunctions + s3 }, wallSeconds, partitionSeconds, segmentSeconds };
}

/** Partitions for N records: enough that each worker's share fits well inside 15 minutes at the partition rate. */
export function defaultPartitions(records: number, partitionRate: number): number {
  return Math.min(10_000, Math.max(1, Math.ceil(records / (partitionRate * 300))));
}

function duration(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}

export function backfillCostLines(c: BackfillCost, o: BackfillCostInput): string[] {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const usd = (x: number): string => `$${x < 1 ? x.toFixed(4) : x.toFixed(2)}`;
  return [
    `Backfill of ${n(o.records)} archived records (archive written at ${n(o.rate)} events/s: ${n(c.segments)} hour segments), ${c.partitions} partitions, workers of ${o.memoryMb ?? 3008} MB:`,
    `  worker rates (npm run bench -- --backfill): planning ${n(o.segmentRate)} records/s, partitions ${n(o.partitionRate)} records/s`,
    `  Lambda: ${n(c.lambdaRequests)} invocations, ${n(c.lambdaGbSeconds)} GB-s: ${usd(c.usd.lambda)}`,
    `  Step Functions: ${n(c.transitions)} state transitions: ${usd(c.usd.stepFunctions)}`,
    `  S3: ${n(c.s3Puts)} PUT/LIST, ${n(c.s3Gets)} GET: ${usd(c.usd.s3)}`,
    `  total ${usd(c.usd.total)}; wall time about ${(c.wallSeconds / 60).toFixed(1)} min (a segment ${c.segmentSeconds.toFixed(0)} s, a partition ${c.partitionSeconds.toFixed(0)} s${c.partitionSeconds > 900 || c.segmentSeconds > 900 ? ': OVER the 15-minute Lambda limit, raise the partitions' : ''})`,
    `  one worker alone would take ${duration(o.records / o.segmentRate + o.records / o.partitionRate)}`,
  ];
}
