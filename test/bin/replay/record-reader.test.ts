import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputLineError, parseInputLine } from '../../../lambda/core/input-line';
import { RecordDecoder } from '../../../lambda/core/record';
import { readRecordBatches } from '../../../bin/replay/record-reader';
import { makeSpec } from '../../support/engine-harness';

const tmp = mkdtempSync(join(tmpdir(), 'record-reader-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const spec = makeSpec({ features: [{ name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' }, { name: 'spend', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount' }] });

function file(lines: readonly string[]): string {
  const path = join(tmp, `in-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('readRecordBatches (input read and decoded on a worker thread)', () => {
  it('yields every record in file order with its line number and the decoding the engine itself would make', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      if (i % 997 === 0) lines.push('   ');
      const payload = i % 50 === 0 ? 'not json' : i % 51 === 0 ? JSON.stringify({ user: 'u', ts: 'soon' }) : JSON.stringify({ user: i % 7 === 0 ? i : `u${i % 13}`, ts: i * 10, amount: i / 3, ...(i % 3 === 0 ? {} : { id: `e${i}` }) });
      lines.push(JSON.stringify({ data: payload, ...(i % 4 === 0 ? {} : { arrivalTime: i * 10 + 5 }), ...(i % 5 === 0 ? { shard: `shard-${i % 3}` } : {}) }));
    }
    const path = file(lines);
    const decoder = new RecordDecoder(spec);
    const expected = lines.map((text, i) => ({ text, line: i + 1 })).filter((l) => l.text.trim().length > 0).map((l) => {
      const r = parseInputLine(l.text, l.line);
      return { ...r, decoded: decoder.decode(r.data) };
    });
    const got = [];
    let batches = 0;
    // A slow consumer: the reader has to wait for it (at most 4 batches ahead).
    for await (const b of readRecordBatches(path, spec, { batchSize: 700 })) {
      batches += 1;
      expect(b.records.length).toBeLessThanOrEqual(700);
      expect(b.lastLine).toBe(Number(b.records[b.records.length - 1]!.seq));
      got.push(...b.records);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(batches).toBe(Math.ceil(expected.length / 700));
    expect(got).toEqual(expected);
  });

  it('skips lines of white space of any kind, as trim() sees it', async () => {
    const good = JSON.stringify({ data: JSON.stringify({ user: 'u', ts: 1 }) });
    const path = file([good, '\u00a0', '\ufeff \t', '\u2028', good]);
    const lines: string[] = [];
    for await (const b of readRecordBatches(path, spec, { batchSize: 10 })) lines.push(...b.records.map((r) => r.seq));
    expect(lines).toEqual(['1', '5']);
  });

  it('stops at a line that is not a valid envelope, naming its line number', async () => {
    const path = file([JSON.stringify({ data: '{}' }), '', '{"data": 5}']);
    const err = await (async () => {
      for await (const b of readRecordBatches(path, spec, { batchSize: 1 })) expect(b.records).toHaveLength(1);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputLineError);
    expect((err as InputLineError).line).toBe(3);
    expect((err as Error).message).toBe('input line 3: "data" must be a string holding the record payload');
  });

  it('reports a file it cannot read, and stops its thread when the consumer stops early', async () => {
    await expect(readRecordBatches(join(tmp, 'missing.jsonl'), spec, { batchSize: 10 }).next()).rejects.toThrow(/cannot read .*missing\.jsonl: ENOENT/);
    const path = file(Array.from({ length: 5000 }, (_, i) => JSON.stringify({ data: JSON.stringify({ user: 'u', ts: i }) })));
    let seen = 0;
    for await (const b of readRecordBatches(path, spec, { batchSize: 10 })) {
      seen += b.records.length;
      if (seen >= 30) break;
    }
    expect(seen).toBe(30);
  });
});
