/** `npm start` refuses bad options, specs and input lines with messages naming the culprit, before starting anything. */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  // 'close', not 'exit': the process may exit before its stderr has been read.
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
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

  it('refuses --labels without a spec with an evaluation section or with a line that is no object, and a parallelization factor above 1 with evaluation', async () => {
    const plain = path.join(dir, 'plain.json');
    writeFileSync(plain, JSON.stringify({ source: { keyField: 'u', timeField: 't' }, watermark: { allowedLatenessMs: 0 }, features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60000 }, aggregate: 'count' }] }));
    const badLabels = path.join(dir, 'bad-labels.jsonl');
    writeFileSync(badLabels, '{"eventId": "e1", "key": "u1", "label": true, "labelTime": 1}\n[1, 2]\n');
    const [noEvaluation, noFileMode, factor, badLine] = await Promise.all([
      sandbox(['--config', plain, '--input', good, '--out', dir, '--labels', good]),
      sandbox(['--labels', good]),
      sandbox(['--config', FRAUD, '--input', good, '--out', dir, '--parallelization-factor', '2']),
      sandbox(['--config', FRAUD, '--input', good, '--out', dir, '--labels', badLabels]),
    ]);
    expect([noEvaluation.code, noFileMode.code, factor.code, badLine.code]).toEqual([64, 64, 64, 1]);
    expect(badLine.stderr).toContain('--labels line 2: a label must be a JSON object, got an array');
    expect(badLine.stderr).not.toContain('emulators up');
    expect(noEvaluation.stderr).toContain(`--labels needs a spec with an evaluation section (and scoring): ${plain} has none`);
    expect(noFileMode.stderr).toContain('--labels needs --config, --input and --out');
    expect(factor.stderr).toContain('--parallelization-factor 2 cannot run a spec with an evaluation section');
  });

  it('asks for the missing file option', async () => {
    const r = await sandbox(['--config', FRAUD, '--out', dir]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--input is required');
  });

  it('refuses file options with --follow --config, and a features port without --follow or out of range', async () => {
    const [withOut, noFollow, badPort] = await Promise.all([
      sandbox(['--follow', '--config', FRAUD, '--out', dir]),
      sandbox(['--features-port', '8080']),
      sandbox(['--follow', '--features-port', '70000']),
    ]);
    expect([withOut.code, noFollow.code, badPort.code]).toEqual([64, 64, 64]);
    expect(withOut.stderr).toContain('--out is for file mode; --follow --config runs your spec live');
    expect(noFollow.stderr).toContain('--features-port needs --follow');
    expect(badPort.stderr).toContain('--features-port must be an integer from 1 to 65535, got 70000');
  });

  it('refuses a page port out of range, and one with --no-page', async () => {
    const [badPort, both] = await Promise.all([sandbox(['--page-port', '0']), sandbox(['--follow', '--page-port', '8080', '--no-page'])]);
    expect([badPort.code, both.code]).toEqual([64, 64]);
    expect(badPort.stderr).toContain('--page-port must be an integer from 1 to 65535, got 0');
    expect(both.stderr).toContain('--page-port and --no-page exclude each other');
    expect(both.stderr).not.toContain('emulators up');
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

  it('names a line whose record a Kinesis stream cannot hold, before starting anything', async () => {
    const input = path.join(dir, 'huge.jsonl');
    const huge = JSON.stringify({ user_id: 'u', event_time: 1, pad: 'x'.repeat(1_048_576) });
    writeFileSync(input, `${JSON.stringify({ data: '{}' })}\n${JSON.stringify({ data: huge })}\n`);
    const r = await sandbox(['--config', FRAUD, '--input', input, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input line 2: the record is 1048\d{3} bytes with its partition key, over the 1048576 a Kinesis record holds/);
    expect(r.stderr).not.toContain('emulators up');
  });
});

describe('sandbox following your own spec', () => {
  it('runs your spec with --follow --config and serves features on localhost: empty for a key never seen, 400 naming the field, 405 for GET; stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'sandbox.ts'), '--follow', '--config', FRAUD], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      for (let i = 0; i < 600 && !/curl -s -X POST (\S+)/.test(stdout); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /curl -s -X POST (\S+)/.exec(stdout)?.[1];
      expect(url, stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(stdout).toContain('Pipeline running with your spec');
      expect(stdout).toContain('npm run features -- --key user_42');
      const post = (body: unknown) => fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      // A key nothing was sent for: every feature empty (count 0, sum 0), as of now.
      const ok = await post({ entities: { user_id: ['nobody'] }, features: ['txn_count_5m', 'spend_1h_every_5m'] });
      expect(ok.status).toBe(200);
      const answer = (await ok.json()) as { metadata: { feature_names: string[]; found: boolean[] }; results: Array<{ values: unknown[]; statuses: string[] }> };
      expect(answer.metadata.feature_names).toEqual(['user_id', 'txn_count_5m', 'spend_1h_every_5m']);
      expect(answer.metadata.found).toEqual([false]);
      expect(answer.results.map((r) => [r.values[0], r.statuses[0]])).toEqual([['nobody', 'NOT_FOUND'], [0, 'EMPTY'], [0, 'EMPTY']]);
      const bad = await post({ entities: { user_id: [] } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { field: string }).field).toBe('entities.user_id');
      expect((await fetch(url!)).status).toBe(405);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(143); // 128 + SIGTERM, as a shell reports it
  }, 120_000);
});

describe('sandbox interrupted', () => {
  it('stops on SIGTERM during a file run with "stopping…" and no error from the emulators it stopped', async () => {
    const input = path.join(dir, 'many.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(JSON.stringify({ data: JSON.stringify({ user_id: `u${i % 50}`, event_time: 1767600000000 + i * 1000, event_id: `e${i}`, amount: 1 }) }));
    writeFileSync(input, `${lines.join('\n')}\n`);
    // An earlier run's outputs: gone once this run has started, so a stopped run cannot pass them off as its own.
    const out = path.join(dir, 'out');
    mkdirSync(out, { recursive: true });
    for (const name of ['windows.jsonl', 'rejected.jsonl', 'summary.json']) writeFileSync(path.join(out, name), 'earlier run\n');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'sandbox.ts'), '--config', FRAUD, '--input', input, '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('emulators up') && child.exitCode === null && !child.killed) setTimeout(() => child.kill('SIGTERM'), 1500);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).toContain('stopping…');
    expect(stderr).not.toMatch(/^error:/m); // the CLI's own error line (SDK warnings may mention errors)
    expect(code).toBe(143); // 128 + SIGTERM
    expect(readdirSync(out).filter((f) => !f.startsWith('.'))).toEqual([]);
  }, 60_000);
});
