/**
 * DynamoDB state for the consumer. One table (`pk`, `sk`, TTL `expiresAt`) holds:
 *
 * | item              | pk                 | sk                                  | written                                        |
 * |-------------------|--------------------|-------------------------------------|------------------------------------------------|
 * | shard watermark   | `shard#<shardId>`  | `watermark`                         | last, once per batch, versioned                |
 * | key item          | `entity#<key>`     | `state`                             | once per batch if changed, versioned: every feature's windows, progress per shard, inline producer ids (key-item.ts) |
 * | producer-id page  | `entity#<key>`     | `ids#<newest id's time, padded>#<page number, padded>` | once, when a key's inline ids overflow; TTL |
 * | timer page        | `timers#<shardId>` | `<earliest due, padded>#<written>#<nonce>` | once per batch and second of due time with keys whose next due time moved; TTL once all due |
 *
 * The key item is the only item written per key and batch, conditionally on the version read, so a stale or
 * concurrent writer fails instead of overwriting; serving reads the same item. Id pages and timer pages are
 * written once and never rewritten, so their cost is per id or per key moved, never per key's history.
 */
import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { type Definitions, decodeDefinitions, encodeDefinitions, mergeDefinitions } from '../core/coverage';
import { compareSeq } from '../core/state';
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
  /**
   * Watermark through which every timer of the shard has fired (null before any): a key's windows ending at or
   * before it were emitted, whether or not its item was rewritten since (see batch-processor.ts).
   */
  readonly firedThrough: number | null;
  readonly version: number;
  /** The definitions the shard's state holds and since when (core/coverage.ts); undefined when none is recorded. */
  readonly definitions?: Definitions;
}

/** A key's stored item: its version (for the conditional write), when it was written and its encoded state. */
export interface StoredKeyItem {
  readonly key: string;
  readonly version: number;
  readonly writtenAt: number;
  readonly state: Uint8Array;
}

/** One entry of a timer page: a key whose next window fires once the shard watermark reaches `due`. */
export interface TimerEntry {
  readonly key: string;
  readonly due: number;
}

export interface TimerPage {
  readonly shard: string;
  readonly sk: string;
  readonly entries: readonly TimerEntry[];
}

/** Timer entries are paged by this span of due time (see `timerPageRequests`). */
export const TIMER_BUCKET_MS = 1000;

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
  /** Receives the write units of each conditional put, by partition key (the bench's hot-key figure). */
  readonly onItemUnits?: (pk: string, units: number) => void;
}

export class StateStore {
  public writes = 0;
  public reads = 0;
  public consumedReadUnits = 0;
  public conflicts = 0;
  public consumedWriteUnits = 0;
  /** Units by what they were spent on (`read key item`, `write timer page`, …): where a batch's cost goes. */
  public readonly unitsBy = new Map<string, number>();
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly concurrency: number;
  private readonly gate: WriteGate | undefined;

  public constructor(o: StateStoreOptions) {
    this.client = o.client;
    this.table = o.tableName;
    this.concurrency = o.writeConcurrency ?? 16;
    this.gate = o.writeGate;
    this.onItemUnits = o.onItemUnits;
  }

  private readonly onItemUnits: ((pk: string, units: number) => void) | undefined;

  // ---- reads --------------------------------------------------------------------------------------------------

  public async getShard(shard: string): Promise<ShardCheckpoint> {
    const res = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: S(`shard#${shard}`), sk: S('watermark') }, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.read('shard', res.ConsumedCapacity?.CapacityUnits ?? 0);
    const it = res.Item;
    return shardCheckpointOf(shard, it);
  }

  /**
   * Per shard, the definitions its state holds (the registry item the consumer writes before any key item that
   * holds a newly registered definition): what serving judges partial windows by. Empty for a table without one.
   */
  public async getDefinitions(): Promise<Map<string, Definitions>> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: DEFINITIONS_KEY, ReturnConsumedCapacity: 'TOTAL' }));
    this.read('definitions', res.ConsumedCapacity?.CapacityUnits ?? 0);
    const out = new Map<string, Definitions>();
    for (const [name, v] of Object.entries(res.Item ?? {})) {
      if (name.startsWith('shard#') && v.S !== undefined) out.set(name.slice('shard#'.length), decodeDefinitions(v.S));
    }
    return out;
  }

  /** Records a shard's definitions in the registry item (one attribute per shard: shards never conflict). */
  public async putDefinitions(shard: string, definitions: Definitions): Promise<void> {
    await this.gate?.('UpdateItem definitions');
    this.writes += 1;
    const res = await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: DEFINITIONS_KEY,
        UpdateExpression: 'SET #s = :d',
        ExpressionAttributeNames: { '#s': `shard#${shard}` },
        ExpressionAttributeValues: { ':d': S(encodeDefinitions(definitions)) },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.wrote('definitions', res.ConsumedCapacity?.CapacityUnits ?? 0);
  }

  /**
   * The items of the given keys (BatchGetItem, 100 keys a request, retried); absent keys have none. Reads are
   * consistent unless `consistentRead: false` (serving: half the read units).
   */
  public async getKeyItems(keys: readonly string[], o: { consistentRead?: boolean } = {}): Promise<StoredKeyItem[]> {
    const wanted = keys.map((key) => ({ pk: S(`entity#${key}`), sk: S('state') }));
    const items = await batchGetAll(this.client, this.table, wanted, { ...o, onConsumed: (u) => this.read('key item', u) });
    this.reads += Math.ceil(keys.length / 100);
    return items.map((it) => keyItemOf(it));
  }

  /**
   * A key's id pages whose newest id is at or after event time `from` (one Query: pages sort by their newest id's
   * event time), each page's encoded ids.
   */
  public async getIdPagesFrom(key: string, from: number): Promise<Array<{ page: number; maxTime: number; ids: Uint8Array }>> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': S(`entity#${key}`), ':a': S(`ids#${padTime(from)}`), ':b': S('ids#\uffff') },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }, Infinity, (u) => this.read('id page', u));
    this.reads += 1;
    return items.map((it) => ({ page: num(it.page)!, maxTime: num(it.maxTime)!, ids: it.ids!.B! }));
  }

  /**
   * Timer pages of a shard whose earliest entry is due at or before `bound`, oldest first, at most `limit`; with a
   * finite `firedThrough`, only pages from its second of due time on (earlier pages hold only entries that fired).
   */
  public async getDueTimerPages(shard: string, bound: number, limit: number, firedThrough = -Infinity): Promise<TimerPage[]> {
    const from = Number.isFinite(firedThrough) ? Math.floor(firedThrough / TIMER_BUCKET_MS) * TIMER_BUCKET_MS : undefined;
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        KeyConditionExpression: from === undefined ? 'pk = :pk AND sk <= :sk' : 'pk = :pk AND sk BETWEEN :from AND :sk',
        ExpressionAttributeValues: { ':pk': S(`timers#${shard}`), ':sk': S(`${padTime(bound)}#\uffff`), ...(from === undefined ? {} : { ':from': S(padTime(from)) }) },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      },
      limit,
      (u) => this.read('timer page', u),
    );
    this.reads += 1;
    return items.map((it) => ({ shard, sk: str(it.sk)!, entries: JSON.parse(str(it.entries) ?? '[]') as TimerEntry[] }));
  }

  /** Every shard's checkpoint item (end of a bounded input: where each shard's timers have fired through). */
  public async scanShards(): Promise<ShardCheckpoint[]> {
    const items = await scanAll(this.client, {
      TableName: this.table,
      FilterExpression: 'begins_with(pk, :p)',
      ExpressionAttributeValues: { ':p': S('shard#') },
      ConsistentRead: true,
    });
    return items.map((it) => shardCheckpointOf(str(it.pk)!.slice('shard#'.length), it));
  }

  /** Every key item (end of a bounded input, and exports; a full scan, never on the hot path). */
  public async scanKeyItems(): Promise<StoredKeyItem[]> {
    const items = await scanAll(this.client, {
      TableName: this.table,
      FilterExpression: 'begins_with(pk, :p) AND sk = :state',
      ExpressionAttributeValues: { ':p': S('entity#'), ':state': S('state') },
      ConsistentRead: true,
    });
    return items.map((it) => keyItemOf(it));
  }

  // ---- writes -------------------------------------------------------------------------------------------------

  /** Runs write thunks with bounded concurrency. */
  public async writeAll(writes: readonly (() => Promise<void>)[]): Promise<void> {
    await pool(writes, this.concurrency, (w) => w());
  }

  /** Writes a key's item, conditionally on the version read (0: the key must have none yet). */
  public async putKeyItem(key: string, state: Uint8Array, expectedVersion: number, writtenAt: number): Promise<void> {
    await this.conditionalPut(
      { pk: S(`entity#${key}`), sk: S('state'), s: { B: state }, version: N(expectedVersion + 1), at: N(writtenAt) },
      expectedVersion,
      `key item of ${key}`,
    );
  }

  /**
   * Puts an id page (written once; a retry of the same batch rewrites it with the same page number). A PutItem of
   * its own, not part of a BatchWriteItem: pages are rare (a key's inline ids overflowing), and each reports its
   * own consumed units.
   */
  public async putIdPage(key: string, page: number, ids: Uint8Array, maxTime: number, expiresAtSeconds: number | undefined): Promise<void> {
    const item: Item = {
      pk: S(`entity#${key}`),
      sk: S(idPageSortKey(maxTime, page)),
      page: N(page),
      maxTime: N(maxTime),
      ids: { B: ids },
      ...(expiresAtSeconds === undefined ? {} : { expiresAt: N(expiresAtSeconds) }),
    };
    await this.gate?.(`PutItem id page ${page} of ${key}`);
    this.writes += 1;
    const res = await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ReturnConsumedCapacity: 'TOTAL' }));
    this.wrote('id page', res.ConsumedCapacity?.CapacityUnits ?? 0);
    this.onItemUnits?.(item.pk!.S!, res.ConsumedCapacity?.CapacityUnits ?? 0);
  }

  /**
   * Timer page puts: the entries sorted by due time and grouped by second of their due time, each group cut into
   * pages of at most ~300 KB of stored JSON (items hold 400 KB), each under a sort key of its earliest due time and
   * a name no other write uses, so a retry never overwrites a page an earlier attempt's key items rely on. Grouping
   * by second means a page falls due nearly whole: its entries not yet due stay where they are (the page is read
   * again by the next batch) instead of being carried into a new page, so a batch writes only the keys whose due
   * time moved.
   */
  public timerPageRequests(shard: string, entries: readonly TimerEntry[], writtenAt: number, watermark = -Infinity): WriteRequest[] {
    const sorted = [...entries].sort((a, b) => a.due - b.due);
    const out: WriteRequest[] = [];
    const nonce = randomBytes(6).toString('hex');
    let page: TimerEntry[] = [];
    let bytes = 0;
    let bucket = NaN;
    const flush = (): void => {
      if (page.length === 0) return;
      out.push({
        PutRequest: {
          Item: {
            pk: S(`timers#${shard}`),
            sk: S(`${padTime(page[0]!.due)}#${writtenAt}#${nonce}-${out.length}`),
            entries: S(JSON.stringify(page)),
            expiresAt: N(timerExpiry(writtenAt, page[page.length - 1]!.due, watermark)),
          },
        },
      });
      page = [];
      bytes = 0;
    };
    for (const e of sorted) {
      const b = Math.floor(e.due / TIMER_BUCKET_MS);
      // The entry as stored: JSON escapes may take several bytes per character of the key.
      const size = Buffer.byteLength(JSON.stringify(e), 'utf8') + 1;
      if (b !== bucket || bytes + size > 300_000) flush();
      bucket = b;
      page.push(e);
      bytes += size;
    }
    flush();
    return out;
  }

  public timerPageDeletes(pages: readonly TimerPage[]): WriteRequest[] {
    return pages.map((p) => ({ DeleteRequest: { Key: { pk: S(`timers#${p.shard}`), sk: S(p.sk) } } }));
  }

  /**
   * Advances the shard watermark and checkpoint, forward only. The write is conditional on the version read; if
   * another writer moved it meanwhile (parallelization factor > 1), re-read and write the maximum of both.
   */
  public async advanceShard(read: ShardCheckpoint, maxEventTime: number | null, checkpoint: string, updatedAt: number, firedThrough: number | null = null, definitions?: Definitions): Promise<void> {
    let current = read;
    for (let attempt = 0; attempt < 20; attempt++) {
      const m = maxOf(current.maxEventTime, maxEventTime);
      const c = compareSeq(checkpoint, current.checkpoint) > 0 ? checkpoint : current.checkpoint;
      const f = maxOf(current.firedThrough, firedThrough);
      // Definitions only grow: a concurrent batch's registrations are kept, the later time of each wins (safe).
      const d = mergeDefinitions(current.definitions, definitions);
      const defs = d === undefined ? undefined : encodeDefinitions(d);
      const same = defs === (current.definitions === undefined ? undefined : encodeDefinitions(current.definitions));
      if (m === current.maxEventTime && c === current.checkpoint && f === current.firedThrough && same && current.version > 0) return;
      try {
        await this.conditionalPut(
          {
            pk: S(`shard#${read.shard}`),
            sk: S('watermark'),
            ...(m === null ? {} : { maxEventTime: N(m) }),
            ...(f === null ? {} : { firedThrough: N(f) }),
            checkpoint: S(c),
            ...(defs === undefined ? {} : { defs: S(defs) }),
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

  /**
   * A quiet shard's idle advance (idle-shards.ts): raises its event-time maximum only if the checkpoint item is
   * still the one read when the shard was found caught up. False when a batch wrote it meanwhile (not quiet).
   */
  public async claimIdleAdvance(read: ShardCheckpoint, maxEventTime: number, updatedAt: number): Promise<boolean> {
    try {
      await this.conditionalPut(
        {
          pk: S(`shard#${read.shard}`),
          sk: S('watermark'),
          maxEventTime: N(maxOf(read.maxEventTime, maxEventTime)!),
          ...(read.firedThrough === null ? {} : { firedThrough: N(read.firedThrough) }),
          checkpoint: S(read.checkpoint),
          ...(read.definitions === undefined ? {} : { defs: S(encodeDefinitions(read.definitions)) }),
          version: N(read.version + 1),
          updatedAt: N(updatedAt),
          idleAdvancedAt: N(updatedAt),
        },
        read.version,
        `idle advance of ${read.shard}`,
      );
      return true;
    } catch (e) {
      if (e instanceof StateConflictError) return false;
      throw e;
    }
  }

  /** Puts and deletes that are idempotent by nature (timers, final results): BatchWriteItem, 25 a request. */
  public batchWriteRequests(table: string, requests: readonly WriteRequest[], what = 'batch write'): (() => Promise<void>)[] {
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
          for (const c of res.ConsumedCapacity ?? []) this.wrote(what, c.CapacityUnits ?? 0);
          pending = res.UnprocessedItems?.[table] ?? [];
          return pending.length;
        }, 'BatchWriteItem');
      });
    }
    return thunks;
  }

  private read(what: string, units: number): void {
    this.consumedReadUnits += units;
    this.unitsBy.set(`read ${what}`, (this.unitsBy.get(`read ${what}`) ?? 0) + units);
  }

  private wrote(what: string, units: number): void {
    this.consumedWriteUnits += units;
    this.unitsBy.set(`write ${what}`, (this.unitsBy.get(`write ${what}`) ?? 0) + units);
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
      this.wrote(item.sk?.S === 'watermark' ? 'shard' : 'key item', res.ConsumedCapacity?.CapacityUnits ?? 0);
      this.onItemUnits?.(item.pk!.S!, res.ConsumedCapacity?.CapacityUnits ?? 0);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException') {
        this.conflicts += 1;
        throw new StateConflictError(what);
      }
      throw e;
    }
  }
}

/**
 * When a timer page may go (TTL, epoch seconds): 7 days of wall-clock time after its last entry would fall due if
 * event time kept pace with the clock from the watermark at writing. Pages are mostly left to it once fired (see
 * batch-processor.ts); a watermark that stalls longer than that loses the page, and its keys' windows then fire
 * only when a record of the key arrives.
 */
function timerExpiry(writtenAt: number, lastDue: number, watermark: number): number {
  const ahead = Number.isFinite(watermark) ? Math.max(0, lastDue - watermark) : 0;
  return Math.ceil((writtenAt + Math.min(ahead, 3650 * 86_400_000)) / 1000) + 7 * 86_400;
}

/** Id pages sort by the event time of their newest id, then by number (fixed-width digits). */
function idPageSortKey(maxTime: number, page: number): string {
  return `ids#${padTime(maxTime)}#${String(page).padStart(12, '0')}`;
}

function keyItemOf(it: Item): StoredKeyItem {
  return { key: str(it.pk)!.slice('entity#'.length), version: num(it.version) ?? 0, writtenAt: num(it.at) ?? 0, state: it.s?.B ?? new Uint8Array() };
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** The registry of the definitions each shard's state holds: one item, an attribute per shard. */
const DEFINITIONS_KEY = { pk: S('registry#definitions'), sk: S('shards') };

function shardCheckpointOf(shard: string, it: Item | undefined): ShardCheckpoint {
  const defs = str(it?.defs);
  return {
    shard,
    maxEventTime: num(it?.maxEventTime),
    checkpoint: str(it?.checkpoint) ?? '',
    firedThrough: num(it?.firedThrough),
    version: num(it?.version) ?? 0,
    ...(defs === undefined ? {} : { definitions: decodeDefinitions(defs) }),
  };
}
