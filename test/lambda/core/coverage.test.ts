import { describe, expect, it } from 'vitest';
import { ArrivalFeatures } from '../../../lambda/core/arrival-features';
import { WindowEngine } from '../../../lambda/core/engine';
import { serveFeatures } from '../../../lambda/core/serving';
import { parseSpec } from '../../../lambda/core/spec';
import { coveredFrom, decodeDefinitions, encodeDefinitions, inheritDefinitions, mergeDefinitions, registerDefinitions } from '../../../lambda/core/coverage';

describe('definitions a shard holds', () => {
  it('round-trip through their attribute text, and refuse text they do not write', () => {
    const d = new Map<number, number | null>([[42, null], [7, 1_767_000_000_001], [9, -5]]);
    expect(encodeDefinitions(d)).toBe('7:1767000000001,9:-5,42:-');
    expect(decodeDefinitions(encodeDefinitions(d))).toEqual(d);
    expect(decodeDefinitions('')).toEqual(new Map());
    expect(() => decodeDefinitions('7=3')).toThrow('definitions: "7=3" is not fingerprint:since');
  });

  it('register a new definition from just after the shard\'s highest event time; a shard with none recorded, from the start', () => {
    expect(registerDefinitions(undefined, [1, 2], 500)).toEqual(new Map([[1, null], [2, null]]));
    const held = new Map<number, number | null>([[1, null]]);
    expect(registerDefinitions(held, [1], 500)).toBeUndefined();
    expect(registerDefinitions(held, [1, 3], 500)).toEqual(new Map([[1, null], [3, 501]]));
    expect(registerDefinitions(held, [3], null)).toEqual(new Map([[1, null], [3, null]]));
    // A new child shard takes its parents' times; one its parents never held counts from its inherited maximum.
    expect(registerDefinitions(undefined, [1, 3], 800, new Map([[1, 200]]))).toEqual(new Map([[1, 200], [3, 801]]));
  });

  it('inherit the latest of the parents\' times; a parent that did not hold a definition holds it from after its maximum', () => {
    const a = { definitions: new Map<number, number | null>([[1, null], [2, 100]]), maxEventTime: 900 };
    const b = { definitions: new Map<number, number | null>([[1, 300]]), maxEventTime: 700 };
    expect(inheritDefinitions([a, b])).toEqual(new Map([[1, 300], [2, 701]]));
    expect(inheritDefinitions([a, { maxEventTime: 50 }])).toEqual(new Map([[1, null], [2, 100]]));
  });

  it('merge two sets of a shard at the later time of each', () => {
    const a = new Map<number, number | null>([[1, null], [2, 50]]);
    const b = new Map<number, number | null>([[1, 30], [2, 20], [3, null]]);
    expect(mergeDefinitions(a, b)).toEqual(new Map([[1, 30], [2, 50], [3, null]]));
    expect(mergeDefinitions(undefined, b)).toBe(b);
    expect(mergeDefinitions(a, undefined)).toBe(a);
  });

  it('cover a definition from the latest time among the shards asked, never when one lacks it, always with none recorded', () => {
    const s0 = new Map<number, number | null>([[1, null], [2, 40]]);
    const s1 = new Map<number, number | null>([[1, 10], [2, 20]]);
    expect(coveredFrom(1, [s0, s1])).toBe(10);
    expect(coveredFrom(2, [s0, s1])).toBe(40);
    expect(coveredFrom(1, [s0])).toBe(-Infinity);
    expect(coveredFrom(3, [s0])).toBe(Infinity);
    expect(coveredFrom(3, [])).toBe(-Infinity);
  });
});

describe('serving a definition held only from a time on', () => {
  const spec = parseSpec({
    source: { keyField: 'user', timeField: 'ts' },
    watermark: { allowedLatenessMs: 1000 },
    features: [
      { name: 'c10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
      { name: 'ses', window: { type: 'session', gapMs: 5 }, aggregate: 'count' },
      { name: 'g', window: { type: 'global', trigger: { count: 100 } }, aggregate: 'count' },
    ],
  });
  const engine = new WindowEngine(spec);
  engine.processBatch([12, 14, 30].map((ts, i) => ({ data: JSON.stringify({ user: 'u', ts }), shard: 's', seq: String(i + 1), arrivalTime: ts })));
  const serve = (at: number, from: number) =>
    serveFeatures(engine.runtimes, engine.keyState('u')!.ents, at, { watermark: null, writtenAt: null, coveredFrom: () => from }).map((f) => f.status);

  it('reads a window or session that may reach before that time, and a global window, as unavailable', () => {
    // Held from 7: the window [10, 20) is whole, and so is the session [12, 19): no record in [7, 12) to merge.
    expect(serve(15, 7)).toEqual(['present', 'present', 'unavailable']);
    // Held from 8: a record in [7, 8) could have extended the session; the window is still whole.
    expect(serve(15, 8)).toEqual(['present', 'unavailable', 'unavailable']);
    // Held from 11: [10, 20) began before.
    expect(serve(15, 11)).toEqual(['unavailable', 'unavailable', 'unavailable']);
    // No session at 25 and none could reach it from before 20: empty; from 21 on it could have.
    expect(serve(25, 20)).toEqual(['empty', 'empty', 'unavailable']);
    expect(serve(25, 21)).toEqual(['unavailable', 'unavailable', 'unavailable']);
    // Held from the start: as before.
    expect(serve(15, -Infinity)).toEqual(['present', 'present', 'present']);
  });
});

describe('scoring a definition held only from a time on', () => {
  it('takes its earlier-reaching windows as unavailable, as serving reads them', () => {
    const spec = parseSpec({ source: { keyField: 'user', timeField: 'ts' }, watermark: { allowedLatenessMs: 1000 }, features: [{ name: 'c10', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' }] });
    const holder: { arrival?: ArrivalFeatures } = {};
    const engine = new WindowEngine(spec, { collectApplied: true, onApplied: (r) => holder.arrival!.applied(r) });
    const taken: string[] = [];
    const arrival = (holder.arrival = new ArrivalFeatures({ runtimes: engine.runtimes, entities: (k) => engine.keyState(k)?.ents ?? [], watermark: (s) => engine.watermark(s), coveredFrom: () => 15 }, ['c10'], 0));
    const result = engine.processBatch([12, 25].map((ts, i) => ({ data: JSON.stringify({ user: 'u', ts }), shard: 's', seq: String(i + 1), arrivalTime: ts })));
    for (const r of result.applied) taken.push(arrival.features(r)!.c10!.status);
    // [10, 20) began before 15; [20, 30) lies after it.
    expect(taken).toEqual(['unavailable', 'present']);
  });
});
