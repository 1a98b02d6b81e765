/**
 * Paginated reads of the state store and the feature readers: BatchGetItem in chunks of 100 keys with
 * retried leftovers, and Scan/Query following LastEvaluatedKey.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import { pool, retryUnprocessed } from './concurrency';

export type Item = Record<string, AttributeValue>;

/**
 * A number as an attribute. DynamoDB numbers span magnitudes 1e-130 to below 1e126 (and 0); a valid record can
 * still carry an event time or value outside (1e-200), and sums can leave it. Those are stored as their
 * JavaScript text (S), exact as a double, instead of failing the write and blocking the shard.
 */
export function numberAttr(n: number): AttributeValue {
  const a = Math.abs(n);
  return n === 0 || (a >= 1e-130 && a < 1e126) ? { N: String(n) } : { S: String(n) };
}

/** Reads a number written by `numberAttr` (either form); null when absent. */
export function numberOf(v: AttributeValue | undefined): number | null {
  if (v?.N !== undefined) return Number(v.N);
  if (v?.S !== undefined) return Number(v.S);
  return null;
}

export interface BatchGetOptions {
  /** @default true */
  readonly consistentRead?: boolean;
  /** Receives the read units each request consumed, as DynamoDB reports them. */
  readonly onConsumed?: (units: number) => void;
}

/** BatchGetItem of any number of keys: 100 a request, 8 requests in flight, unprocessed keys retried. */
export async function batchGetAll(client: DynamoDBClient, table: string, keys: readonly Item[], o: BatchGetOptions = {}): Promise<Item[]> {
  const chunks: Item[][] = [];
  for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
  const results = await pool(chunks, 8, async (chunk) => {
    const got: Item[] = [];
    let pending: Item[] = chunk;
    await retryUnprocessed(async () => {
      const res = await client.send(
        new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: o.consistentRead ?? true } }, ReturnConsumedCapacity: 'TOTAL' }),
      );
      for (const c of res.ConsumedCapacity ?? []) o.onConsumed?.(c.CapacityUnits ?? 0);
      got.push(...(res.Responses?.[table] ?? []));
      pending = res.UnprocessedKeys?.[table]?.Keys ?? [];
      return pending.length;
    }, `BatchGetItem ${table}`);
    return got;
  });
  return results.flat();
}

/** Every item a Scan returns, across pages. */
export async function scanAll(client: DynamoDBClient, input: ScanCommandInput): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await client.send(new ScanCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Items of a Query, across pages, up to `limit`; `onConsumed` gets each page's read units (with ReturnConsumedCapacity). */
export async function queryAll(client: DynamoDBClient, input: QueryCommandInput, limit = Infinity, onConsumed?: (units: number) => void): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const left = limit - out.length;
    const res = await client.send(new QueryCommand({ ...input, ...(Number.isFinite(left) ? { Limit: left } : {}), ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(res.Items ?? []));
    onConsumed?.(res.ConsumedCapacity?.CapacityUnits ?? 0);
    start = res.LastEvaluatedKey;
  } while (start && out.length < limit);
  return out;
}
