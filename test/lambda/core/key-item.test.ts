import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RELATIVE_ACCURACY } from '../../../lambda/core/aggregates';
import { ByteReader, ByteWriter, StateDecodeError } from '../../../lambda/core/aggregates/bytes';
import { hash53 } from '../../../lambda/core/aggregates/hash';
import { type EncodeKeyItem, NO_ID_PAGES, decodeIdPage, featureFingerprint, decodeKeyItem, encodeIdPage, encodeKeyItem, readSeq, writeSeq } from '../../../lambda/core/key-item';
import type { KeyState } from '../../../lambda/core/keyed-state';
import type { Entity } from '../../../lambda/core/state';
import { featureRuntimes } from '../../../lambda/core/windows';
import { makeSpec } from '../../support/engine-harness';

const spec = makeSpec({
  features: [
    { name: 'sum10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' },
    { name: 'ses', window: { type: 'session', gapMs: 25 }, aggregate: 'max', field: 'amount' },
    { name: 'p90', window: { type: 'sliding', sizeMs: 20, slideMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
    { name: 'g', window: { type: 'global', trigger: { count: 3, everyMs: 100 } }, aggregate: 'last', field: 'amount' },
  ],
});
const runtime = featureRuntimes(spec);
const [sum10, ses, p90, glob] = runtime;
const sink = { retains: true, window: () => undefined, firing: () => undefined };
const SEQ = '49590338271490256608559692538361571095921575989136588898';

function item(ents: (Entity | undefined)[], extra: Partial<EncodeKeyItem> = {}): EncodeKeyItem {
  const state: KeyState = { ents, ids: undefined, paged: undefined, tags: undefined };
  return { runtime, state, shards: new Map([['shard-0', { lastApplied: SEQ, maxEventTime: 140 }]]), ids: new Map(), idPages: NO_ID_PAGES, ...extra };
}

describe('sequence numbers in the key item', () => {
  it('round-trip Kinesis numbers, KPL sub-records and other text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 128n - 1n }).map(String), fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 60n }), fc.integer({ min: 0, max: 9_999_999_999 })).map(([a, b]) => `${a}.${String(b).padStart(10, '0')}`), fc.string()), (seq) => {
        const w = new ByteWriter();
        writeSeq(w, seq);
        expect(readSeq(new ByteReader(w.finish()))).toBe(seq);
      }),
    );
  });

  it('packs a 56-digit Kinesis number into 26 bytes', () => {
    const w = new ByteWriter();
    writeSeq(w, SEQ);
    expect(w.length).toBe(26);
  });
});

describe('key item', () => {
  it('round-trips every window kind, progress, ids and id pages', () => {
    const s = sum10!.window.create(0, 'u') as Entity & { kind: 'slices' };
    s.maxEventTime = 42;
    s.timerShard = 'shard-0';
    sum10!.window.add(s, 7, 41, 0, sink);
    s.slices.add(3, -1.5, 35);
    const e = ses!.window.create(1, 'u');
    e.finalThrough = 100;
    ses!.window.add(e, 4, 105, 100, sink);
    ses!.window.add(e, 5, 110, 100, sink);
    ses!.window.add(e, 1, 140, 100, sink);
    const p = p90!.window.create(2, 'u');
    for (let i = 1; i <= 500; i++) p90!.window.add(p, i, i % 20, 0, sink);
    const g = glob!.window.create(3, 'u');
    g.due = glob!.window.add(g, 2.5, 10, 5, sink);
    g.due = glob!.window.add(g, -1, 12, 5, sink);
    const ids = new Map([
      [2 ** 53 - 1, 17.5],
      [0, -3],
      [123456789, 1e15],
    ]);
    const bytes = encodeKeyItem(item([s, e, p, g], { ids, idPages: { next: 7, live: 3, newest: 99 } }));
    const back = decodeKeyItem(runtime, 'u', bytes);
    expect(back.ids).toEqual(ids);
    expect(back.idPages).toEqual({ next: 7, live: 3, newest: 99 });
    expect([...back.shards]).toEqual([['shard-0', { lastApplied: SEQ, maxEventTime: 140 }]]);
    const [bs, be, bp, bg] = back.ents;
    if (bs?.kind !== 'slices' || be?.kind !== 'sessions' || bp?.kind !== 'slices' || bg?.kind !== 'global') throw new Error('kinds');
    expect([bs.finalThrough, bs.maxEventTime, bs.timerShard, bs.lastApplied]).toEqual([-Infinity, 42, 'shard-0', { 'shard-0': SEQ }]);
    expect([bs.slices.indexAt(0), bs.slices.indexAt(1)]).toEqual([3, 4]);
    expect(sum10!.agg.result(bs.slices.accAt(0))).toBe(-1.5);
    expect(bs.due).toBe(40);
    expect(be.sessions.map((x) => [x.start, x.end, ses!.agg.result(x.acc), ses!.agg.count(x.acc)])).toEqual([
      [105, 135, 5, 2],
      [140, 165, 1, 1],
    ]);
    expect(p90!.window.current({ ...bp, maxEventTime: 19 })?.acc).toEqual(p90!.window.current({ ...p, maxEventTime: 19 })?.acc);
    expect(bg).toMatchObject({ kind: 'global', total: 2, pending: 2, firings: 0, due: 100 });
    expect(glob!.agg.result(glob!.window.current(bg)!.acc)).toBe(-1);
  });

  it('starts a feature empty when its definition changed, and keeps the others', () => {
    const s = sum10!.window.create(0, 'u');
    sum10!.window.add(s, 7, 41, 0, sink);
    const e = ses!.window.create(1, 'u');
    ses!.window.add(e, 4, 105, 100, sink);
    const bytes = encodeKeyItem(item([s, e, undefined, undefined]));
    const changed = featureRuntimes(makeSpec({ features: [{ name: 'ses', window: { type: 'session', gapMs: 25 }, aggregate: 'max', field: 'amount' }, { name: 'sum10', window: { type: 'tumbling', sizeMs: 20 }, aggregate: 'sum', field: 'amount' }] }));
    const back = decodeKeyItem(changed, 'u', bytes);
    expect(back.ents[0]?.kind).toBe('sessions');
    expect(back.ents[1]).toBeUndefined();
  });

  it('names a corrupt or foreign item', () => {
    const bytes = encodeKeyItem(item([undefined, undefined, undefined, undefined]));
    expect(() => decodeKeyItem(runtime, 'u', bytes.subarray(0, bytes.length - 1))).toThrow(StateDecodeError);
    expect(() => decodeKeyItem(runtime, 'u', new Uint8Array([9]))).toThrow(/format 9/);
    expect(() => decodeKeyItem(runtime, 'u', new Uint8Array([...bytes, 0]))).toThrow(/more than its contents/);
  });

  it('keeps a quiet key of six features small', () => {
    const s = sum10!.window.create(0, 'u');
    sum10!.window.add(s, 1999, 41, 0, sink);
    const bytes = encodeKeyItem(item([s, undefined, undefined, undefined]));
    // 26 of it is the 56-digit sequence number.
    expect(bytes.length).toBeLessThan(70);
  });

  it('round-trips an id page', () => {
    const ids = new Map(Array.from({ length: 1000 }, (_, i) => [i * 7919, 1_700_000_000_000 + i * 3] as [number, number]));
    const page = encodeIdPage(ids);
    expect(page.length).toBeLessThan(1000 * 9);
    const back = new Map<number, number>();
    decodeIdPage(page, back);
    expect(back).toEqual(ids);
  });
});

describe('feature fingerprints', () => {
  const rtOf = (f: Record<string, unknown>, latePolicy?: 'update') => featureRuntimes(makeSpec({ ...(latePolicy ? { latePolicy } : {}), features: [f as never] }))[0]!;
  const fpOf = (f: Record<string, unknown>, latePolicy?: 'update'): number => featureFingerprint(rtOf(f, latePolicy));
  /** The layout stored state was fingerprinted with: the spec's own fields, two parameter slots. */
  const storedLayout = (f: { name: string; window: unknown; aggregate: string; field?: string; percentile?: number; relativeAccuracy?: number }, keepsFinals = false): number =>
    hash53(JSON.stringify([f.name, f.window, f.aggregate, f.field ?? null, f.percentile ?? null, f.relativeAccuracy ?? null, keepsFinals])) % 0x1000000;

  it('of features written before stay what they were', () => {
    const fs = [
      { name: 'c', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
      { name: 's', window: { type: 'sliding', sizeMs: 20, slideMs: 10 }, aggregate: 'sum', field: 'amount' },
      { name: 'p', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
      { name: 'q', window: { type: 'session', gapMs: 5 }, aggregate: 'percentile', field: 'amount', percentile: 0.5, relativeAccuracy: 0.02 },
      { name: 'd', window: { type: 'global', trigger: { count: 3 } }, aggregate: 'distinct', field: 'merchant' },
    ];
    for (const f of fs) expect(fpOf(f)).toBe(storedLayout(rtOf(f).spec));
    expect(fpOf(fs[1]!, 'update')).toBe(storedLayout(rtOf(fs[1]!, 'update').spec, true));
  });

  it('change with every parameter of the aggregator, and not with a default spelled out', () => {
    const p = { name: 'p', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 };
    const prints = [fpOf(p), fpOf({ ...p, percentile: 0.95 }), fpOf({ ...p, relativeAccuracy: 0.02 }), fpOf({ ...p, relativeAccuracy: 0.001 })];
    expect(new Set(prints).size).toBe(prints.length);
    expect(fpOf({ ...p, relativeAccuracy: DEFAULT_RELATIVE_ACCURACY })).toBe(fpOf(p));
  });
});
