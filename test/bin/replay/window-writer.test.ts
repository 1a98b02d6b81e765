import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { windowLineText } from '../../../lambda/core/output';
import { WindowWriter, WindowWriterError } from '../../../bin/replay/window-writer';

const tmp = mkdtempSync(join(tmpdir(), 'window-writer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('WindowWriter (windows.jsonl on a worker thread)', () => {
  it('writes every window handed over, in order, as the same line windowLineText makes, beyond its in-flight bound', async () => {
    const path = join(tmp, 'many.jsonl');
    const writer = new WindowWriter(path, ['cnt', 'avg "q"']);
    const expected: string[] = [];
    // 100,000 windows are 13 chunks, more than the 8 allowed in flight: drain() has to hold the producer back.
    for (let i = 0; i < 100_000; i++) {
      const feature = i % 3 === 0 ? 'avg "q"' : 'cnt';
      const key = i % 7 === 0 ? `zoë\n${i % 11}` : `user_${Math.floor(i / 5)}`;
      const value = i % 13 === 0 ? NaN : i / 7;
      writer.add(feature, key, i * 1000 - 8.64e15, i * 1000 - 8.64e15 + 60_000, value, i % 50);
      expected.push(windowLineText(feature, key, i * 1000 - 8.64e15, i * 1000 - 8.64e15 + 60_000, value, i % 50));
      if (i % 2000 === 0) await writer.drain();
    }
    expect(writer.count).toBe(100_000);
    await writer.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(expected);
    expect(JSON.parse(lines[7]!)).toMatchObject({ key: 'zoë\n7' });
    expect(JSON.parse(lines[13]!)).toMatchObject({ value: null });
  });

  it('reports a file it cannot write as a named error from close(), and does not hang', async () => {
    const dir = join(tmp, 'is-a-directory.jsonl');
    mkdirSync(dir);
    const writer = new WindowWriter(dir, ['cnt']);
    writer.add('cnt', 'u', 0, 10, 1, 1);
    const err = await writer.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WindowWriterError);
    expect((err as Error).message).toContain(dir);
  });

  it.runIf(existsSync('/dev/full'))('reports a write that fails at close (full disk) from close(), and does not hang', async () => {
    const path = join(tmp, 'full.jsonl');
    symlinkSync('/dev/full', path);
    const writer = new WindowWriter(path, ['cnt']);
    for (let i = 0; i < 2000; i++) writer.add('cnt', `u${i}`, i, i + 10, 1, 1);
    await expect(writer.close()).rejects.toThrow(/ENOSPC/);
  });

  it('wakes a producer waiting in drain() when the worker fails, with the error', async () => {
    const dir = join(tmp, 'dir-as-file.jsonl');
    mkdirSync(dir);
    const writer = new WindowWriter(dir, ['cnt']);
    // More than the 8 chunks allowed in flight, so drain() has to wait: the failure must end that wait.
    for (let i = 0; i < 9 * 8192; i++) writer.add('cnt', 'u', i, i + 10, 1, 1);
    await expect(writer.drain()).rejects.toBeInstanceOf(WindowWriterError);
    await expect(writer.close()).rejects.toBeInstanceOf(WindowWriterError);
  });

  it('refuses a window of a feature it was not told about, naming it', async () => {
    const writer = new WindowWriter(join(tmp, 'unknown.jsonl'), ['cnt']);
    expect(() => writer.add('spend', 'u', 0, 10, 1, 1)).toThrow(/unknown feature "spend"/);
    await writer.close();
  });
});
