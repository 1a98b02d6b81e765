import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineWriter } from '../../../bin/cli/writer';

const tmp = mkdtempSync(join(tmpdir(), 'line-writer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('LineWriter', () => {
  it('writes the lines it was given, serialized or as text', async () => {
    const path = join(tmp, 'ok.jsonl');
    const w = new LineWriter(path);
    w.write({ a: 1 });
    w.writeLine('{"b":"zoë"}');
    await w.close();
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"b":"zoë"}\n');
  });

  it.runIf(existsSync('/dev/full'))('fails close() when the disk is full, rather than reporting the lines written', async () => {
    const path = join(tmp, 'full.jsonl');
    symlinkSync('/dev/full', path);
    const w = new LineWriter(path);
    for (let i = 0; i < 100; i++) w.writeLine(`{"i":${i}}`);
    await expect(w.close()).rejects.toThrow(/ENOSPC/);
  });

  it('fails drain() and close() when the file cannot be opened', async () => {
    const w = new LineWriter(join(tmp, 'no-such-dir', 'x.jsonl'));
    w.writeLine('{}');
    await new Promise((r) => setTimeout(r, 50));
    await expect(w.drain()).rejects.toThrow(/ENOENT/);
    await expect(w.close()).rejects.toThrow(/ENOENT/);
  });
});
