/**
 * Stopping `npm start` stops everything it started: `kill -TERM` of the npm process (which passes the signal on),
 * and even `kill -KILL` of it (which cannot), leave no sandbox and no emulator running.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/run-cli';

/** Process ids of a process group, the leader included while it lives. */
function group(pgid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when the group is empty
  }
}

function startFollow(): { child: ChildProcess; ready: Promise<void> } {
  // A process group of its own, so every process it starts can be found and, if the test fails, cleaned up.
  const child = spawn('npm', ['start', '--', '--follow', '--config', join(REPO_ROOT, 'bin', 'specs', 'fraud.json')], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/Features as of now/.test(out)) resolve();
    });
    child.stderr!.on('data', () => undefined);
    child.on('exit', (code) => reject(new Error(`npm start exited ${code} before it was ready:\n${out}`)));
  });
  return { child, ready };
}

async function emptied(pgid: number, withinMs: number): Promise<number[]> {
  const until = Date.now() + withinMs;
  let left = group(pgid);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    left = group(pgid);
  }
  return left;
}

describe('stopping npm start', () => {
  it('kill -TERM or kill -KILL of the npm process stops the sandbox and every emulator', async () => {
    const runs = [startFollow(), startFollow()];
    try {
      await Promise.all(runs.map((r) => r.ready));
      for (const r of runs) expect(group(r.child.pid!).length).toBeGreaterThanOrEqual(6); // npm, the sandbox, four emulators
      process.kill(runs[0]!.child.pid!, 'SIGTERM');
      process.kill(runs[1]!.child.pid!, 'SIGKILL');
      const [term, killed] = await Promise.all(runs.map((r) => emptied(r.child.pid!, 30_000)));
      expect(term).toEqual([]);
      expect(killed).toEqual([]);
    } finally {
      for (const r of runs) for (const pid of group(r.child.pid!)) process.kill(pid, 'SIGKILL');
    }
  }, 180_000);
});
