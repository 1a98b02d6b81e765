/**
 * `npm run build:client`: the features client (lambda/client/) compiled to JavaScript with its declarations in
 * out/client/, next to its own package.json, ready for `npm pack` or `npm install <folder>` (docs/serving.md).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const SOURCE = join(ROOT, 'lambda', 'client');
/** Where the package is built (the outDir of lambda/client/tsconfig.json). */
export const CLIENT_OUT = join(ROOT, 'out', 'client');

/** Compiles the client into CLIENT_OUT (emptied first) and copies its package.json there; returns the folder. */
export function buildClient(): string {
  rmSync(CLIENT_OUT, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(SOURCE, 'tsconfig.json')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc -p lambda/client failed:\n${tsc.stdout}${tsc.stderr}`);
  copyFileSync(join(SOURCE, 'package.json'), join(CLIENT_OUT, 'package.json'));
  return CLIENT_OUT;
}

if (require.main === module) {
  process.stdout.write(`${buildClient()}\n`);
}
