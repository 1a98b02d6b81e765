/** `npm start` refuses bad options, specs and input lines with messages naming the culprit, before starting anything. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..', '..');
const FRAUD = path.join(ROOT, 'bin', 'specs', 'fraud.json');
const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sandbox(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'sandbox.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe.concurrent('sandbox command line', () => {
  const good = path.join(dir, 'good.jsonl');
  writeFileSync(good, '{"data":"{}"}\n');

  it('names an unknown option', async () => {
    const r = await sandbox(['--chaoss', '0.1']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('unknown option --chaoss');
  });

  it('names a bad option value', async () => {
    const r = await sandbox(['--config', FRAUD, '--input', good, '--out', dir, '--chaos', '2']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--chaos must be a probability from 0 to 1, got 2');
  });

  it('names an unknown Kinesis emulator', async () => {
    const r = await sandbox(['--config', FRAUD, '--input', good, '--out', dir, '--kinesis-emulator', 'localstack']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--kinesis-emulator must be one of kinesalite, kinesis-mock, got localstack');
  });

  it('asks for the missing file option', async () => {
    const r = await sandbox(['--config', FRAUD, '--out', dir]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--input is required');
  });

  it('gives the path of a bad spec field', async () => {
    const spec = path.join(dir, 'bad-spec.json');
    writeFileSync(spec, JSON.stringify({ source: { keyField: 'k', timeField: 't' }, watermark: { allowedLatenessMs: 0 }, features: [{ name: 'a', window: { type: 'sliding', sizeMs: 10, slideMs: 0 }, aggregate: 'count' }] }));
    const r = await sandbox(['--config', spec, '--input', good, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('features[0].window.slideMs');
  });

  it('gives the number of a bad input line', async () => {
    const input = path.join(dir, 'bad.jsonl');
    writeFileSync(input, '{"data":"{}"}\n\nnot json\n');
    const r = await sandbox(['--config', FRAUD, '--input', input, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('input line 3');
    expect(r.stderr).not.toContain('emulators up'); // refused before any process started
  });
});

describe('sandbox interrupted', () => {
  it('stops on SIGTERM during a file run with "stopping…" and no error from the emulators it stopped', async () => {
    const input = path.join(dir, 'many.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(JSON.stringify({ data: JSON.stringify({ user_id: `u${i % 50}`, event_time: 1767600000000 + i * 1000, event_id: `e${i}`, amount: 1 }) }));
    writeFileSync(input, `${lines.join('\n')}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'sandbox.ts'), '--config', FRAUD, '--input', input, '--out', path.join(dir, 'out')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('emulators up') && child.exitCode === null && !child.killed) setTimeout(() => child.kill('SIGTERM'), 1500);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).toContain('stopping…');
    expect(stderr).not.toMatch(/^error:/m); // the CLI's own error line (SDK warnings may mention errors)
    expect(code).toBe(130);
  }, 60_000);
});
