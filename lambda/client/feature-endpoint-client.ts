/**
 * The features endpoint's client for model servers (docs/serving.md): keys in, each key's features as of a time out,
 * over HTTP. Signed with SigV4 for the stack's Lambda function URL (IAM authorization) when given a region; unsigned
 * for the local endpoint of the sandbox. Self-contained: it imports nothing from the rest of the repository, so it
 * compiles alone into the installable package (`npm run build:client`).
 */
import { type CredentialsSource, type Signer, sigV4Signer } from './sign';

/** Keys the endpoint serves in one request; the client splits longer lists. */
export const MAX_KEYS_PER_REQUEST = 100;

/** A served feature's status (docs/semantics.md §7). */
export type FeatureStatus = 'PRESENT' | 'EMPTY' | 'STALE' | 'UNAVAILABLE' | 'WRITTEN_AFTER';

/** One feature of one key as served. Times are ISO-8601 strings. */
export interface FeatureValue {
  readonly name: string;
  /** The aggregate over the window's records; with none, 0 for count, distinct and sum, null otherwise. */
  readonly value: number | null;
  readonly status: FeatureStatus;
  /** Records in the window. */
  readonly count: number;
  /** Window bounds; null for a global window, and for a session feature with no session at the time asked. */
  readonly windowStart: string | null;
  readonly windowEnd: string | null;
  /** Newest event time among the records the value includes, when known. */
  readonly eventTimestamp: string | null;
}

/** One key's features, in the order of the request's keys. */
export interface KeyFeatures {
  readonly key: string;
  /** False when the key has no stored state (each feature then reads EMPTY). */
  readonly found: boolean;
  /** The key's shard watermark and when its state was written (ISO-8601), when found. */
  readonly watermark: string | null;
  readonly writtenAt: string | null;
  readonly features: Readonly<Record<string, FeatureValue>>;
}

/** The endpoint's answer as sent (after Feast's `/get-online-features`): a column per name, an entry per key. */
export interface FeatureResponse {
  readonly metadata: {
    readonly feature_names: readonly string[];
    readonly at: string;
    readonly found: readonly boolean[];
    readonly watermarks: readonly (string | null)[];
    readonly written_at: readonly (string | null)[];
  };
  readonly results: ReadonlyArray<{
    readonly values: readonly (number | string | null)[];
    readonly statuses: readonly string[];
    readonly event_timestamps: readonly (string | null)[];
    readonly counts?: readonly number[];
    readonly window_starts?: readonly (string | null)[];
    readonly window_ends?: readonly (string | null)[];
  }>;
}

/** The endpoint's request body. */
export interface FeatureRequestBody {
  readonly entities: Readonly<Record<string, readonly (string | number)[]>>;
  readonly features?: readonly string[];
  readonly at?: number | string;
}

export interface FeatureEndpointClientOptions {
  /** The endpoint: the stack's FeaturesUrl output, or the local endpoint's URL. */
  readonly url: string;
  /** The spec's `source.keyField`: the endpoint takes keys under this name. */
  readonly keyField: string;
  /** AWS region of the function URL: requests are signed with SigV4 (service `lambda`). @default unsigned */
  readonly region?: string;
  /** Credentials to sign with. @default the AWS SDK's default chain (environment, profile, SSO, container, instance) */
  readonly credentials?: CredentialsSource;
  /** Time to wait for an answer, in ms. @default 10000 */
  readonly timeoutMs?: number;
}

export interface GetFeaturesOptions {
  /** Time the features are read as of: epoch ms, ISO-8601 (no offset: UTC) or a Date. @default the endpoint's now */
  readonly at?: number | string | Date;
  /** Feature names, in the order wanted. @default every feature of the spec */
  readonly features?: readonly string[];
}

/** The endpoint refused the request or could not be reached; `status` is null when no answer came. */
export class FeatureEndpointError extends Error {
  public constructor(
    message: string,
    public readonly status: number | null,
    /** The request field at fault, for a 400. */
    public readonly field: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FeatureEndpointError';
  }
}

const STATUSES: readonly string[] = ['PRESENT', 'EMPTY', 'STALE', 'UNAVAILABLE', 'WRITTEN_AFTER'];

/** The endpoint's answer turned into one entry per key. @throws FeatureEndpointError when it is not a features response */
export function keyFeatures(response: FeatureResponse): KeyFeatures[] {
  const bad = (what: string): never => {
    throw new FeatureEndpointError(`the endpoint's answer is not a features response: ${what}`, 200);
  };
  const m = response?.metadata;
  if (!m || !Array.isArray(m.feature_names) || !Array.isArray(response.results)) bad('no metadata.feature_names or results');
  if (response.results.length !== m.feature_names.length) bad(`${m.feature_names.length} names for ${response.results.length} result columns`);
  const [keys, ...columns] = response.results;
  const names = m.feature_names.slice(1);
  return (keys?.values ?? []).map((key, i) => {
    const features: Record<string, FeatureValue> = {};
    names.forEach((name, j) => {
      const c = columns[j]!;
      const status = c.statuses[i]!;
      if (!STATUSES.includes(status)) bad(`status ${JSON.stringify(status)} of ${name}`);
      features[name] = {
        name,
        value: c.values[i] as number | null,
        status: status as FeatureStatus,
        count: c.counts?.[i] ?? 0,
        windowStart: c.window_starts?.[i] ?? null,
        windowEnd: c.window_ends?.[i] ?? null,
        eventTimestamp: c.event_timestamps[i] ?? null,
      };
    });
    return { key: String(key), found: m.found[i] ?? false, watermark: m.watermarks[i] ?? null, writtenAt: m.written_at[i] ?? null, features };
  });
}

function errorMessage(text: string): { message: string; field: string | null } {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    // The endpoint: {"error", "field"?, "message"}; AWS in front of a function URL: {"Message": "Forbidden"}.
    const message = body.message ?? body.Message ?? body.error;
    if (typeof message === 'string') return { message, field: typeof body.field === 'string' ? body.field : null };
  } catch {
    // not JSON: the text itself
  }
  const t = text.trim();
  return { message: t === '' ? '(empty body)' : t.length > 300 ? `${t.slice(0, 300)}…` : t, field: null };
}

export class FeatureEndpointClient {
  public readonly url: string;
  public readonly keyField: string;
  private readonly sign: Signer | undefined;
  private readonly timeoutMs: number;

  public constructor(o: FeatureEndpointClientOptions) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new TypeError(`url must be an http(s) URL, got ${JSON.stringify(o.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`url must be an http(s) URL, got ${JSON.stringify(o.url)}`);
    if (typeof o.keyField !== 'string' || o.keyField === '') throw new TypeError("keyField must be the spec's source.keyField");
    if (o.credentials !== undefined && o.region === undefined) throw new TypeError('credentials are used to sign, which needs region too');
    const timeout = o.timeoutMs ?? 10_000;
    if (!(Number.isFinite(timeout) && timeout > 0)) throw new RangeError(`timeoutMs must be a positive number, got ${timeout}`);
    this.url = url.href;
    this.keyField = o.keyField;
    this.timeoutMs = timeout;
    this.sign = o.region === undefined ? undefined : sigV4Signer(o.region, o.credentials);
  }

  /**
   * The features of each key (in the order given; a key may repeat) as of `at`. More than 100 keys go in several
   * requests, all as of the same time (now, when `at` is not given).
   * @throws FeatureEndpointError with the endpoint's status and message (a 400 names the field at fault)
   */
  public async getFeatures(keys: readonly (string | number)[], opts: GetFeaturesOptions = {}): Promise<KeyFeatures[]> {
    if (keys.length === 0) return [];
    let at = opts.at instanceof Date ? opts.at.getTime() : opts.at;
    if (at === undefined && keys.length > MAX_KEYS_PER_REQUEST) at = Date.now();
    const chunks: (string | number)[][] = [];
    for (let i = 0; i < keys.length; i += MAX_KEYS_PER_REQUEST) chunks.push(keys.slice(i, i + MAX_KEYS_PER_REQUEST));
    const answers = await Promise.all(
      chunks.map((chunk) => this.request({ entities: { [this.keyField]: chunk }, ...(opts.features ? { features: opts.features } : {}), ...(at === undefined ? {} : { at }) })),
    );
    return answers.flatMap(keyFeatures);
  }

  /** One request as the endpoint takes it, its answer as sent. @throws FeatureEndpointError */
  public async request(body: FeatureRequestBody): Promise<FeatureResponse> {
    const text = JSON.stringify(body);
    const url = new URL(this.url);
    let headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.sign) {
      // fetch sends the same host from the URL itself.
      const { host: _host, ...signed } = await this.sign({ url, body: text, headers });
      headers = signed;
    }
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const err = e as Error & { cause?: Error };
      const why = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (err.cause?.message ?? err.message);
      throw new FeatureEndpointError(`could not reach the features endpoint ${this.url}: ${why}`, null, null, { cause: e });
    }
    const answer = await res.text();
    if (!res.ok) {
      const { message, field } = errorMessage(answer);
      throw new FeatureEndpointError(`the features endpoint ${this.url} answered ${res.status}: ${message}`, res.status, field);
    }
    try {
      return JSON.parse(answer) as FeatureResponse;
    } catch {
      throw new FeatureEndpointError(`the features endpoint ${this.url} answered ${res.status} with a body that is not JSON: ${errorMessage(answer).message}`, res.status);
    }
  }
}
