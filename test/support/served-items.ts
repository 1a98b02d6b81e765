/**
 * Key items in a DynamoDB emulator for the serving tests: the engine takes a stream, and each key's state is
 * encoded and written as the consumer writes it (key item codec, StateStore.putKeyItem).
 */
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StateStore } from '../../lambda/adapters/state-store';
import { STATE_TABLE } from '../../lambda/contract/resources';
import { type InputRecord, WindowEngine } from '../../lambda/core/engine';
import { NO_ID_PAGES, encodeKeyItem } from '../../lambda/core/key-item';
import type { PipelineSpec } from '../../lambda/core/spec';
import { createActiveTable } from '../../bin/local/tables';

export const SERVED_FEATURES = [
  { name: 'txn_count_5m', window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'count', maxStalenessMs: 3_600_000 },
  { name: 'spend_1h_every_5m', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 300_000 }, aggregate: 'sum', field: 'amount' },
  { name: 'session_spend', window: { type: 'session', gapMs: 1_800_000 }, aggregate: 'sum', field: 'amount' },
  { name: 'max_amount_10m', window: { type: 'tumbling', sizeMs: 600_000 }, aggregate: 'max', field: 'amount' },
];

/** A table like the stack's state table. */
export async function createStateTable(client: DynamoDBClient, name: string): Promise<void> {
  await createActiveTable(client, STATE_TABLE, name);
}

/** Runs the records through an engine and writes every key's item (first version) at `writtenAt`; returns the engine. */
export async function writeServedItems(client: DynamoDBClient, table: string, spec: PipelineSpec, records: readonly InputRecord[], writtenAt: number): Promise<WindowEngine> {
  const engine = new WindowEngine(spec);
  engine.processBatch(records);
  const store = new StateStore({ client, tableName: table });
  await Promise.all(
    [...engine.keys()].map((key) =>
      store.putKeyItem(key, encodeKeyItem({ runtime: engine.runtimes, state: engine.keyState(key)!, shards: engine.keyProgress(key), ids: new Map(), idPages: NO_ID_PAGES }), 0, writtenAt),
    ),
  );
  return engine;
}
