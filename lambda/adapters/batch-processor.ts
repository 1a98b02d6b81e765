/**
 * One consumer batch: load what the batch needs, run the engine, write, checkpoint. The order of effects is what
 * makes re-delivery harmless:
 *
 * 1. records at or below the shard checkpoint were fully processed by an earlier delivery: skipped;
 * 2. reads in one round: the batch's key items (BatchGetItem, 100 a request, in parallel) with the keys of due
 *    timer pages; then, for keys whose inline ids overflowed earlier, the id pages that could hold the original
 *    of a record of the batch (pages sort by their newest id's event time; a retry repeats its original's);
 * 3. outputs first, being idempotent: dead letters (FIFO queue, deterministic deduplication ids), result objects
 *    in S3 (named by their contents), new id pages and the new timer page. A key item that drops a fired window
 *    must never land before that window's result, nor before the timer that fires its next window;
 * 4. the key items of the keys a record was applied to (or that remembered a new producer id), concurrently, each
 *    conditional on the version read; a record already applied to a key (sequence number at or below its last
 *    applied one) is never applied again. A key whose windows only fired is not rewritten: its windows up to the
 *    shard's `firedThrough` were emitted, so the next batch that loads it skips them silently (`skipFired`);
 * 5. with a scoring section, every record applied is scored with its key's features as of its own arrival, taken
 *    from the engine's state as it applied the record (core/arrival-features.ts), and the predictions are written
 *    (prediction-store.ts) before the key items: a record a retry finds applied always has its prediction, and
 *    one it applies again gets the very same features. After the key items, the predictions are counted in their
 *    evaluation windows;
 * 6. timer pages whose entries are all due are deleted where the batch cannot move `firedThrough` (otherwise left
 *    to their TTL: the next query starts at `firedThrough`); a page partly due stays and is read again. Then the
 *    shard watermark, checkpoint and `firedThrough` are written last.
 *    Until then, a retry sees the watermark from before the batch, so every record is judged exactly as in the
 *    first delivery.
 */
import { type BatchCounters, type InputRecord, WindowEngine, idRetentionMs } from '../core/engine';
import { type IdPages, NO_ID_PAGES, type ShardProgress, decodeIdPage, decodeKeyItem, encodeIdPage, encodeKeyItem, featureFingerprint } from '../core/key-item';
import type { Model } from '../core/model';
import { ArrivalFeatures } from '../core/arrival-features';
import type { AppliedRecord } from '../core/results';
import { type Prediction, predict } from '../core/scoring';
import { type StoredPrediction, evaluationCloseLagMs, predictionRef } from '../core/label-join';
import { type StoredKeyItem as ServableItem, serveItem } from '../core/serve-item';
import type { PipelineSpec } from '../core/spec';
import { type Definitions, coveredFrom, registerDefinitions } from '../core/coverage';
import { compareSeq } from '../core/state';
import { watermarkOf } from '../core/watermark';
import type { DeadLetterSender } from './dead-letters';
import type { ClosedWindow, EvaluationStore } from './evaluation-store';
import type { PredictionStore } from './prediction-store';
import { type ResultObjectWriter, objectArrivalTime } from './result-objects';
import { type ShardCheckpoint, type StateStore, type TimerEntry, type TimerPage } from './state-store';

export interface BatchProcessorOptions {
  readonly spec: PipelineSpec;
  /** Names the result objects (`finals/<pipeline>/…`). */
  readonly pipelineName: string;
  readonly state: StateStore;
  readonly results: ResultObjectWriter;
  readonly deadLetters: DeadLetterSender;
  /**
   * Lambda's ParallelizationFactor. Above 1, batches of one shard run concurrently, so the shard checkpoint cannot
   * skip records (per-key sequence numbers still do).
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Most timer pages read per shard per batch; the rest fire in the next batches. Pages are written per batch and
   * second of due time, so a window boundary shared by many keys is due in one page per batch that wrote to it.
   * @default 250
   */
  readonly timerPageLimit?: number;
  /**
   * Most producer ids a key keeps inline in its item (7–9 bytes each); beyond, they move to an id page written
   * once, so a hot key's item stays small and each id is written about once.
   * @default 64
   */
  readonly inlineIdLimit?: number;
  readonly now?: () => number;
  /** Score each applied record (the spec's scoring section), after the key items are written. */
  readonly scoring?: ScoringOptions;
  /**
   * Quiet shards whose idle advance is already recorded in their checkpoint (idle-shards.ts): with no records of
   * their own, their due windows fire through the advanced watermark.
   */
  readonly quietShards?: readonly string[];
  /** A child shard's definitions, taken over from its parents (shard-lineage.ts): used when it has none recorded. */
  readonly inheritedDefinitions?: ReadonlyMap<string, Definitions>;
}

/** A prediction counted in its evaluation window: the stored one (a retry never recounts a different score). */
export interface CountedPrediction extends Pick<StoredPrediction, 'eventId' | 'eventTime' | 'score' | 'positive'> {
  readonly seq: string;
}

export interface ScoringOptions {
  readonly model: Model;
  readonly predictions: PredictionStore;
  /** With an evaluation section: predictions counted per evaluation window, closed windows measured. */
  readonly evaluation?: Pick<EvaluationStore, 'addPredictions' | 'closeWindows'>;
  /** Receives closing windows' figures before they are marked closed (the handler publishes them). */
  readonly onWindowsClosing?: (closed: readonly ClosedWindow[]) => void | Promise<void>;
}

export interface ScoringOutcome {
  /** Predictions this batch wrote (a re-delivered record whose prediction existed is not among them). */
  readonly predictions: readonly Prediction[];
  /** Per prediction written: its write time − the event's arrival time (ms). */
  readonly latencyMs: readonly number[];
  /** Evaluation windows this batch closed. */
  readonly closed: readonly ClosedWindow[];
}

export interface BatchOutcome {
  readonly counters: BatchCounters;
  /** Records skipped because the shard checkpoint shows them processed. */
  readonly skipped: number;
  readonly deadLetters: number;
  readonly stateWrites: number;
  readonly writeUnits: number;
  readonly conflicts: number;
  /** Keys whose item the batch wrote. */
  readonly keysWritten: number;
  /**
   * The least any design writes for this batch: one unit per distinct key of its valid records, one for the
   * checkpoint, and each new producer id at 8 bytes (the figure write units are judged against).
   */
  readonly boundWriteUnits: number;
  /** Read units the batch consumed (consistent reads: key items, timer pages, id pages, the shard item). */
  readonly readUnits: number;
  /**
   * A read lower bound: half a unit per distinct key of the batch's valid records (one eventually consistent read
   * of an item under 4 KB), the figure read units are judged against.
   */
  readonly boundReadUnits: number;
  /** Id pages written (a key's inline ids overflowing). */
  readonly idPages: number;
  /** now − watermark per shard (ms); absent before any record. */
  readonly watermarkLagMs: ReadonlyMap<string, number>;
  /** Write time − event time of the newest record applied (ms); absent when nothing was applied. */
  readonly freshnessMs: number | undefined;
  /** With scoring only. */
  readonly scoring?: ScoringOutcome;
}

const DAY_S = 86_400;
const DEFAULT_TIMER_PAGE_LIMIT = 250;

interface Loaded {
  readonly version: number;
  readonly shards: ReadonlyMap<string, ShardProgress>;
  readonly idPages: IdPages;
  /** Earliest pending due time per timer shard, once loaded (and skipped through firedThrough). */
  readonly dues: ReadonlyMap<string, number>;
}

export async function processBatch(input: readonly InputRecord[], o: BatchProcessorOptions): Promise<BatchOutcome> {
  const now = o.now ?? Date.now;
  if (o.scoring?.evaluation !== undefined && (o.parallelizationFactor ?? 1) !== 1) {
    throw new RangeError(`parallelizationFactor must be 1 with an evaluation section, got ${o.parallelizationFactor}: evaluation windows count each shard's predictions in sequence order`);
  }
  let arrival: ArrivalFeatures | undefined;
  const engine: WindowEngine = new WindowEngine(o.spec, { judgeRedelivered: true, collectApplied: o.scoring !== undefined, onApplied: (r) => arrival?.applied(r) });
  if (o.scoring !== undefined) {
    // A definition this consumer holds only from a time on scores its earlier-reaching windows as unavailable, as
    // serving reads them (the shard's definitions as this batch records them).
    const held = (sh: string): Definitions | undefined => definitions.get(sh) ?? checkpoints.get(sh)?.definitions;
    arrival = new ArrivalFeatures(
      {
        runtimes: engine.runtimes,
        entities: (k) => engine.keyState(k)?.ents ?? [],
        watermark: (sh) => engine.watermark(sh),
        coveredFrom: (sh, f) => {
          const d = held(sh);
          return d === undefined ? -Infinity : coveredFrom(featureFingerprint(f), [d]);
        },
      },
      o.scoring.model.features,
      now(),
    );
  }
  const inlineLimit = o.inlineIdLimit ?? 64;
  const writesBefore = o.state.writes;
  const unitsBefore = o.state.consumedWriteUnits;
  const readUnitsBefore = o.state.consumedReadUnits;

  // 1. Shard checkpoints and watermarks.
  const shards = [...new Set([...input.map((r) => r.shard), ...(o.quietShards ?? [])])];
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
  // The definitions each shard's state holds (core/coverage.ts): one not yet recorded there holds the shard's
  // records from after its highest event time so far (a child's raised to its parents' by its lineage).
  const fingerprints = engine.runtimes.map((f) => featureFingerprint(f));
  const definitions = new Map<string, Definitions>();
  for (const s of new Set(input.map((r) => r.shard))) {
    const cp = checkpoints.get(s)!;
    const raised = input.find((r) => r.shard === s && r.preset?.shardMax !== undefined && r.preset.shardMax !== null)?.preset?.shardMax ?? null;
    const maxBefore = raised === null ? cp.maxEventTime : cp.maxEventTime === null ? raised : Math.max(raised, cp.maxEventTime);
    const next = registerDefinitions(cp.definitions, fingerprints, maxBefore, cp.version === 0 ? o.inheritedDefinitions?.get(s) : undefined);
    if (next !== undefined) definitions.set(s, next);
  }
  for (const s of o.quietShards ?? []) {
    const m = checkpoints.get(s)!.maxEventTime;
    if (m !== null) engine.advanceQuietShard(s, m);
  }

  // 2. Reads: due timer pages, then the key items of the batch's keys and of the timers' keys, in one round.
  const plan = engine.plan(records);
  for (const s of o.quietShards ?? []) plan.watermarkBound[s] = Math.max(plan.watermarkBound[s] ?? -Infinity, engine.watermark(s));
  const timerPages: TimerPage[] = [];
  const pagesOf = new Map<string, number>();
  await Promise.all(
    Object.entries(plan.watermarkBound).map(async ([shard, bound]) => {
      if (!Number.isFinite(bound)) return;
      const pages = await o.state.getDueTimerPages(shard, bound, o.timerPageLimit ?? DEFAULT_TIMER_PAGE_LIMIT, checkpoints.get(shard)!.firedThrough ?? -Infinity);
      pagesOf.set(shard, pages.length);
      timerPages.push(...pages);
    }),
  );
  // A page holds one second of due times (state-store.ts): entries not yet due stay in it, so no batch rewrites
  // entries that did not change. An entry due at or before the shard's firedThrough has fired: a key loaded for it
  // would skip those windows silently (skipFired), so it is not loaded. Pages wholly below firedThrough's second
  // are not even read, so a page whose entries are all due need not be deleted once firedThrough will pass it.
  const timerKeys = new Set<string>();
  const firedPages: TimerPage[] = [];
  for (const p of timerPages) {
    const bound = plan.watermarkBound[p.shard]!;
    const fired = checkpoints.get(p.shard)!.firedThrough ?? -Infinity;
    let all = true;
    for (const e of p.entries) {
      if (e.due > bound) all = false;
      else if (e.due > fired) timerKeys.add(e.key);
    }
    if (all) firedPages.push(p);
  }
  const toLoad = [...new Set([...plan.keys, ...timerKeys])];
  const loaded = new Map<string, Loaded>();
  const items = (await o.state.getKeyItems(toLoad)).map((item) => ({ item, d: decodeKeyItem(engine.runtimes, item.key, item.state) }));
  const servable = new Map<string, ServableItem>(items.map(({ item }) => [item.key, item]));
  const loadedAt = new Map(items.map(({ item }) => [item.key, item.writtenAt]));
  // Windows a timer already fired (through each shard's firedThrough) are skipped, not emitted again.
  const timerShards = new Set<string>();
  for (const { d } of items) for (const e of d.ents) if (e?.timerShard !== undefined && !checkpoints.has(e.timerShard)) timerShards.add(e.timerShard);
  await Promise.all([...timerShards].map(async (s) => checkpoints.set(s, await o.state.getShard(s))));
  const firedThrough = (shard: string): number => checkpoints.get(shard)?.firedThrough ?? -Infinity;
  for (const { item, d } of items) {
    engine.loadKey(item.key, d);
    engine.skipFired(item.key, firedThrough);
    loaded.set(item.key, { version: item.version, shards: d.shards, idPages: d.idPages, dues: engine.keyTimersByShard(item.key) });
  }
  // Older producer ids, only for keys with an id in the batch that a paged id could be the original of. A producer
  // retry repeats its original's event time, so only pages whose newest id is at or after the key's earliest id
  // time in the batch are read; a key whose records are all newer than every paged id reads none.
  const idKeys = plan.idKeys.filter((k) => {
    const p = loaded.get(k)?.idPages;
    return p !== undefined && p.next > 0 && plan.idMinTime.get(k)! <= p.newest && engine.idLive(p.newest);
  });
  await Promise.all(
    idKeys.map(async (key) => {
      const pages = await o.state.getIdPagesFrom(key, plan.idMinTime.get(key)!);
      const ids = new Map<number, number>();
      const tags = new Map<number, number>();
      for (const page of pages) decodeIdPage(page.ids, ids, tags);
      engine.loadOlderIds(key, ids, tags);
    }),
  );

  // 3. Run the engine.
  const result = engine.processBatch(records);
  // A shard's timers have all fired through its watermark when its due pages were fetched and none was left over
  // by the page limit. Only then may keys whose windows fired stay unwritten (the next load skips those windows);
  // otherwise, and whenever batches of a shard can run concurrently, every key whose windows fired is written.
  const pageLimit = o.timerPageLimit ?? DEFAULT_TIMER_PAGE_LIMIT;
  const allFired = (shard: string): boolean => checkpointSkips && pagesOf.has(shard) && pagesOf.get(shard)! < pageLimit && Number.isFinite(engine.watermark(shard));
  const skipFiredWrites = shards.every(allFired) && [...pagesOf.keys()].every(allFired);
  const writtenAt = now();
  const nowS = Math.floor(writtenAt / 1000);

  // 4. What to write: one item per changed key, id pages of keys whose inline ids overflow, timer entries.
  const idRetention = idRetentionMs(o.spec);
  const idTtl = Number.isFinite(idRetention) ? nowS + Math.ceil(idRetention / 1000) + 7 * DAY_S : undefined;
  const idPageWrites: Array<() => Promise<void>> = [];
  const keyWrites: Array<{ key: string; bytes: Uint8Array; version: number }> = [];
  const newTimers = new Map<string, TimerEntry[]>();
  const addTimer = (shard: string, e: TimerEntry): void => void (newTimers.get(shard) ?? newTimers.set(shard, []).get(shard)!).push(e);
  // A key seen on several shards is written whenever its windows fire: its version then orders this batch against
  // a concurrent batch of its other shard, which must find those windows final.
  const multiShard = (key: string): boolean => (loaded.get(key)?.shards.size ?? 0) > 1 || engine.keyTimersByShard(key).size > 1;
  const firedKeys = result.changed.map((r) => r.key).filter((k) => !skipFiredWrites || multiShard(k));
  const changed = new Set([...result.touchedKeys, ...result.idKeys, ...firedKeys]);
  for (const key of changed) {
    const before = loaded.get(key);
    let ids = engine.liveIds(key);
    let idPages: IdPages = before?.idPages ?? NO_ID_PAGES;
    if (ids.size > inlineLimit) {
      let maxTime = -Infinity;
      for (const t of ids.values()) if (t > maxTime) maxTime = t;
      const page = idPages.next;
      const pageBytes = encodeIdPage(ids, engine.keyState(key)!.tags);
      idPageWrites.push(() => o.state.putIdPage(key, page, pageBytes, maxTime, idTtl));
      idPages = { next: idPages.next + 1, live: idPages.live, newest: Math.max(idPages.newest, maxTime) };
      ids = new Map();
    }
    const state = engine.keyState(key)!;
    const bytes = encodeKeyItem({ runtime: engine.runtimes, state, shards: engine.keyProgress(key, before?.shards), ids, idPages });
    keyWrites.push({ key, bytes, version: before?.version ?? 0 });
  }
  // A key needs a timer entry, per timer shard, when its next due time there moved, or when it came from a fired
  // timer page (deleted below).
  for (const key of new Set([...changed, ...timerKeys, ...result.changed.map((r) => r.key)])) {
    const before = loaded.get(key)?.dues;
    for (const [shard, due] of engine.keyTimersByShard(key)) {
      if (timerKeys.has(key) || before === undefined || before.get(shard) !== due) addTimer(shard, { key, due });
    }
  }

  // 5. Outputs, id pages and timer pages first (idempotent or uniquely named), then key items, then cleanup.
  const sentBefore = o.deadLetters.sent;
  await o.deadLetters.send(result.rejected);
  // Named by the delivery's first and last record, so a retry of the same delivery names its objects alike.
  const first = input[0];
  const hasResults = result.finals.length + result.firings.length + result.corrections.length > 0;
  await Promise.all([
    hasResults
      ? o.results.putBatch(
          {
            pipeline: o.pipelineName,
            shardId: first?.shard ?? 'none',
            firstSeq: first?.seq ?? '0',
            lastSeq: input[input.length - 1]?.seq ?? '0',
            arrivalTime: objectArrivalTime(first?.arrivalTime, writtenAt),
          },
          result,
        )
      : Promise.resolve([]),
    o.state.writeAll([
      // Recorded before any key item holding a newly registered definition is written.
      ...[...definitions].map(([s, d]) => () => o.state.putDefinitions(s, d)),
      ...idPageWrites,
      ...o.state.batchWriteRequests(o.state.tableName, [...newTimers].flatMap(([shard, entries]) => o.state.timerPageRequests(shard, entries, writtenAt, engine.watermark(shard))), 'timer page'),
    ]),
  ]);
  const scored = o.scoring === undefined ? undefined : await score(o.spec, engine.runtimes, o.scoring, result.applied, arrival!, servable, loadedAt, now);
  await o.state.writeAll(keyWrites.map((k) => () => o.state.putKeyItem(k.key, k.bytes, k.version, writtenAt)));
  const scoring =
    o.scoring === undefined || scored === undefined
      ? undefined
      : await countScored(o.scoring, scored, shards, (s) => engine.watermark(s), evaluationCloseLagMs(o.spec), async (s) => watermarkOf(await o.state.getShard(s), o.spec.watermark.allowedLatenessMs));
  // Pages whose entries are all due go only once the key items that no longer need them are written; a page left
  // by a crash fires keys with nothing due: harmless. Where this batch moves firedThrough to the watermark, the
  // next query starts at its second, so those pages are left to their TTL instead (a delete costs what the put
  // did); where it does not (page limit reached, concurrent batches), they are deleted, or the same pages would
  // fill every later query.
  const toDelete = firedPages.filter((p) => !allFired(p.shard));
  await o.state.writeAll(o.state.batchWriteRequests(o.state.tableName, o.state.timerPageDeletes(toDelete), 'timer page delete'));

  // 6. The shard watermark and checkpoint, last; timers have fired through the watermark when every due page
  // was fetched (none left over by the page limit).
  await Promise.all(
    shards.map((s) => {
      const last = input.filter((r) => r.shard === s).reduce((m, r) => (compareSeq(r.seq, m) > 0 ? r.seq : m), '');
      return o.state.advanceShard(checkpoints.get(s)!, engine.getShardWatermark(s).maxEventTime, last, writtenAt, allFired(s) ? engine.watermark(s) : null, definitions.get(s));
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
    stateWrites: o.state.writes - writesBefore,
    writeUnits: o.state.consumedWriteUnits - unitsBefore,
    conflicts: o.state.conflicts,
    keysWritten: keyWrites.length,
    boundWriteUnits: plan.keys.length + 1 + ((result.counters.records - result.counters.invalid - result.counters.future - result.counters.duplicates) * 8) / 1024,
    readUnits: o.state.consumedReadUnits - readUnitsBefore,
    boundReadUnits: plan.keys.length / 2,
    idPages: idPageWrites.length,
    watermarkLagMs,
    freshnessMs: Number.isFinite(newest) ? writtenAt - newest : undefined,
    ...(scoring === undefined ? {} : { scoring }),
  };
}

interface Scored {
  /** The applied records, one per key and event id. */
  readonly records: readonly AppliedRecord[];
  readonly written: readonly Prediction[];
  /** Stored predictions of records scored by an earlier delivery, by prediction ref. */
  readonly stored: ReadonlyMap<string, StoredPrediction>;
  readonly latencyMs: readonly number[];
}

/**
 * Scores the applied records with their keys' features as of their arrival (taken as the engine applied them)
 * and writes the predictions. A re-delivered record was scored by the delivery that applied it, before its key
 * item was written: its stored prediction stands. One without (an item written before predictions came first)
 * is served from the item as loaded, as of its write, when every record it holds had arrived.
 */
async function score(
  spec: PipelineSpec,
  runtimes: WindowEngine['runtimes'],
  sc: ScoringOptions,
  applied: readonly AppliedRecord[],
  arrival: ArrivalFeatures,
  servable: ReadonlyMap<string, ServableItem>,
  loadedAt: ReadonlyMap<string, number>,
  now: () => number,
): Promise<Scored> {
  const refOf = (r: { key: string; eventId: string }): string => predictionRef(r.key, r.eventId);
  const seen = new Set<string>();
  const records = applied.filter((r) => !seen.has(refOf(r)) && seen.add(refOf(r)));
  const stored = await sc.predictions.existing(records.filter((r) => r.redelivered));
  const scoredAt = now();
  const lateness = spec.watermark.allowedLatenessMs;
  const names = sc.model.features;
  const predictions = records
    .filter((r) => !stored.has(refOf(r)))
    .map((r) => {
      const taken = arrival.features(r);
      if (taken !== undefined) return predict(sc.model, r, taken, arrival.at(r), scoredAt);
      const at = Math.max(arrival.at(r), loadedAt.get(r.key) ?? -Infinity);
      return predict(sc.model, r, serveItem(runtimes, lateness, r.key, servable.get(r.key), at, names).features, at, scoredAt);
    });
  const { written, existed } = await sc.predictions.write(predictions);
  const writtenAt = now();
  for (const [ref, p] of await sc.predictions.existing(existed)) stored.set(ref, p);
  return { records, written, stored, latencyMs: written.filter((p) => p.arrivalTime !== null).map((p) => writtenAt - p.arrivalTime!) };
}

/**
 * Counts the stored predictions in their evaluation windows, per shard in sequence order, and closes windows by
 * every shard's watermark (provisionally past their end, finally `lag` past it, when no shard can add a prediction
 * anymore). The batch's shards are judged by their watermarks after the batch, the others by their stored
 * checkpoint (`storedWatermark`), which a batch advances only after counting its predictions.
 */
async function countScored(
  sc: ScoringOptions,
  s: Scored,
  shards: readonly string[],
  watermark: (shard: string) => number,
  lag: number,
  storedWatermark: (shard: string) => Promise<number>,
): Promise<ScoringOutcome> {
  const refOf = (r: { key: string; eventId: string }): string => predictionRef(r.key, r.eventId);
  let closed: readonly ClosedWindow[] = [];
  if (sc.evaluation !== undefined) {
    type Counted = Pick<StoredPrediction, 'eventId' | 'eventTime' | 'score' | 'positive' | 'features'>;
    // Feature values as the stored document holds them, so a retry counts a stored prediction alike.
    const values = (p: Prediction): Record<string, number | null> => Object.fromEntries(Object.entries(p.features).map(([name, f]) => [name, f.value]));
    const byRef = new Map<string, Counted>([...s.written.map((p): [string, Counted] => [refOf(p), { ...p, features: values(p) }]), ...s.stored]);
    for (const shard of shards) {
      const counted = s.records
        .filter((r) => r.shard === shard && byRef.has(refOf(r)))
        .map((r) => {
          const p = byRef.get(refOf(r))!;
          return { eventId: p.eventId, eventTime: p.eventTime, score: p.score, positive: p.positive, seq: r.seq, ...(p.features === undefined ? {} : { features: p.features }) };
        });
      if (counted.length > 0) await sc.evaluation.addPredictions(shard, counted);
    }
    const known = new Map(shards.map((sh) => [sh, watermark(sh)]));
    if (Number.isFinite(Math.min(...known.values()))) closed = await sc.evaluation.closeWindows({ known, read: storedWatermark, lagMs: lag }, sc.onWindowsClosing);
  }
  return { predictions: s.written, latencyMs: s.latencyMs, closed };
}

/**
 * End of a bounded input (the sandbox after draining a file): the watermark becomes +∞, so every open window is
 * final. Fires them all, writes their results and the emptied key items. Not for a live stream.
 */
export async function flushAll(o: Pick<BatchProcessorOptions, 'spec' | 'pipelineName' | 'state' | 'results' | 'now'>): Promise<number> {
  const engine = new WindowEngine(o.spec);
  const loaded = new Map<string, { version: number; shards: ReadonlyMap<string, ShardProgress>; idPages: IdPages }>();
  const fired = new Map((await o.state.scanShards()).map((c) => [c.shard, c.firedThrough ?? -Infinity]));
  for (const item of await o.state.scanKeyItems()) {
    const d = decodeKeyItem(engine.runtimes, item.key, item.state);
    engine.loadKey(item.key, d);
    engine.skipFired(item.key, (shard) => fired.get(shard) ?? -Infinity);
    loaded.set(item.key, { version: item.version, shards: d.shards, idPages: d.idPages });
  }
  const result = engine.flush();
  const writtenAt = (o.now ?? Date.now)();
  await o.results.putBatch({ pipeline: o.pipelineName, shardId: 'flush', firstSeq: '0', lastSeq: '0', arrivalTime: writtenAt }, result);
  const writes = [...new Set(result.changed.map((r) => r.key))].map((key) => () => {
    const before = loaded.get(key)!;
    const ks = engine.keyState(key)!;
    const bytes = encodeKeyItem({ runtime: engine.runtimes, state: ks, shards: before.shards, ids: ks.ids ?? new Map(), idPages: before.idPages });
    return o.state.putKeyItem(key, bytes, before.version, writtenAt);
  });
  await o.state.writeAll(writes);
  return result.finals.length;
}
