/**
 * Serving (docs/semantics.md §7) on the edges: a quiet key, T before the newest event (a window already final when served),
 * T earlier than the state, sessions, global windows with purge, corrections under "update", staleness, the
 * stored form of the kept windows, and unknown features.
 */
import { describe, expect, it } from 'vitest';
import { type EngineOptions, WindowEngine } from '../../../lambda/core/engine';
import { NO_ID_PAGES, decodeKeyItem, encodeKeyItem } from '../../../lambda/core/key-item';
import { type ServedFeature, UnknownFeatureError, keyShard, serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import type { Entity } from '../../../lambda/core/state';
import { featureRuntimes } from '../../../lambda/core/windows';
import { Feed, SHARD, specDoc } from '../../support/engine-harness';

const FEATURES = [
  { name: 'cnt10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count', maxStalenessMs: 1000 },
  { name: 'sum10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
  { name: 'max20by10', window: { type: 'sliding', sizeMs: 20, slideMs: 10 }, aggregate: 'max', field: 'amount' },
  { name: 'ses5', window: { type: 'session', gapMs: 5 }, aggregate: 'sum', field: 'amount' },
  { name: 'g10', window: { type: 'global', trigger: { everyMs: 10, purge: true } }, aggregate: 'count' },
  { name: 'gsum', window: { type: 'global', trigger: { count: 3 } }, aggregate: 'sum', field: 'amount' },
];

function engineOf(overrides: Record<string, unknown> = {}, options: EngineOptions = {}): WindowEngine {
  return new WindowEngine(parseSpec(specDoc({ features: FEATURES, watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 20 }, ...overrides })), options);
}

/** The key's features at `at`, by name, with the engine's watermark of the key's shard and `writtenAt`. */
function serve(engine: WindowEngine, key: string, at: number, writtenAt: number | null = at): Record<string, ServedFeature> {
  const entities = (engine.keyState(key)?.ents ?? []);
  const served = serveFeatures(featureRuntimes(engine.spec), entities, at, { watermark: engine.watermark(keyShard(entities) ?? SHARD), writtenAt });
  return Object.fromEntries(served.map((f) => [f.feature, f]));
}

const pick = (f: ServedFeature) => ({ value: f.value, count: f.count, status: f.status, windowStart: f.windowStart, windowEnd: f.windowEnd });

describe('serveFeatures', () => {
  it('reads the window holding T, and a quiet key as empty, never as its last busy value', () => {
    const engine = engineOf();
    const feed = new Feed();
    engine.processBatch([1, 2, 3].map((t) => feed.ev('u', t, { amount: t * 10 }, { arrivalTime: t })));
    const busy = serve(engine, 'u', 5);
    expect(pick(busy.cnt10!)).toEqual({ value: 3, count: 3, status: 'present', windowStart: 0, windowEnd: 10 });
    expect(busy.cnt10!.newestEventTime).toBe(3);
    expect(pick(busy.max20by10!)).toEqual({ value: 30, count: 3, status: 'present', windowStart: -10, windowEnd: 10 });
    expect(pick(busy.ses5!)).toEqual({ value: 60, count: 3, status: 'present', windowStart: 1, windowEnd: 8 });
    expect(busy.ses5!.newestEventTime).toBe(3);
    expect(busy.watermark).toBeUndefined();
    expect(busy.cnt10!.watermark).toBe(3);

    const quiet = serve(engine, 'u', 25, 3);
    expect(pick(quiet.cnt10!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: 20, windowEnd: 30 });
    expect(pick(quiet.sum10!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: 20, windowEnd: 30 });
    expect(pick(quiet.max20by10!)).toEqual({ value: null, count: 0, status: 'empty', windowStart: 10, windowEnd: 30 });
    expect(pick(quiet.ses5!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: null, windowEnd: null });
    // A global window without purge holds every record so far; its bounds are none.
    expect(pick(quiet.gsum!)).toEqual({ value: 60, count: 3, status: 'present', windowStart: null, windowEnd: null });
    // A key without state reads empty too.
    expect(pick(serve(engine, 'nobody', 25).sum10!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: 20, windowEnd: 30 });
  });

  it('takes the earliest window holding T when the slide does not divide the size', () => {
    const spec = parseSpec(specDoc({ features: [{ name: 'c', window: { type: 'sliding', sizeMs: 6, slideMs: 4 }, aggregate: 'count' }] }));
    const engine = new WindowEngine(spec);
    const feed = new Feed();
    engine.processBatch([feed.ev('u', 0), feed.ev('u', 1)]);
    // Windows [k·4, k·4 + 6): 1 is in [-4, 2) and [0, 6); the earliest ends soonest.
    expect(pick(serveFeatures(featureRuntimes(spec), (engine.keyState('u')?.ents ?? []), 1, { watermark: 1, writtenAt: 1 })[0]!)).toEqual({ value: 2, count: 2, status: 'present', windowStart: -4, windowEnd: 2 });
  });

  it('serves a window a record ahead of its arrival made final before T from the value it fired with, also once stored and reloaded', () => {
    for (const options of [{}, { fireAtBatchEnd: false, onFinal: () => undefined }] as EngineOptions[]) {
      const engine = engineOf({}, options);
      const feed = new Feed();
      engine.processBatch([feed.ev('u', 5, { amount: 1 }, { arrivalTime: 5 }), feed.ev('v', 3, { amount: 2 }, { arrivalTime: 5 }), feed.ev('v', 4, { amount: 3 }, { arrivalTime: 5 })]);
      // w's record is 19 ms ahead of its arrival (within maxFutureSkewMs): the watermark passes 10 at 6.
      engine.processBatch([feed.ev('w', 25, { amount: 9 }, { arrivalTime: 6 })]);
      engine.fireAllDue();
      engine.evictIdle();
      for (const [key, want] of [['u', 1], ['v', 5]] as const) {
        const at6 = serve(engine, key, 6);
        expect(pick(at6.sum10!)).toEqual({ value: want, count: key === 'u' ? 1 : 2, status: 'present', windowStart: 0, windowEnd: 10 });
        // The state does not keep event times of fired windows.
        expect(at6.sum10!.newestEventTime).toBeNull();
      }
      // The key item carries the kept window and session.
      const reloaded = engineOf();
      const bytes = encodeKeyItem({ runtime: engine.runtimes, state: engine.keyState('v')!, shards: engine.keyProgress('v'), ids: new Map(), idPages: NO_ID_PAGES });
      reloaded.loadKey('v', decodeKeyItem(reloaded.runtimes, 'v', bytes));
      expect(pick(serve(reloaded, 'v', 6).sum10!)).toEqual({ value: 5, count: 2, status: 'present', windowStart: 0, windowEnd: 10 });
      expect(pick(serve(reloaded, 'v', 6).ses5!)).toEqual({ value: 5, count: 2, status: 'present', windowStart: 3, windowEnd: 9 });
    }
  });

  it('keeps no fired window or session for a key whose records are behind their arrival (the normal case)', () => {
    const engine = engineOf();
    const feed = new Feed();
    // Each record arrives 2 ms after its event time; the last one moves the watermark to 40.
    engine.processBatch([3, 12, 25, 40].map((t) => feed.ev('u', t, { amount: 1 }, { arrivalTime: t + 2 })));
    const kept = (engine.keyState('u')?.ents ?? []).map((e: Entity | undefined) => (e === undefined ? 0 : featureRuntimes(engine.spec)[e.fi]!.window.openCount(e)));
    // Only what is open at 40: the tumbling slices of [40, 50), the sliding ones of [30, 50) and [40, 60), the session [40, 45), the global windows.
    expect(kept).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('reads such a window as unavailable without a future guard, and a window dropped before T as unavailable', () => {
    const noGuard = engineOf({ watermark: { allowedLatenessMs: 0 } });
    const feed = new Feed();
    noGuard.processBatch([feed.ev('u', 5, { amount: 1 }, { arrivalTime: 5 }), feed.ev('w', 25, { amount: 9 }, { arrivalTime: 6 })]);
    expect(pick(serve(noGuard, 'u', 6).sum10!)).toEqual({ value: null, count: 0, status: 'unavailable', windowStart: 0, windowEnd: 10 });
    expect(serve(noGuard, 'u', 6).ses5!.status).toBe('unavailable');

    // T before the state was written: a final window not in the state may have been dropped (records arrived up
    // to 100), an open one is served from what the state holds.
    const engine = engineOf();
    const f2 = new Feed();
    engine.processBatch([5, 50, 100].map((t) => f2.ev('u', t, { amount: t }, { arrivalTime: t })));
    expect(serve(engine, 'u', 5, 100).sum10!.status).toBe('unavailable');
    expect(pick(serve(engine, 'u', 85, 100).sum10!)).toEqual({ value: null, count: 0, status: 'unavailable', windowStart: 80, windowEnd: 90 });
    expect(pick(serve(engine, 'u', 100, 100).sum10!)).toEqual({ value: 100, count: 1, status: 'present', windowStart: 100, windowEnd: 110 });
  });

  it('reads the session whose [start, last + gap) holds T; a final session kept for serving takes no later record', () => {
    const engine = engineOf();
    const feed = new Feed();
    engine.processBatch([feed.ev('u', 22, { amount: 7 }, { arrivalTime: 22 })]);
    // Another key's record 7 ms ahead moves the watermark to 30: u's session [22, 27) is final.
    engine.processBatch([feed.ev('x', 30, { amount: 0 }, { arrivalTime: 23 })]);
    // Not late for the session feature (26 + 5 > 30), so it opens [26, 31), overlapping the final session
    // without joining it.
    const r = engine.processBatch([feed.ev('u', 26, { amount: 100 }, { arrivalTime: 24 })]);
    expect(r.rejected.map((x) => x.feature)).toEqual(['cnt10', 'sum10']);
    expect(pick(serve(engine, 'u', 24).ses5!)).toEqual({ value: 7, count: 1, status: 'present', windowStart: 22, windowEnd: 27 });
    expect(pick(serve(engine, 'u', 26).ses5!)).toEqual({ value: 100, count: 1, status: 'present', windowStart: 26, windowEnd: 31 });
    expect(serve(engine, 'u', 26).ses5!.newestEventTime).toBe(26);
    expect(pick(serve(engine, 'u', 31).ses5!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: null, windowEnd: null });
    expect(engine.flush().finals.filter((f) => f.feature === 'ses5' && f.key === 'u').map((f) => [f.windowStart, f.windowEnd, f.value])).toEqual([[26, 31, 100]]);
  });

  it('reads a purging global window as empty once the shard watermark reached its time trigger, fired or not', () => {
    // Sweeps, as the replay fires: the watermark passes 10 without u's window firing yet.
    const engine = engineOf({}, { fireAtBatchEnd: false });
    const feed = new Feed();
    engine.processBatch([feed.ev('u', 1, { amount: 1 }, { arrivalTime: 1 }), feed.ev('u', 2, { amount: 2 }, { arrivalTime: 2 })]);
    expect(pick(serve(engine, 'u', 3).g10!)).toEqual({ value: 2, count: 2, status: 'present', windowStart: null, windowEnd: null });
    engine.processBatch([feed.ev('x', 15, { amount: 0 }, { arrivalTime: 15 })]);
    expect(pick(serve(engine, 'u', 15).g10!)).toEqual({ value: 0, count: 0, status: 'empty', windowStart: null, windowEnd: null });
    expect(engine.fireAllDue().firings.map((f) => [f.key, f.count])).toEqual([['u', 2]]);
    expect(serve(engine, 'u', 15).g10!.count).toBe(0);
  });

  it('includes corrections under "update": a late record counts in the final window holding T', () => {
    for (const [latePolicy, want] of [['update', 4], ['dlq', 1]] as const) {
      const engine = engineOf({ latePolicy });
      const feed = new Feed();
      engine.processBatch([feed.ev('u', 5, { amount: 1 }, { arrivalTime: 5 }), feed.ev('x', 25, { amount: 0 }, { arrivalTime: 6 }), feed.ev('u', 7, { amount: 3 }, { arrivalTime: 7 })]);
      expect(serve(engine, 'u', 7).sum10!.value).toBe(want);
    }
  });

  it('under "update", keeps a window serving needs even beyond the correction horizon, without correcting it', () => {
    const engine = engineOf({ latePolicy: 'update', correctionHorizonMs: 1 });
    const feed = new Feed();
    engine.processBatch([feed.ev('u', 5, { amount: 1 }, { arrivalTime: 5 }), feed.ev('x', 25, { amount: 0 }, { arrivalTime: 6 })]);
    // [0, 10) ended 15 ms before the watermark, beyond the 1 ms horizon: a late record of it is dead-lettered.
    const r = engine.processBatch([feed.ev('u', 7, { amount: 3 }, { arrivalTime: 7 })]);
    expect(r.rejected.map((x) => x.feature)).toContain('sum10');
    expect(pick(serve(engine, 'u', 7).sum10!)).toEqual({ value: 1, count: 1, status: 'present', windowStart: 0, windowEnd: 10 });
  });

  it('marks a value stale once the state is older than the feature\'s maxStalenessMs at T, and keeps the value', () => {
    const engine = engineOf();
    const feed = new Feed();
    engine.processBatch([feed.ev('u', 1000, { amount: 1 }, { arrivalTime: 1000 })]);
    expect(serve(engine, 'u', 1009, 9).cnt10!.status).toBe('present');
    expect(pick(serve(engine, 'u', 1009, 8).cnt10!)).toEqual({ value: 1, count: 1, status: 'stale', windowStart: 1000, windowEnd: 1010 });
    // Features without maxStalenessMs are never stale; an unknown write time makes nothing stale.
    expect(serve(engine, 'u', 1009, 8).sum10!.status).toBe('present');
    expect(serve(engine, 'u', 1009, null).cnt10!.status).toBe('present');
  });

  it('serves the named features in the order asked, and names a feature the spec does not define', () => {
    const engine = engineOf();
    const runtimes = featureRuntimes(engine.spec);
    expect(serveFeatures(runtimes, [], 0, { watermark: null, writtenAt: null }, ['ses5', 'cnt10']).map((f) => f.feature)).toEqual(['ses5', 'cnt10']);
    expect(() => serveFeatures(runtimes, [], 0, { watermark: null, writtenAt: null }, ['cnt10', 'txn_count'])).toThrow(UnknownFeatureError);
    expect(() => serveFeatures(runtimes, [], 0, { watermark: null, writtenAt: null }, ['txn_count'])).toThrow(/unknown feature "txn_count" \(the spec defines "cnt10", "sum10"/);
  });
});
