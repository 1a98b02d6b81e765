import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deserializeEntity, serializeEntity } from '../../../lambda/core/keyed-state';
import { type Entity, compareSeq } from '../../../lambda/core/state';
import { featureRuntimes } from '../../../lambda/core/windows';
import { makeSpec } from '../../support/engine-harness';

describe('compareSeq', () => {
  it('orders Kinesis sequence numbers numerically, beyond the precision of numbers', () => {
    expect(compareSeq('9', '10')).toBeLessThan(0);
    expect(compareSeq('10', '9')).toBeGreaterThan(0);
    expect(compareSeq('49590338271490256608559692538361571095921575989136588898', '49590338271490256608559692538361571095921575989136588899')).toBeLessThan(0);
    expect(compareSeq('123', '123')).toBe(0);
  });

  it('agrees with BigInt comparison', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 60n }), fc.bigInt({ min: 0n, max: 10n ** 60n }), (a, b) => {
        expect(Math.sign(compareSeq(a.toString(), b.toString()))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });
});

const spec = makeSpec({
  features: [
    { name: 'sum10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
    { name: 'ses', window: { type: 'session', gapMs: 25 }, aggregate: 'max', field: 'amount' },
    { name: 'p90', window: { type: 'sliding', sizeMs: 20, slideMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
    { name: 'g', window: { type: 'global', trigger: { count: 3, everyMs: 100 } }, aggregate: 'last', field: 'amount' },
  ],
});
const [sum10, ses, p90, glob] = featureRuntimes(spec);

describe('entity serialization', () => {
  it('round-trips a slice entity through JSON, infinities included', () => {
    const e = sum10!.window.create(0, 'u') as Entity & { kind: 'slices' };
    e.lastApplied = { 'shard-0': '17' };
    e.maxEventTime = 42;
    e.timerShard = 'shard-0';
    sum10!.window.add(e, 7, 41, 0, { retains: true, window: () => undefined, firing: () => undefined });
    e.slices.add(3, -1.5, 35);
    const json = JSON.parse(JSON.stringify(serializeEntity(sum10!, e)));
    expect(json.finalThrough).toBeNull();
    expect(typeof json.windows).toBe('string');
    const back = deserializeEntity(sum10!, 'u', json);
    expect(back.kind).toBe('slices');
    expect(back.finalThrough).toBe(-Infinity);
    expect(back.maxEventTime).toBe(42);
    expect(back.lastApplied).toEqual({ 'shard-0': '17' });
    expect(back.timerShard).toBe('shard-0');
    if (back.kind !== 'slices') throw new Error('not slices');
    expect(back.slices.size).toBe(2);
    expect([back.slices.indexAt(0), back.slices.indexAt(1)]).toEqual([3, 4]);
    expect(sum10!.agg.result(back.slices.accAt(0))).toBe(-1.5);
    expect(sum10!.agg.result(back.slices.accAt(1))).toBe(7);
    expect(back.finals).toBeUndefined();
  });

  it('round-trips a session entity', () => {
    const e = ses!.window.create(1, '42');
    e.finalThrough = 100;
    const sink = { retains: true, window: () => undefined, firing: () => undefined };
    ses!.window.add(e, 4, 105, 100, sink);
    ses!.window.add(e, 5, 110, 100, sink);
    ses!.window.add(e, 1, 140, 100, sink);
    const json = JSON.parse(JSON.stringify(serializeEntity(ses!, e)));
    expect(json.maxEventTime).toBeNull();
    expect(json).not.toHaveProperty('timerShard');
    const back = deserializeEntity(ses!, '42', json);
    if (back.kind !== 'sessions' || e.kind !== 'sessions') throw new Error('not sessions');
    expect(back.finalThrough).toBe(100);
    expect(back.sessions.map((s) => [s.start, s.end, ses!.agg.result(s.acc), ses!.agg.count(s.acc)])).toEqual([
      [105, 135, 5, 2],
      [140, 165, 1, 1],
    ]);
  });

  it('round-trips sketch slices and a global window, and refuses state of another window kind', () => {
    const sink = { retains: true, window: () => undefined, firing: () => undefined };
    const e = p90!.window.create(2, 'k');
    for (let i = 1; i <= 500; i++) p90!.window.add(e, i, i % 20, 0, sink);
    const back = deserializeEntity(p90!, 'k', JSON.parse(JSON.stringify(serializeEntity(p90!, e))));
    expect(p90!.window.current({ ...back, maxEventTime: 19 })?.acc).toEqual(p90!.window.current({ ...e, maxEventTime: 19 })?.acc);

    const g = glob!.window.create(3, 'k');
    g.due = glob!.window.add(g, 2.5, 10, 5, sink);
    g.due = glob!.window.add(g, -1, 12, 5, sink);
    const gBack = deserializeEntity(glob!, 'k', JSON.parse(JSON.stringify(serializeEntity(glob!, g))));
    expect(gBack).toMatchObject({ kind: 'global', total: 2, pending: 2, firings: 0, due: 100 });
    expect(glob!.agg.result(glob!.window.current(gBack)!.acc)).toBe(-1);

    expect(() => deserializeEntity(glob!, 'k', serializeEntity(sum10!, sum10!.window.create(0, 'k')))).toThrow(/kind "slices", the spec's window is "global"/);
  });
});
