/**
 * One consumer batch: load the state the batch needs, run the engine, persist. The order of effects is what
 * makes re-delivery harmless:
 *
 * 1. records at or below the shard checkpoint were fully processed by an earlier delivery: skipped;
 * 2. the batch's outputs go first, being idempotent: dead letters (FIFO queue, deterministic deduplication ids),
 *    then final window results (plain puts of the same values). Window state that drops a fired window must
 *    never land before that window's result, or a crash in between would lose it;
 * 3. window state, id memory, timers and current feature values, with bounded concurrency, each item once,
 *    window state and ids conditionally on the version read; a record already applied to an entity (sequence
 *    number at or below the entity's last applied one) is never applied again;
 * 4. the shard watermark and checkpoint are written last. Until then, a retry sees the watermark from before the
 *    batch, so every record is judged exactly as in the first delivery.
 */
import { type BatchCounters, type CurrentWindow, type InputRecord, WindowEngine, idRetentionMs } from '../core/engine';
import type { PipelineSpec } from '../core/spec';
import { compareSeq, type SeenId, type SerializedEntity } from '../core/state';
import type { DeadLetterSender } from './dead-letters';
import type { FeatureStore } from './feature-store';
import { type DueTimer, type ShardCheckpoint, type StateStore, type StoredKeyState, timerSortKey } from './state-store';

export interface BatchProcessorOptions {
  readonly spec: PipelineSpec;
  readonly state: StateStore;
  readonly features: FeatureStore;
  readonly deadLetters: DeadLetterSender;
  /**
   * Lambda's ParallelizationFactor. Above 1, batches of one shard run concurrently, so the shard checkpoint cannot
   * skip records (per-entity sequence numbers still do).
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /** How long final window results stay in the feature table. @default 7 days */
  readonly finalRetentionSeconds?: number;
  /** Most due timers fired per shard per batch; the rest fire in the next batches. @default 5000 */
  readonly timerLimit?: number;
  readonly now?: () => number;
}

export interface BatchOutcome {
  readonly counters: BatchCounters;
  /** Records skipped because the shard checkpoint shows them processed. */
  readonly skipped: number;
  readonly deadLetters: number;
  readonly stateWrites: number;
  readonly writeUnits: number;
  readonly conflicts: number;
  /** now − watermark per shard (ms); absent before any record. */
  readonly watermarkLagMs: ReadonlyMap<string, number>;
  /** Write time − event time of the newest record applied (ms); absent when nothing was applied. */
  readonly freshnessMs: number | undefined;
}

const DAY_S = 86_400;

export async function processBatch(input: readonly InputRecord[], o: BatchProcessorOptions): Promise<BatchOutcome> {
  const now = o.now ?? Date.now;
  const spec = o.spec;
  const featureNames = spec.features.map((f) => f.name);
  const engine = new WindowEngine(spec, { judgeRedelivered: true });
  const encode = (feature: string, acc: unknown): Uint8Array => engine.accBytes(feature, acc);

  // 1. Shard checkpoints and watermarks.
  const shards = [...new Set(input.map((r) => r.shard))];
  const checkpoints = new Map<string, ShardCheckpoint>();
  await Promise.all(shards.map(async (s) => checkpoints.set(s, await o.state.getShard(s))));
  const checkpointSkips = (o.parallelizationFactor ?? 1) <= 1;
  const records = checkpointSkips
    ? input.filter((r) => {
        const cp = checkpoints.get(r.shard)!.checkpoint;
        return cp === '' || compareSeq(r.seq, cp) > 0;
      })
    : [...input];
  for (const cp of checkpoints.values()) engine.setShardWatermark(cp.shard, { maxEventTime: cp.maxEventTime });

  // 2. Load what the batch touches: its keys' window state and ids, and entities whose timers are due.
  const plan = engine.plan(records);
  const dueTimers: DueTimer[] = [];
  await Promise.all(
    Object.entries(plan.watermarkBound).map(async ([shard, bound]) => {
      if (Number.isFinite(bound)) dueTimers.push(...(await o.state.getDueTimers(shard, bound, o.timerLimit ?? 5000)));
    }),
  );
  const batchKeys = new Set(plan.keys);
  const timerKeys = [...new Set(dueTimers.map((t) => t.key))].filter((k) => !batchKeys.has(k));
  const [fromBatch, fromTimers] = await Promise.all([o.state.getKeys(plan.keys), o.state.getKeys(timerKeys)]);
  const loaded = new Map<string, { version: number; due: number | null; timerShard: string | undefined }>();
  for (const k of [...fromBatch.states, ...fromTimers.states]) {
    for (const [feature, state] of k.features) engine.loadEntity(feature, k.key, state);
    loaded.set(k.key, { version: k.version, due: k.due, timerShard: k.timerShard });
  }
  const ids = new Map<string, { version: number; ids: ReadonlyMap<string, SeenId> }>();
  for (const s of fromBatch.ids) {
    ids.set(s.key, { version: s.version, ids: s.ids });
    for (const [id, seen] of s.ids) engine.loadSeen(s.key, id, seen);
  }
  const finalsNeeded = engine.finalsToLoad(plan);
  if (finalsNeeded.length > 0) {
    for (const f of await o.features.getFinals(finalsNeeded)) engine.loadFinal(f.feature, f.key, f.windowStart, f.acc, f.corrected);
  }

  // 3. Run the engine.
  const result = engine.processBatch(records);
  const writtenAt = now();
  const nowS = Math.floor(writtenAt / 1000);

  // 4. What to write: state, timers, ids, feature values, each item once.
  const writes: (() => Promise<void>)[] = [];
  const timerPuts: DueTimer[] = [];
  const timerDeletes: DueTimer[] = [];
  const current = new Map<string, CurrentWindow[]>();
  for (const key of new Set(result.changed.map((r) => r.key))) {
    const k = keyState(engine, featureNames, key);
    const before = loaded.get(key);
    writes.push(() => o.state.putKeyState(k, before?.version ?? 0, writtenAt));
    if (before?.due != null && before.timerShard !== undefined && (before.due !== k.due || before.timerShard !== k.timerShard)) {
      timerDeletes.push({ shard: before.timerShard, sk: timerSortKey(before.due, key), key, due: before.due });
    }
    if (k.due !== null && k.timerShard !== undefined && (before?.due !== k.due || before.timerShard !== k.timerShard)) {
      timerPuts.push({ shard: k.timerShard, sk: timerSortKey(k.due, key), key, due: k.due });
    }
  }
  // Current values for every key of the batch, re-delivered ones included, so a retry completes what a crash cut.
  // A global window emptied by a purge has no value: its stale one is removed rather than kept.
  const emptied = new Map<string, string[]>();
  const globals = new Set(spec.features.filter((f) => f.window.type === 'global').map((f) => f.name));
  for (const key of plan.keys) {
    for (const feature of featureNames) {
      const cv = engine.currentValue({ feature, key });
      if (!cv) {
        if (!globals.has(feature)) continue;
        const list = emptied.get(key) ?? [];
        list.push(feature);
        emptied.set(key, list);
        continue;
      }
      const list = current.get(key) ?? [];
      list.push(cv);
      current.set(key, list);
    }
  }
  // Timers fetched but no longer matching their key (superseded or already fired) are removed.
  for (const t of dueTimers) {
    const k = engine.keyTimer(t.key);
    const stillDue = k.due === t.due && k.shard === t.shard;
    if (!stillDue && !timerDeletes.some((d) => d.shard === t.shard && d.sk === t.sk)) timerDeletes.push(t);
  }
  const idRetention = idRetentionMs(spec);
  const retentionS = Number.isFinite(idRetention) ? Math.ceil(idRetention / 1000) + DAY_S : 3650 * DAY_S;

  const newIdsByKey = new Map<string, Array<{ id: string } & SeenId>>();
  for (const n of result.newIds) {
    const list = newIdsByKey.get(n.key) ?? [];
    list.push(n);
    newIdsByKey.set(n.key, list);
  }
  for (const [key, added] of newIdsByKey) {
    const before = ids.get(key);
    // Ids are producer data: a Map, so an id such as "__proto__" is stored like any other.
    const merged = new Map<string, SeenId>();
    const horizon = engine.watermark(added[0]!.shard) - idRetentionMs(spec);
    for (const [id, s] of before?.ids ?? []) if (s.time > horizon) merged.set(id, s);
    for (const n of added) merged.set(n.id, { shard: n.shard, seq: n.seq, time: n.time });
    capIds(merged);
    writes.push(() => o.state.putIds({ key, ids: merged, version: 0 }, before?.version ?? 0, nowS + retentionS));
  }

  for (const key of new Set([...current.keys(), ...emptied.keys()])) writes.push(o.features.currentValueWrite(key, current.get(key) ?? [], writtenAt, emptied.get(key)));

  // 5. Outputs and new timers first, being idempotent: dead letters, then final results and timer puts. A key's
  // state must never land before the results of the windows it drops, nor before the timer that will fire its
  // next window (after a crash in between, the retry would see the state already moved on and write neither).
  const sentBefore = o.deadLetters.sent;
  await o.deadLetters.send(result.rejected);
  const finalTtl = nowS + (o.finalRetentionSeconds ?? 7 * DAY_S);
  // Corrections before the final results they change: a retry does not fold a record into a stored result again.
  await o.state.writeAll(o.state.batchWriteRequests(o.features.tableName, o.features.correctionRequests(result.corrections, writtenAt, finalTtl)));
  const timerPutKeys = new Set(timerPuts.map((t) => `${t.shard}\u0000${t.sk}`));
  await o.state.writeAll([
    ...o.state.batchWriteRequests(o.features.tableName, o.features.finalRequests(result.finals, result.corrections, writtenAt, finalTtl, encode, result.firings)),
    ...o.state.batchWriteRequests(o.state.tableName, o.state.timerRequests(timerPuts, [])),
  ]);
  // Then the state, ids and current values, concurrently with a bound.
  await o.state.writeAll(writes);
  // Old timers go only once the state that no longer needs them is written: deleted earlier, a crash could leave
  // a key whose window fires on no timer. A timer left behind by a crash is harmless: skipped when fetched.
  const deletes = timerDeletes.filter((t) => !timerPutKeys.has(`${t.shard}\u0000${t.sk}`));
  await o.state.writeAll(o.state.batchWriteRequests(o.state.tableName, o.state.timerRequests([], deletes)));

  // 6. The shard watermark and checkpoint, last.
  await Promise.all(
    shards.map((s) => {
      const last = input.filter((r) => r.shard === s).reduce((m, r) => (compareSeq(r.seq, m) > 0 ? r.seq : m), '');
      return o.state.advanceShard(checkpoints.get(s)!, engine.getShardWatermark(s).maxEventTime, last, writtenAt);
    }),
  );

  const watermarkLagMs = new Map<string, number>();
  for (const s of shards) {
    const w = engine.watermark(s);
    if (Number.isFinite(w)) watermarkLagMs.set(s, writtenAt - w);
  }
  const newest = Math.max(...Object.values(result.newestApplied));
  return {
    counters: result.counters,
    skipped: input.length - records.length,
    deadLetters: o.deadLetters.sent - sentBefore,
    stateWrites: o.state.writes + o.features.writes,
    writeUnits: o.state.consumedWriteUnits + o.features.consumedWriteUnits,
    conflicts: o.state.conflicts,
    watermarkLagMs,
    freshnessMs: Number.isFinite(newest) ? writtenAt - newest : undefined,
  };
}

/**
 * End of a bounded input (the sandbox after draining a file): the watermark becomes +∞, so every open window is
 * final. Fires them all, writes their results and the emptied window state. Not for a live stream.
 */
export async function flushAll(o: Pick<BatchProcessorOptions, 'spec' | 'state' | 'features' | 'finalRetentionSeconds' | 'now'>): Promise<number> {
  const engine = new WindowEngine(o.spec);
  const featureNames = o.spec.features.map((f) => f.name);
  const stored = await o.state.scanKeys();
  const versions = new Map<string, number>();
  for (const k of stored) {
    for (const [feature, state] of k.features) engine.loadEntity(feature, k.key, state);
    versions.set(k.key, k.version);
  }
  const result = engine.flush();
  const writtenAt = (o.now ?? Date.now)();
  const nowS = Math.floor(writtenAt / 1000);
  const finalTtl = nowS + (o.finalRetentionSeconds ?? 7 * DAY_S);
  await o.state.writeAll(o.state.batchWriteRequests(o.features.tableName, o.features.finalRequests(result.finals, result.corrections, writtenAt, finalTtl, (f, a) => engine.accBytes(f, a), result.firings)));
  const writes = [...new Set(result.changed.map((r) => r.key))].map((key) => () => o.state.putKeyState(keyState(engine, featureNames, key), versions.get(key) ?? 0, writtenAt));
  await o.state.writeAll(writes);
  return result.finals.length;
}

/** The key's window state over all features, with the earliest pending window end and the shard that fires it. */
function keyState(engine: WindowEngine, featureNames: readonly string[], key: string): StoredKeyState {
  const features = new Map<string, SerializedEntity>();
  for (const feature of featureNames) {
    const e = engine.exportEntity({ feature, key });
    if (e) features.set(feature, e.state);
  }
  const { due, shard } = engine.keyTimer(key);
  return { key, features, due: Number.isFinite(due) ? due : null, timerShard: Number.isFinite(due) ? shard : undefined, version: 0 };
}

/**
 * A key's id memory lives in one item, and DynamoDB items are at most 400 KB: an extremely hot key keeps its
 * newest ids within this many bytes; an older retry of such a key would then count once more.
 */
export const MAX_ID_BYTES = 300_000;

function capIds(ids: Map<string, SeenId>): void {
  const entries = [...ids];
  // DynamoDB counts UTF-8 bytes.
  const size = (e: [string, SeenId]): number => Buffer.byteLength(JSON.stringify(e), 'utf8');
  let bytes = 2;
  for (const e of entries) bytes += size(e);
  if (bytes <= MAX_ID_BYTES) return;
  entries.sort((x, y) => x[1].time - y[1].time);
  for (const e of entries) {
    if (bytes <= MAX_ID_BYTES) break;
    bytes -= size(e);
    ids.delete(e[0]);
  }
}

