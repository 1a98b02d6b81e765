/**
 * DynamoDB state for the consumer. One table (`pk`, `sk`, TTL `expiresAt`) holds:
 *
 * | item                    | pk                  | sk                        | written                                 |
 * |-------------------------|---------------------|---------------------------|-----------------------------------------|
 * | shard watermark         | `shard#<shardId>`   | `watermark`               | last, once per batch, versioned         |
 * | window state of a key   | `entity#<key>`      | `state`                   | once per batch if changed, versioned; open slices and sessions of every feature |
 * | producer-id memory      | `entity#<key>`      | `ids`                     | once per batch if new ids, versioned    |
 * | event-time timer        | `timers#<shardId>`  | `<due, padded>#<key>`     | when the key's earliest window end moves |
 *
 * Every state item carries a `version`; writes are conditional on the version read, so a stale or concurrent
 * writer fails instead of overwriting (no blind `ADD`). Window state also records, per shard, the last sequence
 * number applied, so a re-delivered record is never applied twice.
 */
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { type SeenId, type SerializedEntity, compareSeq } from '../core/state';
import { pool, retryUnprocessed } from './concurrency';
import { type Item, batchGetAll, numberAttr, numberOf, queryAll, scanAll } from './dynamo-io';

export type { Item } from './dynamo-io';

/** A write that lost its condition: another writer got there first. The batch fails and its retry is harmless. */
export class StateConflictError extends Error {
  public constructor(what: string) {
    super(`conditional write lost for ${what}: a concurrent or stale writer changed it; the batch will be retried`);
    this.name = 'StateConflictError';
  }
}

export interface ShardCheckpoint {
  readonly shard: string;
  /** Highest event time seen on the shard (null before any record). */
  readonly maxEventTime: number | null;
  /** Last sequence number of the last batch fully processed ('' before any). */
  readonly checkpoint: string;
  readonly version: number;
}

/** All window state of one key: one item, so a batch reads and writes each key once whatever the feature count. */
export interface StoredKeyState {
  readonly key: string;
  /** Feature name → its open slices or sessions. */
  readonly features: ReadonlyMap<string, SerializedEntity>;
  /** Earliest pending window end over the key's features (null when nothing is open). */
  readonly due: number | null;
  readonly timerShard: string | undefined;
  readonly version: number;
}

export interface StoredIds {
  readonly key: string;
  readonly ids: ReadonlyMap<string, SeenId>;
  readonly version: number;
}

export interface DueTimer {
  readonly shard: string;
  readonly sk: string;
  readonly key: string;
  readonly due: number;
}

/** Hook called before every write request (fault injection in tests and the sandbox's chaos mode). */
export type WriteGate = (what: string) => void | Promise<void>;

const S = (s: string): AttributeValue => ({ S: s });
const N = numberAttr;
const num = numberOf;
const str = (v: AttributeValue | undefined): string | undefined => v?.S;

/** Largest |t| encoded: the Date range plus ten years (the longest window), still exact in a double. */
const TIME_BOUND = 8.64e15 + 3.2e11;

/**
 * Order-preserving, exact text for an event time, for sort keys: a sign digit, the integer part padded to 16
 * digits (negatives offset so they sort below), and the fractional digits if any. Exact for every time the
 * engine accepts, fractional ones included, so two distinct times never share a key.
 */
export function padTime(t: number): string {
  if (!Number.isFinite(t) || Math.abs(t) > TIME_BOUND) throw new RangeError(`event time ${t} is outside the encodable range`);
  let whole = Math.floor(t);
  // Fixed-width fraction digits sort like the fractions themselves (String() would switch to exponents).
  let frac = t === whole ? '' : (t - whole).toFixed(17);
  if (frac.startsWith('1')) {
    // t is a hair below an integer and the fraction rounded up: it is that integer.
    whole += 1;
    frac = '';
  }
  // 9e15 + whole stays below 2^53 for every negative time in range, so the offset is exact.
  const digits = t < 0 ? `0${String(whole + 9e15).padStart(16, '0')}` : `1${String(whole).padStart(16, '0')}`;
  return frac === '' ? digits : `${digits}${frac.slice(1)}`;
}

/** Sequence numbers padded to a fixed width so string order is numeric order. */
export function padSeq(seq: string): string {
  return seq.padStart(128, '0');
}

export interface StateStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Concurrent write requests in flight. @default 16 */
  readonly writeConcurrency?: number;
  /** How long producer ids and fired timers are kept after their event time (seconds, for TTL). */
  readonly idRetentionSeconds?: number;
  readonly writeGate?: WriteGate;
}

export class StateStore {
  public writes = 0;
  public conflicts = 0;
  public consumedWriteUnits = 0;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly concurrency: number;
  private readonly gate: WriteGate | undefined;

  public constructor(o: StateStoreOptions) {
    this.client = o.client;
    this.table = o.tableName;
    this.concurrency = o.writeConcurrency ?? 16;
    this.gate = o.writeGate;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  public async getShard(shard: string): Promise<ShardCheckpoint> {
    const res = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: S(`shard#${shard}`), sk: S('watermark') }, ConsistentRead: true }),
    );
    const it = res.Item;
    return { shard, maxEventTime: num(it?.maxEventTime), checkpoint: str(it?.checkpoint) ?? '', version: num(it?.version) ?? 0 };
  }

  /** Loads window state and id memory of the given keys (BatchGetItem, 100 items a request, retried). */
  public async getKeys(keys: readonly string[]): Promise<{ states: StoredKeyState[]; ids: StoredIds[] }> {
    const wanted: Item[] = [];
    for (const key of keys) wanted.push({ pk: S(`entity#${key}`), sk: S('state') }, { pk: S(`entity#${key}`), sk: S('ids') });
    const states: StoredKeyState[] = [];
    const ids: StoredIds[] = [];
    for (const it of await batchGetAll(this.client, this.table, wanted)) {
      const key = str(it.pk)!.slice('entity#'.length);
      const version = num(it.version) ?? 0;
      if (str(it.sk) === 'ids') ids.push({ key, ids: mapOf<SeenId>(str(it.ids)), version });
      else states.push(keyStateOf(key, it));
    }
    return { states, ids };
  }

  /** Timers of a shard due at or before `bound`, oldest first, at most `limit` (the rest fire in later batches). */
  public async getDueTimers(shard: string, bound: number, limit: number): Promise<DueTimer[]> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk <= :sk',
        ExpressionAttributeValues: { ':pk': S(`timers#${shard}`), ':sk': S(`${padTime(bound)}#\uffff`) },
        ConsistentRead: true,
      },
      limit,
    );
    return items.map((it) => ({ shard, sk: str(it.sk)!, key: str(it.key)!, due: num(it.due)! }));
  }

  /** Every key's window state (end of a bounded input, and exports; a full scan, never on the hot path). */
  public async scanKeys(): Promise<StoredKeyState[]> {
    const items = await scanAll(this.client, {
      TableName: this.table,
      FilterExpression: 'begins_with(pk, :p) AND sk = :state',
      ExpressionAttributeValues: { ':p': S('entity#'), ':state': S('state') },
      ConsistentRead: true,
    });
    return items.map((it) => keyStateOf(str(it.pk)!.slice('entity#'.length), it));
  }

  // ---- writes -------------------------------------------------------------------------------------------------

  /** Runs write thunks with bounded concurrency. */
  public async writeAll(writes: readonly (() => Promise<void>)[]): Promise<void> {
    await pool(writes, this.concurrency, (w) => w());
  }

  public async putKeyState(k: StoredKeyState, expectedVersion: number, updatedAt: number): Promise<void> {
    await this.conditionalPut(
      {
        pk: S(`entity#${k.key}`),
        sk: S('state'),
        features: S(jsonOf(k.features)),
        ...(k.due === null ? {} : { due: N(k.due) }),
        ...(k.timerShard === undefined ? {} : { timerShard: S(k.timerShard) }),
        version: N(expectedVersion + 1),
        updatedAt: N(updatedAt),
      },
      expectedVersion,
      `window state of ${k.key}`,
    );
  }

  public async putIds(s: StoredIds, expectedVersion: number, expiresAtSeconds: number): Promise<void> {
    await this.conditionalPut(
      { pk: S(`entity#${s.key}`), sk: S('ids'), ids: S(jsonOf(s.ids)), version: N(expectedVersion + 1), expiresAt: N(expiresAtSeconds) },
      expectedVersion,
      `producer ids of ${s.key}`,
    );
  }

  /**
   * Advances the shard watermark and checkpoint, forward only. The write is conditional on the version read; if
   * another writer moved it meanwhile (parallelization factor > 1), re-read and write the maximum of both.
   */
  public async advanceShard(read: ShardCheckpoint, maxEventTime: number | null, checkpoint: string, updatedAt: number): Promise<void> {
    let current = read;
    for (let attempt = 0; attempt < 20; attempt++) {
      const m = maxOf(current.maxEventTime, maxEventTime);
      const c = compareSeq(checkpoint, current.checkpoint) > 0 ? checkpoint : current.checkpoint;
      if (m === current.maxEventTime && c === current.checkpoint && current.version > 0) return;
      try {
        await this.conditionalPut(
          {
            pk: S(`shard#${read.shard}`),
            sk: S('watermark'),
            ...(m === null ? {} : { maxEventTime: N(m) }),
            checkpoint: S(c),
            version: N(current.version + 1),
            updatedAt: N(updatedAt),
          },
          current.version,
          `watermark of ${read.shard}`,
        );
        return;
      } catch (e) {
        if (!(e instanceof StateConflictError)) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
        current = await this.getShard(read.shard);
      }
    }
    throw new StateConflictError(`watermark of ${read.shard} (20 attempts)`);
  }

  /** Puts and deletes that are idempotent by nature (timers, final results): BatchWriteItem, 25 a request. */
  public batchWriteRequests(table: string, requests: readonly WriteRequest[]): (() => Promise<void>)[] {
    const thunks: (() => Promise<void>)[] = [];
    for (let i = 0; i < requests.length; i += 25) {
      const chunk = requests.slice(i, i + 25);
      thunks.push(async () => {
        let pending: WriteRequest[] = chunk;
        await retryUnprocessed(async () => {
          await this.gate?.(`BatchWriteItem ${table}`);
          this.writes += 1;
          const res = await this.client.send(
            new BatchWriteItemCommand({ RequestItems: { [table]: pending }, ReturnConsumedCapacity: 'TOTAL' }),
          );
          for (const c of res.ConsumedCapacity ?? []) this.consumedWriteUnits += c.CapacityUnits ?? 0;
          pending = res.UnprocessedItems?.[table] ?? [];
          return pending.length;
        }, 'BatchWriteItem');
      });
    }
    return thunks;
  }

  /**
   * Timer puts and deletes. Timers carry no TTL: they are removed when they fire, and a window may last for
   * years of event time (a replayed backfill's event times may also lie in the past). A delete of the key a put
   * rewrites is dropped: one BatchWriteItem must not name an item twice.
   */
  public timerRequests(put: readonly DueTimer[], del: readonly DueTimer[]): WriteRequest[] {
    const putKeys = new Set(put.map((t) => `${t.shard}\u0000${t.sk}`));
    const deletes = new Map<string, DueTimer>();
    for (const t of del) if (!putKeys.has(`${t.shard}\u0000${t.sk}`)) deletes.set(`${t.shard}\u0000${t.sk}`, t);
    return [
      ...[...deletes.values()].map((t) => ({ DeleteRequest: { Key: { pk: S(`timers#${t.shard}`), sk: S(t.sk) } } })),
      ...put.map((t) => ({ PutRequest: { Item: { pk: S(`timers#${t.shard}`), sk: S(t.sk), key: S(t.key), due: N(t.due) } } })),
    ];
  }


  public get tableName(): string {
    return this.table;
  }

  private async conditionalPut(item: Item, expectedVersion: number, what: string): Promise<void> {
    await this.gate?.(`PutItem ${what}`);
    this.writes += 1;
    try {
      const res = await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(expectedVersion === 0 ? {} : { ExpressionAttributeValues: { ':v': N(expectedVersion) } }),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.consumedWriteUnits += res.ConsumedCapacity?.CapacityUnits ?? 0;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException') {
        this.conflicts += 1;
        throw new StateConflictError(what);
      }
      throw e;
    }
  }
}

/** Longest key written as itself in a timer's sort key (sort keys are at most 1,024 bytes; the time takes 36). */
const MAX_KEY_IN_SORT_KEY = 512;
const DIGEST_PREFIX = '~sha256:';

/**
 * A timer's sort key: due time, then the key, so timers sort by due time and two keys never share one. A key too
 * long to fit (or one that looks like a digest) is written as the SHA-256 of its UTF-8 bytes instead; the item
 * keeps the key itself in `key`.
 */
export function timerSortKey(due: number, key: string): string {
  const inKey = key.startsWith(DIGEST_PREFIX) || Buffer.byteLength(key, 'utf8') > MAX_KEY_IN_SORT_KEY ? `${DIGEST_PREFIX}${createHash('sha256').update(key, 'utf8').digest('hex')}` : key;
  return `${padTime(due)}#${inKey}`;
}

function keyStateOf(key: string, it: Item): StoredKeyState {
  return {
    key,
    features: mapOf<SerializedEntity>(str(it.features)),
    due: num(it.due),
    timerShard: str(it.timerShard),
    version: num(it.version) ?? 0,
  };
}

/**
 * Maps keyed by user data (producer ids, feature names) to and from a JSON object. JSON.parse and
 * Object.fromEntries create own properties, so a name like "__proto__" round-trips; assigning it to a plain
 * object would set its prototype instead.
 */
function jsonOf<T>(m: ReadonlyMap<string, T>): string {
  return JSON.stringify(Object.fromEntries(m));
}

function mapOf<T>(json: string | undefined): Map<string, T> {
  return new Map(Object.entries(JSON.parse(json ?? '{}') as Record<string, T>));
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
