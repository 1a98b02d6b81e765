/**
 * The client library for model servers: keys' features as of a time T (docs/semantics.md §7), read straight from the key
 * items the consumer writes (one per key, state-store.ts). Up to 100 keys a BatchGetItem, further requests in
 * parallel, unprocessed keys retried; eventually consistent reads unless asked (half the read units). Each item
 * is decoded and served by the same function the training rows use (lambda/core/serving.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SERVING_ENV } from '../contract/resources';
import { type KeyFeatures, entityKey, requestTime } from '../core/feature-request';
import type { Definitions } from '../core/coverage';
import { serveItem } from '../core/serve-item';
import { selectFeatures } from '../core/serving';
import { type PipelineSpec, parseSpecJson } from '../core/spec';
import { specDigest } from '../core/spec-digest';
import { type FeatureRuntime, featureRuntimes } from '../core/windows';
import { ConfigError } from './config';
import { resolveClientLocation } from './endpoints';
import { StateStore } from './state-store';

export interface GetFeaturesOptions {
  /** Time the features are read as of: epoch ms, ISO-8601 or a Date. @default now */
  readonly at?: number | string | Date;
  /** Feature names, in the order wanted. @default every feature of the spec */
  readonly features?: readonly string[];
  /** Strongly consistent reads (twice the read units). @default false */
  readonly consistentRead?: boolean;
}

export interface FeatureClientOptions {
  readonly spec: PipelineSpec;
  /** Table holding the key items: the stack's state table. */
  readonly tableName: string;
  /** @default a client configured from the environment (region, endpoint) */
  readonly dynamo?: DynamoDBClient;
  /**
   * Logs a sample of what it serves, one JSON line per key served, `{"type": "served", "key", "at", "features":
   * {"<name>": value}, "spec": "<digest>"}`, so `npm run consistency` can recompute them offline (the digest
   * names the lateness, late policy and feature definitions served under: core/spec-digest.ts).
   */
  readonly servedLog?: ServedLogOptions;
  /**
   * How long the table's registry of definitions (core/coverage.ts) is kept before it is read again: a changed
   * definition is served as "unavailable" until its windows are whole, from at most this long after it starts.
   * @default 60000
   */
  readonly definitionsMaxAgeMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface ServedLogOptions {
  /** Share of served keys logged, 0 to 1. */
  readonly sampleRate: number;
  /** @default console.log (CloudWatch Logs in a Lambda function) */
  readonly write?: (line: string) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

export class FeatureClient {
  public readonly spec: PipelineSpec;
  private readonly runtimes: FeatureRuntime[];
  private readonly store: StateStore;
  private readonly servedLog: ServedLogOptions | undefined;
  /** The spec's digest, in every served line: the consistency check recomputes only under the same definitions. */
  private readonly digest: string;
  private readonly definitionsMaxAgeMs: number;
  private readonly now: () => number;
  private definitions: { readonly at: number; readonly value: Promise<Map<string, Definitions>> } | undefined;

  public constructor(o: FeatureClientOptions) {
    this.spec = o.spec;
    const rate = o.servedLog?.sampleRate;
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new RangeError(`servedLog.sampleRate must be a number from 0 to 1, got ${rate}`);
    this.servedLog = o.servedLog;
    this.digest = specDigest(o.spec);
    this.runtimes = featureRuntimes(o.spec);
    this.definitionsMaxAgeMs = o.definitionsMaxAgeMs ?? 60_000;
    this.now = o.now ?? Date.now;
    // Not aws-clients.ts: it imports the SQS client too, which the features endpoint's bundle need not load.
    this.store = new StateStore({ client: o.dynamo ?? new DynamoDBClient(resolveClientLocation('DYNAMODB', {})), tableName: o.tableName });
  }

  /** Read units consumed so far, as DynamoDB reported them (key items and the registry of definitions). */
  public get readUnits(): number {
    return this.store.consumedReadUnits;
  }

  /** Of `readUnits`, those of the registry of definitions (read at most once every definitionsMaxAgeMs). */
  public get definitionsReadUnits(): number {
    return this.store.unitsBy.get('read definitions') ?? 0;
  }

  /** BatchGetItem requests sent so far (retries of unprocessed keys not counted). */
  public get readRequests(): number {
    return this.store.reads;
  }

  /**
   * The features of each key (in the order given; a key may repeat) as of `at`.
   * @throws UnknownFeatureError for a feature the spec does not define; FeatureRequestError for a bad key or time
   */
  public async getFeatures(keys: readonly (string | number)[], opts: GetFeaturesOptions = {}): Promise<KeyFeatures[]> {
    const names = selectFeatures(this.runtimes, opts.features).map((f) => f.spec.name);
    const at = opts.at === undefined ? Date.now() : requestTime(opts.at instanceof Date ? opts.at.getTime() : opts.at);
    const wanted = keys.map((k, i) => entityKey(k, `keys[${i}]`));
    const [items, definitions] = await Promise.all([this.store.getKeyItems([...new Set(wanted)], { consistentRead: opts.consistentRead ?? false }), this.registry()]);
    const byKey = new Map(items.map((it) => [it.key, it]));
    const lateness = this.spec.watermark.allowedLatenessMs;
    const rows = wanted.map((key) => ({ key, ...serveItem(this.runtimes, lateness, key, byKey.get(key), at, names, definitions) }));
    const log = this.servedLog;
    if (log !== undefined && log.sampleRate > 0) {
      const random = log.random ?? Math.random;
      const write = log.write ?? ((line: string) => console.log(line));
      for (const r of rows) {
        if (random() >= log.sampleRate) continue;
        const values: Record<string, number | null> = {};
        for (const name of names) values[name] = r.features[name]!.value;
        write(JSON.stringify({ type: 'served', key: r.key, at, features: values, spec: this.digest }));
      }
    }
    return rows;
  }

  /** The table's registry of definitions, read at most every definitionsMaxAgeMs (a failed read is not kept). */
  private registry(): Promise<Map<string, Definitions>> {
    const now = this.now();
    if (this.definitions === undefined || now - this.definitions.at >= this.definitionsMaxAgeMs) {
      const value = this.store.getDefinitions();
      this.definitions = { at: now, value };
      value.catch(() => (this.definitions = undefined));
    }
    return this.definitions.value;
  }
}

/**
 * A client from the environment the stack gives its functions: the spec in PIPELINE_SPEC, the table in
 * STATE_TABLE_NAME, and the share of served keys to log in SERVED_SAMPLE_RATE (optional; logged with `servedWrite`,
 * by default console.log).
 */
export function featureClientFromEnv(env: NodeJS.ProcessEnv = process.env, servedWrite?: (line: string) => void): FeatureClient {
  const specText = env[SERVING_ENV.spec];
  const table = env[SERVING_ENV.stateTableName];
  if (specText === undefined || specText.trim() === '') throw new ConfigError(`environment variable ${SERVING_ENV.spec} is required (the pipeline spec's JSON)`);
  if (table === undefined || table.trim() === '') throw new ConfigError(`environment variable ${SERVING_ENV.stateTableName} is required (the table of key items)`);
  const rateText = env[SERVING_ENV.servedSampleRate];
  const rate = rateText === undefined || rateText.trim() === '' ? 0 : Number(rateText);
  if (!(rate >= 0 && rate <= 1)) throw new ConfigError(`environment variable ${SERVING_ENV.servedSampleRate} must be a number from 0 to 1, got ${JSON.stringify(rateText)}`);
  return new FeatureClient({ spec: parseSpecJson(specText), tableName: table, ...(rate > 0 ? { servedLog: { sampleRate: rate, ...(servedWrite ? { write: servedWrite } : {}) } } : {}) });
}

let defaultClient: FeatureClient | undefined;

/** `FeatureClient.getFeatures` on a client configured from the environment (made on the first call). */
export function getFeatures(keys: readonly (string | number)[], opts: GetFeaturesOptions = {}): Promise<KeyFeatures[]> {
  return (defaultClient ??= featureClientFromEnv()).getFeatures(keys, opts);
}
