/**
 * distinct, percentile, first and last through the engine (tumbling, sliding and session windows, split into
 * batches anywhere, under every late policy) against a plain batch computation written here: a Set of the values
 * as strings, a sorted array, a scan by event time and arrival.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WindowEngine } from '../../../lambda/core/engine';
import { parseSpec } from '../../../lambda/core/spec';
import { Feed, chunk, type WindowRow, collect, runBatches, sortRows, specDoc } from '../../support/engine-harness';
import { sessionsOf, windowsContaining } from '../../support/window-reference';

const FEATURES = [
  { name: 'merchants5', window: { type: 'tumbling', sizeMs: 5 }, aggregate: 'distinct', field: 'merchant' },
  { name: 'merchants6by2', window: { type: 'sliding', sizeMs: 6, slideMs: 2 }, aggregate: 'distinct', field: 'merchant' },
  { name: 'p90_6by3', window: { type: 'sliding', sizeMs: 6, slideMs: 3 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
  { name: 'median7', window: { type: 'tumbling', sizeMs: 7 }, aggregate: 'percentile', field: 'amount', percentile: 0.5, relativeAccuracy: 0.02 },
  { name: 'first4', window: { type: 'tumbling', sizeMs: 4 }, aggregate: 'first', field: 'amount' },
  { name: 'last6by2', window: { type: 'sliding', sizeMs: 6, slideMs: 2 }, aggregate: 'last', field: 'amount' },
  { name: 'ses_merchants', window: { type: 'session', gapMs: 3 }, aggregate: 'distinct', field: 'merchant' },
  { name: 'ses_last', window: { type: 'session', gapMs: 3 }, aggregate: 'last', field: 'amount' },
] as const;
const ACCURACY: Record<string, number> = { p90_6by3: 0.01, median7: 0.02 };

interface Ev {
  readonly key: string;
  readonly time: number;
  readonly amount: number;
  readonly merchant: string | number;
}

const evArb = fc.record({
  key: fc.constantFrom('a', 'b'),
  time: fc.integer({ min: 0, max: 30 }),
  amount: fc.integer({ min: -50, max: 50 }),
  // 42 and "42" are one merchant.
  merchant: fc.oneof(fc.constantFrom('m1', 'm2', 'm3', '42', 'ü'), fc.constant(42)),
});

/** Records in arrival order (`events` as given): value of each feature per window. */
function reference(events: readonly Ev[]): WindowRow[] {
  const rows: WindowRow[] = [];
  const spec = parseSpec(specDoc({ features: FEATURES }));
  for (const f of spec.features) {
    const groups = new Map<string, { key: string; start: number; end: number; members: Array<{ ev: Ev; arrival: number }> }>();
    const byKey = new Map<string, Array<{ ev: Ev; arrival: number }>>();
    events.forEach((ev, arrival) => byKey.set(ev.key, [...(byKey.get(ev.key) ?? []), { ev, arrival }]));
    for (const [key, evs] of byKey) {
      if (f.window.type === 'session') {
        for (const s of sessionsOf(evs.map((x) => ({ key, time: x.ev.time, fields: { arrival: x.arrival } })), f.window.gapMs)) {
          groups.set(`${key}|${s.start}`, { key, start: s.start, end: s.end, members: s.members.map((m) => ({ ev: evs.find((x) => x.arrival === m.fields.arrival)!.ev, arrival: m.fields.arrival! })) });
        }
        continue;
      }
      if (f.window.type === 'global') throw new Error('no global windows here');
      const slide = f.window.type === 'sliding' ? f.window.slideMs : f.window.sizeMs;
      for (const x of evs) {
        for (const start of windowsContaining(x.ev.time, f.window.sizeMs, slide)) {
          const g = groups.get(`${key}|${start}`) ?? { key, start, end: start + f.window.sizeMs, members: [] };
          g.members.push(x);
          groups.set(`${key}|${start}`, g);
        }
      }
    }
    for (const g of groups.values()) {
      const ms = [...g.members].sort((a, b) => a.arrival - b.arrival);
      let value: number;
      if (f.aggregate === 'distinct') value = new Set(ms.map((m) => String(m.ev.merchant))).size;
      else if (f.aggregate === 'percentile') {
        const sorted = ms.map((m) => m.ev.amount).sort((a, b) => a - b);
        value = sorted[Math.floor(f.percentile! * (sorted.length - 1))]!;
      } else if (f.aggregate === 'first') value = ms.reduce((best, m) => (m.ev.time < best.ev.time ? m : best)).ev.amount;
      else value = ms.reduce((best, m) => (m.ev.time >= best.ev.time ? m : best)).ev.amount;
      rows.push({ feature: f.name, key: g.key, windowStart: g.start, windowEnd: g.end, value, count: ms.length });
    }
  }
  return sortRows(rows);
}

describe('new aggregates through the engine', () => {
  it('equal a batch computation over the records (percentiles within their accuracy), in any batch split, under every policy', () => {
    fc.assert(
      fc.property(fc.array(evArb, { maxLength: 40 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }), fc.constantFrom('dlq', 'drop', 'update'), (raw, cuts, policy) => {
        // In event-time order with no lateness, nothing is late: every record is in every window it belongs to.
        const events = [...raw].sort((a, b) => a.time - b.time);
        const feed = new Feed();
        const records = events.map((e, i) => feed.record({ user: e.key, ts: e.time, amount: e.amount, merchant: e.merchant, id: `e${i}` }));
        const engine = new WindowEngine(parseSpec(specDoc({ features: FEATURES, latePolicy: policy, ...(policy === 'update' ? { correctionHorizonMs: 0 } : {}) })));
        const out = collect(runBatches(engine, chunk(records, cuts)));
        const expected = reference(events);
        expect(out.windows.map((w) => ({ ...w, value: 0 }))).toEqual(expected.map((w) => ({ ...w, value: 0 })));
        out.windows.forEach((w, i) => {
          const want = expected[i]!.value;
          const alpha = ACCURACY[w.feature];
          if (alpha === undefined) expect(w.value).toBe(want);
          else expect(Math.abs(w.value - want)).toBeLessThanOrEqual(alpha * Math.abs(want) * (1 + 1e-9));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a distinct field that is an object, naming it, and a percentile field that is text', () => {
    const engine = new WindowEngine(parseSpec(specDoc({ features: FEATURES })));
    const feed = new Feed();
    const r = engine.processBatch([feed.ev('u', 1, { amount: 1, merchant: { id: 7 } }), feed.ev('u', 1, { amount: '12', merchant: 'm' }), feed.ev('u', 1, { amount: 3, merchant: '' })]);
    expect(r.rejected.map((x) => [x.reason, x.message])).toEqual([
      ['invalid', 'merchant must be a non-empty string or a finite number, got an object'],
      ['invalid', 'amount must be a finite number, got the string "12"'],
      ['invalid', 'merchant must be a non-empty string or a finite number, got the string ""'],
    ]);
  });
});
