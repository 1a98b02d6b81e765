import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArchiveError, type ArchivedRecord, archiveObjects, dedupeAndOrder, engineSeq, hourOfKey, lineagePreset, parseArchiveLine } from '../../../lambda/core/archive';
import { compareSeq } from '../../../lambda/core/state';

const SEQ = (n: number): string => `4965${String(n).padStart(52, '0')}`;
const H9 = Date.UTC(2026, 0, 2, 9);
const rec = (n: number, over: Partial<ArchivedRecord> = {}): ArchivedRecord => ({ shard: 'shardId-000000000000', seq: SEQ(n), partitionKey: `k${n}`, arrivalTime: H9 + n, data: Buffer.from(`{"n":${n}}`), ...over });

describe('archiveObjects', () => {
  it('makes one object per shard and arrival hour, named by its first and last sequence number', () => {
    const batch = [rec(1), rec(2, { shard: 'shardId-000000000001' }), rec(3, { arrivalTime: H9 + 3_600_000 }), rec(4)];
    const objects = archiveObjects('archive/fraud/', batch);
    expect(objects.map((o) => [o.key, o.records])).toEqual([
      [`archive/fraud/dt=2026-01-02/hh=09/shardId-000000000000-${SEQ(1)}-${SEQ(4)}.jsonl.gz`, 2],
      [`archive/fraud/dt=2026-01-02/hh=09/shardId-000000000001-${SEQ(2)}-${SEQ(2)}.jsonl.gz`, 1],
      [`archive/fraud/dt=2026-01-02/hh=10/shardId-000000000000-${SEQ(3)}-${SEQ(3)}.jsonl.gz`, 1],
    ]);
    // The same delivery names and fills its objects alike: a retry overwrites, never adds.
    expect(archiveObjects('archive/fraud/', [...batch].reverse())).toEqual(objects);
    expect(objects.map((o) => hourOfKey(o.key))).toEqual([H9, H9, H9 + 3_600_000]);
  });

  it('keeps every field of a record, KPL sub-records ordered by their sub-sequence number', () => {
    const subs = [rec(5, { sub: 11, data: new Uint8Array([0xff, 0x00, 0xed]) }), rec(5, { sub: 2 })];
    const [obj] = archiveObjects('p/', subs);
    expect(obj!.key).toContain(`-${SEQ(5)}.0000000002-${SEQ(5)}.0000000011.jsonl.gz`);
    const back = obj!.body.trimEnd().split('\n').map((l, i) => parseArchiveLine(l, `line ${i + 1}`));
    expect(back).toEqual([subs[1], subs[0]].map((r) => ({ ...r, data: Buffer.from(r.data) })));
  });

  it('keeps a record of unknown arrival (a local file line without one) under the epoch\'s first hour', () => {
    const [obj] = archiveObjects('p/', [rec(1, { arrivalTime: null })]);
    expect(obj!.key).toMatch(/^p\/dt=1970-01-01\/hh=00\//);
    expect(parseArchiveLine(obj!.body.trimEnd(), 'l').arrivalTime).toBeNull();
  });

  it('refuses records that cannot be named', () => {
    expect(() => archiveObjects('p/', [rec(1, { shard: '../x' })])).toThrow(/shard id/);
    expect(() => archiveObjects('p/', [rec(1, { seq: '12a' })])).toThrow(/sequence number/);
    expect(() => archiveObjects('p/', [rec(1, { arrivalTime: NaN })])).toThrow(/arrival time/);
  });
});

describe('parseArchiveLine', () => {
  it('names the object line and the field at fault', () => {
    expect(() => parseArchiveLine('{"shard":', 'obj line 3')).toThrow(new ArchiveError('obj line 3: not JSON (Unexpected end of JSON input)'));
    const good = JSON.parse(archiveObjects('p/', [rec(1)])[0]!.body) as Record<string, unknown>;
    for (const [field, bad] of [['seq', 12], ['at', 'x'], ['data', 'not base64!'], ['pk', null], ['sub', -1]] as const) {
      expect(() => parseArchiveLine(JSON.stringify({ ...good, [field]: bad }), 'obj line 1')).toThrow(new RegExp(`^obj line 1: "${field}" must be`));
    }
  });
});

describe('dedupeAndOrder', () => {
  it('keeps each (shard, sequence number) once, each shard in sequence order, shards interleaved by arrival', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ shard: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 0, max: 30 }), sub: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }), { maxLength: 60 }),
        (picks) => {
          // A record's arrival grows with its sequence number within its shard, as Kinesis assigns them.
          const records = picks.map((p) => rec(p.n, { shard: `shardId-00000000000${p.shard}`, arrivalTime: H9 + p.n * 10 + p.shard, ...(p.sub === undefined ? {} : { sub: p.sub }) }));
          const out = dedupeAndOrder(records);
          const ids = (rs: readonly ArchivedRecord[]) => rs.map((r) => `${r.shard}/${engineSeq(r)}`);
          expect(new Set(ids(out)).size).toBe(out.length);
          expect(new Set(ids(out))).toEqual(new Set(ids(records)));
          for (let i = 1; i < out.length; i++) expect(out[i]!.arrivalTime).toBeGreaterThanOrEqual(out[i - 1]!.arrivalTime!);
          for (const s of new Set(out.map((r) => r.shard))) {
            const seqs = out.filter((r) => r.shard === s).map(engineSeq);
            expect(seqs).toEqual([...seqs].sort(compareSeq));
          }
        },
      ),
    );
  });
});

describe('shard lineage', () => {
  const lineage = { parents: ['shardId-000000000000'], maxEventTime: 1_767_000_000_000 };

  it("keeps a child shard's lineage, and gives the engine its parents' maximum as a preset", () => {
    const r = rec(7, { shard: 'shardId-000000000001', lineage });
    const [obj] = archiveObjects('p/', [r, rec(8, { shard: 'shardId-000000000001' })]);
    const back = obj!.body.trimEnd().split('\n').map((l, i) => parseArchiveLine(l, `line ${i + 1}`));
    expect(back[0]!.lineage).toEqual(lineage);
    expect(back[1]!.lineage).toBeUndefined();
    expect(lineagePreset(back[0]!)).toEqual({ parents: lineage.parents, preset: { shardMax: lineage.maxEventTime, newestArrival: null } });
    // Parents that never had a valid record raise nothing.
    expect(lineagePreset({ lineage: { parents: ['a', 'b'], maxEventTime: null } })).toEqual({ parents: ['a', 'b'] });
    expect(lineagePreset(back[1]!)).toEqual({});
  });

  it('refuses a malformed lineage by name', () => {
    const line = (l: unknown) => JSON.stringify({ shard: 's', seq: '1', pk: 'k', at: 1, data: '', lineage: l });
    expect(() => parseArchiveLine(line({ parents: [], maxEventTime: 1 }), 'o line 3')).toThrow('o line 3: "lineage" parents must be one or two shard ids, got []');
    expect(() => parseArchiveLine(line({ parents: ['a', 'b', 'c'], maxEventTime: 1 }), 'x')).toThrow(/parents must be one or two shard ids/);
    expect(() => parseArchiveLine(line({ parents: ['a'], maxEventTime: '5' }), 'x')).toThrow('x: "lineage" maxEventTime must be a number or null, got "5"');
    expect(() => parseArchiveLine(line([1]), 'x')).toThrow('x: "lineage" must be an object {"parents", "maxEventTime"}');
    expect(() => archiveObjects('p/', [rec(1, { lineage: { parents: ['bad id'], maxEventTime: null } })])).toThrow(ArchiveError);
  });

  it('keeps the copy of a record that carries its lineage, whichever object is read first', () => {
    const plain = rec(1, { shard: 'shardId-000000000002' });
    const marked = { ...plain, lineage };
    expect(dedupeAndOrder([plain, marked])).toEqual([marked]);
    expect(dedupeAndOrder([marked, plain])).toEqual([marked]);
  });
});
