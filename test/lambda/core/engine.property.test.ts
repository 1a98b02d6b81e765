/**
 * Properties of the window engine against a plain batch computation (test/support/window-reference.ts).
 * Amounts are integers so the order of summation cannot change a result; times span a few windows so that
 * windows, slices and sessions collide.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type EngineOptions, type InputRecord, WindowEngine } from '../../../lambda/core/engine';
import { type FeatureSpec, parseSpec } from '../../../lambda/core/spec';
import { Feed, chunk, SHARD, type WindowRow, collect, repeatedFinals, runBatches, sortRows, specDoc } from '../../support/engine-harness';
import { type RefRecord, referenceWindows, streamingReference } from '../../support/window-reference';

const SLICED: readonly Record<string, unknown>[] = [
  { name: 'tum5', window: { type: 'tumbling', sizeMs: 5 }, aggregate: 'count' },
  { name: 'tum7', window: { type: 'tumbling', sizeMs: 7 }, aggregate: 'sum', field: 'amount' },
  { name: 'sl6by2', window: { type: 'sliding', sizeMs: 6, slideMs: 2 }, aggregate: 'max', field: 'amount' },
  { name: 'sl6by4', window: { type: 'sliding', sizeMs: 6, slideMs: 4 }, aggregate: 'avg', field: 'amount' },
  { name: 'sl10by5', window: { type: 'sliding', sizeMs: 10, slideMs: 5 }, aggregate: 'min', field: 'amount' },
];
const SESSION: Record<string, unknown> = { name: 'ses4', window: { type: 'session', gapMs: 4 }, aggregate: 'sum', field: 'amount' };
const LONG_SESSION: Record<string, unknown> = { name: 'ses9', window: { type: 'session', gapMs: 9 }, aggregate: 'count' };
const ALL = [...SLICED, SESSION, LONG_SESSION];

interface Ev {
  readonly key: string;
  readonly time: number;
  readonly amount: number;
}

const evArb = fc.record({
  key: fc.constantFrom('a', 'b', 'c'),
  time: fc.integer({ min: -15, max: 45 }),
  amount: fc.integer({ min: -20, max: 20 }),
});
const eventsArb = fc.array(evArb, { minLength: 0, maxLength: 30 });

function engineFor(features: readonly Record<string, unknown>[], latePolicy: string, lateness: number, options: EngineOptions = {}): WindowEngine {
  return new WindowEngine(parseSpec(specDoc({ features, latePolicy, watermark: { allowedLatenessMs: lateness } })), options);
}

function featureSpecs(features: readonly Record<string, unknown>[]): readonly FeatureSpec[] {
  return parseSpec(specDoc({ features })).features;
}

function reference(features: readonly Record<string, unknown>[], events: readonly Ev[]): WindowRow[] {
  const refs: RefRecord[] = events.map((e) => ({ key: e.key, time: e.time, fields: { amount: e.amount } }));
  return sortRows(referenceWindows(featureSpecs(features), refs));
}

/** One stream record per event, with a producer id unique to the event (so a re-send can reuse it). */
function toRecords(events: readonly Ev[], ids: readonly string[], shardOf: (key: string) => string = () => SHARD): InputRecord[] {
  const feed = new Feed();
  return events.map((e, i) => feed.record({ user: e.key, ts: e.time, amount: e.amount, id: ids[i] }, { shard: shardOf(e.key) }));
}

/**
 * An arrival order in which no record is late: sort by event time plus a delay in [0, lateness]. A record j
 * placed before i has t_j + d_j <= t_i + d_i, hence t_j <= t_i + lateness: every record's time is at least
 * (max time before it) − lateness, the watermark it is judged against.
 */
function onTimeOrder(events: readonly Ev[], delays: readonly number[], lateness: number): Ev[] {
  return events
    .map((e, i) => ({ e, at: e.time + (lateness === 0 ? 0 : (delays[i] ?? 0) % (lateness + 1)), i }))
    .sort((x, y) => x.at - y.at || x.i - y.i)
    .map((x) => x.e);
}

function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, k: keys[i] ?? 0, i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.item);
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `e${i}`);
const RUNS = { numRuns: 150 };

describe('engine properties', () => {
  it('(a) any arrival order within the allowed lateness gives the batch result', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.nat(), { maxLength: 30 }), fc.integer({ min: 0, max: 12 }), fc.constantFrom('dlq', 'drop', 'update'), (events, delays, lateness, policy) => {
        const ordered = onTimeOrder(events, delays, lateness);
        const out = collect(runBatches(engineFor(ALL, policy, lateness), [toRecords(ordered, ids(ordered.length))]));
        expect(out.rejected).toEqual([]);
        expect(out.counters.late).toBe(0);
        expect(out.counters.applied).toBe(events.length);
        expect(repeatedFinals(out.finals)).toEqual([]);
        expect(out.windows).toEqual(reference(ALL, events));
      }),
      RUNS,
    );
  });

  it('(a\') with on-time arrival, every window is emitted in the batch whose watermark reaches its end', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.nat(), { maxLength: 30 }), fc.integer({ min: 0, max: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), (events, delays, lateness, cuts) => {
        const ordered = onTimeOrder(events, delays, lateness);
        const engine = engineFor(ALL, 'dlq', lateness);
        const seen: WindowRow[] = [];
        let sent: Ev[] = [];
        for (const part of chunk(toRecords(ordered, ids(ordered.length)), cuts)) {
          const r = engine.processBatch(part);
          seen.push(...collect([r]).finals);
          sent = ordered.slice(0, sent.length + part.length);
          const w = engine.watermark(SHARD);
          // Later records are at or after w, so a window ending by w is complete: it must be out, and no other.
          const due = reference(ALL, sent).filter((x) => x.windowEnd <= w);
          expect(sortRows(seen)).toEqual(due);
        }
      }),
      RUNS,
    );
  });

  it('(b) with latePolicy update, any arrival order gives the batch result (tumbling and sliding)', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.integer(), { maxLength: 30 }), fc.integer({ min: 0, max: 6 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }), (events, order, lateness, cuts) => {
        const shuffled = permute(events, order);
        const out = collect(runBatches(engineFor(SLICED, 'update', lateness), chunk(toRecords(shuffled, ids(shuffled.length)), cuts)));
        expect(out.rejected).toEqual([]);
        expect(out.counters.applied).toBe(events.length);
        expect(out.counters.lateRecords).toBe(0);
        expect(repeatedFinals(out.finals)).toEqual([]);
        // Every correction retracts the value the consumer last saw for that window.
        const lastSeen = new Map<string, number | null>();
        for (const r of out.finals) lastSeen.set(`${r.feature}|${r.key}|${r.windowStart}`, r.value);
        for (const c of out.corrections) {
          const id = `${c.feature}|${c.key}|${c.windowStart}`;
          expect(c.old?.value ?? null).toBe(lastSeen.get(id) ?? null);
          lastSeen.set(id, c.new.value);
        }
        expect(out.windows).toEqual(reference(SLICED, events));
      }),
      RUNS,
    );
  });

  it('(c) re-sent records (same idField value, later in the stream) never change the final windows', () => {
    const retryArb = fc.array(fc.record({ src: fc.nat(), later: fc.integer({ min: 0, max: 40 }) }), { maxLength: 12 });
    fc.assert(
      fc.property(
        eventsArb,
        fc.array(fc.integer(), { maxLength: 30 }),
        retryArb,
        fc.integer({ min: 0, max: 8 }),
        fc.constantFrom('dlq', 'drop', 'update'),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
        (events, order, retries, lateness, policy, cuts) => {
          const shuffled = permute(events, order);
          const eventIds = ids(shuffled.length);
          const base = collect(runBatches(engineFor(ALL, policy, lateness), chunk(toRecords(shuffled, eventIds), cuts)));
          if (shuffled.length === 0) return;
          // Originals at positions 0, 1, 2…; each re-send strictly after its original.
          const slots = shuffled.map((e, i) => ({ e, id: eventIds[i]!, at: i }));
          for (const r of retries) {
            const src = r.src % shuffled.length;
            slots.push({ e: shuffled[src]!, id: eventIds[src]!, at: src + 0.5 + r.later });
          }
          slots.sort((x, y) => x.at - y.at);
          const stream = toRecords(
            slots.map((s) => s.e),
            slots.map((s) => s.id),
          );
          const withRetries = collect(runBatches(engineFor(ALL, policy, lateness), chunk(stream, cuts)));
          expect(withRetries.windows).toEqual(base.windows);
          expect(withRetries.corrections.length).toBe(base.corrections.length);
          expect(withRetries.counters.applied).toBe(base.counters.applied);
          // A re-send is a duplicate; one the engine no longer remembers can only be late for every feature.
          expect(withRetries.counters.duplicates + withRetries.counters.lateRecords - base.counters.lateRecords).toBe(retries.length);
          if (policy === 'update') expect(withRetries.counters.duplicates).toBe(retries.length);
        },
      ),
      RUNS,
    );
  });

  it('(d) splitting the input into batches anywhere gives the same result as one batch', () => {
    const kindArb = fc.constantFrom('ok', 'ok', 'ok', 'ok', 'bad');
    fc.assert(
      fc.property(
        eventsArb,
        fc.array(kindArb, { maxLength: 30 }),
        fc.array(fc.integer(), { maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom('dlq', 'drop', 'update'),
        (events, kinds, order, cuts, lateness, policy) => {
          const shuffled = permute(events, order);
          const shardOf = (key: string): string => (key === 'b' ? 'B' : 'A');
          const feed = new Feed();
          const records = shuffled.map((e, i) =>
            feed.record({ user: e.key, ts: e.time, amount: kinds[i] === 'bad' ? 'n/a' : e.amount, id: `e${i}` }, { shard: shardOf(e.key) }),
          );
          const whole = collect(runBatches(engineFor(ALL, policy, lateness), [records]));
          const split = collect(runBatches(engineFor(ALL, policy, lateness), chunk(records, cuts)));
          expect(split.windows).toEqual(whole.windows);
          const rej = (c: typeof whole) => c.rejected.map((r) => [r.reason, r.feature ?? '', r.seq, r.watermark]);
          expect(rej(split)).toEqual(rej(whole));
          expect(split.counters).toEqual(whole.counters);
          expect(repeatedFinals(split.finals)).toEqual([]);
          // Corrections may be grouped differently, but their effect is the same.
          expect(split.corrections.length).toBe(whole.corrections.length);
        },
      ),
      RUNS,
    );
  });
  it('(d\') splitting into batches does not change how producer retries are judged', () => {
    fc.assert(
      fc.property(
        eventsArb,
        fc.array(fc.integer(), { maxLength: 30 }),
        fc.array(fc.record({ src: fc.nat(), later: fc.integer({ min: 0, max: 40 }) }), { maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom('dlq', 'drop', 'update'),
        // The default id memory, and a very short one so that forgetting ids happens within the test's times.
        fc.constantFrom<EngineOptions>({}, { dedupRetentionMs: 3 }),
        (events, order, retries, cuts, lateness, policy, options) => {
          const shuffled = permute(events, order);
          if (shuffled.length === 0) return;
          const eventIds = ids(shuffled.length);
          const slots = shuffled.map((e, i) => ({ e, id: eventIds[i]!, at: i }));
          for (const r of retries) {
            const src = r.src % shuffled.length;
            slots.push({ e: shuffled[src]!, id: eventIds[src]!, at: src + 0.5 + r.later });
          }
          slots.sort((x, y) => x.at - y.at);
          const records = toRecords(
            slots.map((x) => x.e),
            slots.map((x) => x.id),
          );
          const whole = collect(runBatches(engineFor(ALL, policy, lateness, options), [records]));
          const split = collect(runBatches(engineFor(ALL, policy, lateness, options), chunk(records, cuts)));
          expect(split.windows).toEqual(whole.windows);
          expect(split.rejected.map((r) => [r.reason, r.feature ?? '', r.seq])).toEqual(whole.rejected.map((r) => [r.reason, r.feature ?? '', r.seq]));
          expect(split.counters).toEqual(whole.counters);
        },
      ),
      RUNS,
    );
  });

  it('(e) any arrival order, any policy, several shards: windows and late records follow the record-by-record rules', () => {
    fc.assert(
      fc.property(
        eventsArb,
        fc.array(fc.integer(), { maxLength: 30 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom('dlq' as const, 'drop' as const, 'update' as const),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
        (events, order, lateness, policy, cuts) => {
          const shuffled = permute(events, order);
          const shardOf = (key: string): string => (key === 'b' ? 'B' : 'A');
          const out = collect(runBatches(engineFor(ALL, policy, lateness), chunk(toRecords(shuffled, ids(shuffled.length), shardOf), cuts)));
          const model = streamingReference(
            featureSpecs(ALL),
            lateness,
            policy,
            shuffled.map((e) => ({ key: e.key, time: e.time, fields: { amount: e.amount }, shard: shardOf(e.key) })),
          );
          expect(out.windows).toEqual(sortRows(model.windows));
          expect(out.counters.late).toBe(model.late.length);
          expect(out.counters.lateRecords).toBe(model.lateRecords);
          expect(out.counters.applied).toBe(events.length - model.lateRecords);
          const listed = out.rejected.map((r) => [Number(r.seq) - 1, r.feature, r.watermark]);
          const sessionFeatures = new Set([String(SESSION.name), String(LONG_SESSION.name)]);
          const expected = model.late
            .filter((l) => policy === 'dlq' || (policy === 'update' && sessionFeatures.has(l.feature)))
            .map((l) => [l.index, l.feature, l.watermark]);
          expect(listed).toEqual(expected);
          expect(repeatedFinals(out.finals)).toEqual([]);
        },
      ),
      RUNS,
    );
  });
});
