/**
 * Global windows with count and time triggers, with and without purge: worked examples, and a property against
 * a record-by-record model of the rules (every key checked at every record), whatever the batch split and whether
 * windows fire at batch ends or in replay's sweeps.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type BatchResult, type Firing, WindowEngine } from '../../../../lambda/core/engine';
import { parseSpec } from '../../../../lambda/core/spec';
import { Feed, specDoc } from '../../../support/engine-harness';

type Trigger = { count?: number; everyMs?: number; purge?: boolean };

const specWith = (trigger: Trigger, lateness = 0) =>
  parseSpec(
    specDoc({
      watermark: { allowedLatenessMs: lateness },
      features: [
        { name: 'g_sum', window: { type: 'global', trigger }, aggregate: 'sum', field: 'amount' },
        { name: 'g_distinct', window: { type: 'global', trigger }, aggregate: 'distinct', field: 'amount' },
      ],
    }),
  );

const firingsOf = (results: readonly BatchResult[]): Firing[] => results.flatMap((r) => r.firings);
const sortFirings = (fs: readonly Firing[]): Firing[] => [...fs].sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.firing - b.firing);

describe('global windows', () => {
  it('count trigger: fires every N records of a key with the cumulative value, or the pane with purge', () => {
    for (const purge of [false, true]) {
      const engine = new WindowEngine(specWith({ count: 2, purge }));
      const feed = new Feed();
      const r = engine.processBatch([1, 2, 3, 4, 5].map((a, i) => feed.ev('u', 100 + i, { amount: a })));
      const sums = r.firings.filter((f) => f.feature === 'g_sum').map((f) => [f.firing, f.trigger, f.firedAt, f.value, f.count]);
      expect(sums).toEqual(purge ? [[1, 'count', 101, 3, 2], [2, 'count', 103, 7, 2]] : [[1, 'count', 101, 3, 2], [2, 'count', 103, 10, 4]]);
      // Never final, never late: a record from long ago is still applied.
      const late = engine.processBatch([feed.ev('u', -1_000_000, { amount: 100 })]);
      expect(late.rejected).toEqual([]);
      expect(late.firings.find((f) => f.feature === 'g_sum')).toMatchObject({ firing: 3, value: purge ? 105 : 115 });
      expect(engine.flush().firings).toEqual([]);
    }
  });

  it('time trigger: fires at the first multiple the watermark reaches after a record, idle keys included, once', () => {
    const engine = new WindowEngine(specWith({ everyMs: 10 }));
    const feed = new Feed();
    // u's records at 3 and 7 are pending until the watermark reaches 10; v's record at 12 moves it there.
    const r1 = engine.processBatch([feed.ev('u', 3, { amount: 1 }), feed.ev('u', 7, { amount: 2 }), feed.ev('v', 12, { amount: 5 })]);
    expect(r1.firings.filter((f) => f.feature === 'g_sum')).toEqual([{ feature: 'g_sum', key: 'u', firing: 1, trigger: 'time', firedAt: 10, value: 3, count: 2 }]);
    // Nothing new for u: no firing at 20. v fires at 20 with its cumulative value.
    const r2 = engine.processBatch([feed.ev('v', 25, { amount: 1 })]);
    expect(r2.firings.filter((f) => f.feature === 'g_sum').map((f) => [f.key, f.firing, f.firedAt, f.value])).toEqual([['v', 1, 20, 5]]);
    // End of input: the watermark passes every multiple; v's last record fires at 30.
    expect(engine.flush().firings.filter((f) => f.feature === 'g_sum').map((f) => [f.key, f.firing, f.firedAt, f.value])).toEqual([['v', 2, 30, 6]]);
  });

  it('time trigger of a key on two shards: each firing at a multiple of its own shard, the same at batch ends and in sweeps', () => {
    const spec = parseSpec(specDoc({ features: [{ name: 'g', window: { type: 'global', trigger: { everyMs: 20, purge: true } }, aggregate: 'count' }] }));
    for (const sweep of [false, true]) {
      const engine = new WindowEngine(spec, { fireAtBatchEnd: !sweep });
      const feed = new Feed();
      const fired: string[] = [];
      const batch = (label: string, records: ReturnType<Feed['ev']>[]) => {
        const results = [engine.processBatch(records), ...(sweep ? [engine.fireAllDue()] : [])];
        for (const f of firingsOf(results)) if (f.key === 'K') fired.push(`${label} #${f.firing} ${f.firedAt} ${f.count}`);
      };
      // Shard B runs far ahead; shard A's watermark passing 120 and then 160 must still fire K's records on A.
      batch('b1', [feed.ev('K', 500, {}, { shard: 'B' }), feed.ev('X', 530, {}, { shard: 'B' })]);
      batch('b2', [feed.ev('K', 100, {}, { shard: 'A' }), feed.ev('Y', 140, {}, { shard: 'A' })]);
      batch('b3', [feed.ev('K', 150, {}, { shard: 'A' }), feed.ev('Z', 600, {}, { shard: 'A' })]);
      expect(fired, sweep ? 'sweeps' : 'batch-end timers').toEqual(['b1 #1 520 1', 'b2 #2 120 1', 'b3 #3 160 1']);
    }
  });

  it('refuses a trigger with neither count nor everyMs, naming the field', () => {
    expect(() => specWith({ purge: true })).toThrow(/features\[0\]\.window\.trigger needs "count" .* or "everyMs"/);
    expect(() => specWith({ count: 0 })).toThrow(/features\[0\]\.window\.trigger\.count must be a positive integer/);
  });

  it('fire the same as a record-by-record model, in any batch split, at batch ends or in sweeps', () => {
    // Each key on its own shard, as with the key as partition key (a key on several shards, only around
    // resharding, can fire at different points depending on batch ends: see docs/limitations.md).
    const shardOf: Record<string, string> = { a: 's0', b: 's1', c: 's0' };
    const ev = fc.record({ key: fc.constantFrom('a', 'b', 'c'), time: fc.integer({ min: 0, max: 60 }), amount: fc.integer({ min: 0, max: 9 }) }).map((e) => ({ ...e, shard: shardOf[e.key]! }));
    fc.assert(
      fc.property(
        fc.array(ev, { maxLength: 40 }),
        fc.record({ count: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), everyMs: fc.option(fc.integer({ min: 3, max: 15 }), { nil: undefined }), purge: fc.boolean() }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        (events, trig, lateness, cuts) => {
          const trigger: Trigger = { ...(trig.count === undefined ? {} : { count: trig.count }), ...(trig.everyMs === undefined ? {} : { everyMs: trig.everyMs }), purge: trig.purge };
          if (trigger.count === undefined && trigger.everyMs === undefined) trigger.count = 2;
          const spec = specWith(trigger, lateness);
          const feed = new Feed();
          const records = events.map((e, i) => feed.ev(e.key, e.time, { amount: e.amount, id: `e${i}` }, { shard: e.shard }));
          const parts: (typeof records)[] = [[]];
          records.forEach((r, i) => {
            parts[parts.length - 1]!.push(r);
            if (cuts[i % cuts.length]) parts.push([]);
          });
          const expected = sortFirings(model(events, trigger, lateness).filter((f) => f.feature === 'g_sum'));

          const atEnds = new WindowEngine(spec);
          const got = sortFirings(firingsOf([...parts.map((p) => atEnds.processBatch(p)), atEnds.flush()]).filter((f) => f.feature === 'g_sum'));
          expect(got).toEqual(expected);

          const swept = new WindowEngine(spec, { fireAtBatchEnd: false, trackChanges: false });
          const results: BatchResult[] = [];
          parts.forEach((p, i) => {
            results.push(swept.processBatch(p));
            if (i % 2 === 1) results.push(swept.fireAllDue());
          });
          results.push(swept.flush());
          expect(sortFirings(firingsOf(results).filter((f) => f.feature === 'g_sum'))).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});

/**
 * The rules, record by record: the shard watermark after each record; every key of that shard whose pending
 * records' due multiple the watermark reached fires at that multiple; then the record joins its key.
 */
function model(events: ReadonlyArray<{ key: string; time: number; amount: number; shard: string }>, trigger: Trigger, lateness: number): Firing[] {
  const maxTime = new Map<string, number>();
  const keys = new Map<string, { sum: number; n: number; total: number; pending: number; firings: number; due: number; shard: string }>();
  const out: Firing[] = [];
  const fire = (key: string, k: { sum: number; n: number; pending: number; firings: number; due: number }, kind: 'count' | 'time', at: number): void => {
    k.firings += 1;
    out.push({ feature: 'g_sum', key, firing: k.firings, trigger: kind, firedAt: at, value: k.sum, count: k.n });
    k.pending = 0;
    k.due = Infinity;
    if (trigger.purge) {
      k.sum = 0;
      k.n = 0;
    }
  };
  for (const e of events) {
    maxTime.set(e.shard, Math.max(maxTime.get(e.shard) ?? -Infinity, e.time));
    const w = maxTime.get(e.shard)! - lateness;
    for (const [key, k] of keys) if (k.pending > 0 && k.shard === e.shard && k.due <= w) fire(key, k, 'time', k.due);
    const k = keys.get(e.key) ?? { sum: 0, n: 0, total: 0, pending: 0, firings: 0, due: Infinity, shard: e.shard };
    keys.set(e.key, k);
    k.sum += e.amount;
    k.n += 1;
    k.total += 1;
    k.pending += 1;
    if (trigger.everyMs !== undefined && k.pending === 1) k.due = (Math.floor(w / trigger.everyMs) + 1) * trigger.everyMs;
    if (trigger.count !== undefined && k.total % trigger.count === 0) fire(e.key, k, 'count', e.time);
  }
  for (const [key, k] of keys) if (k.pending > 0 && Number.isFinite(k.due)) fire(key, k, 'time', k.due);
  return out;
}
