/**
 * File checks the CLIs run before reading any input, so a wrong path fails at once with a message that names the
 * option and what to do, instead of a raw ENOENT or EACCES after minutes of work (or, for an output folder under
 * /proc, a recursive mkdir that never returns).
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** A path given to a CLI option cannot be used; the message names the option. */
export class CliFileError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'CliFileError';
  }
}

const REASON: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name exists',
  EISDIR: 'it is a folder',
};

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? REASON[code] : undefined) ?? (e as Error).message;
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: a part of the path is a file; the walk up to the nearest existing part reports it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** An existing, readable regular file; returns its size in bytes. */
export function checkReadableFile(option: string, path: string, what: string): number {
  let size: number;
  try {
    const st = statOrUndefined(path);
    if (st === undefined) throw new CliFileError(`${option} ${path}: no such file; give the path of ${what}`);
    if (st.isDirectory()) throw new CliFileError(`${option} ${path} is a folder; give the path of ${what}`);
    accessSync(path, constants.R_OK);
    size = Number(st.size);
  } catch (e) {
    if (e instanceof CliFileError) throw e;
    throw new CliFileError(`${option} ${path} cannot be read (${reason(e)}); give a file you can read`);
  }
  return size;
}

/**
 * Creates the output folder (and its missing parents, one by one: no recursive mkdir, which loops forever under
 * /proc) and checks that a file can be created in it.
 */
export function prepareOutputDir(option: string, path: string): void {
  const abs = resolve(path);
  const missing: string[] = [];
  let existing = abs;
  for (;;) {
    let st;
    try {
      st = statOrUndefined(existing);
    } catch (e) {
      throw new CliFileError(`${option} ${path}: cannot look at ${existing} (${reason(e)}); choose another folder`);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) {
        throw new CliFileError(existing === abs ? `${option} ${path} is a file, not a folder; give a folder (it is created if missing)` : `${option} ${path}: ${existing} is a file, not a folder; choose another place`);
      }
      break;
    }
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statOrUndefined(dir)?.isDirectory()) continue;
      throw new CliFileError(`${option} ${path}: cannot create the folder ${dir} (${reason(e)}); choose a folder you can write to`);
    }
  }
  const probe = join(abs, `.write-check-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new CliFileError(`${option} ${path}: cannot write in this folder (${reason(e)}); choose a folder you can write to`);
  }
}

/** The folder a file will be written in exists and is writable (the file itself may exist: it is replaced). */
export function prepareOutputFile(option: string, path: string): void {
  const st = statOrUndefined(resolve(path));
  if (st?.isDirectory()) throw new CliFileError(`${option} ${path} is a folder; give a file path`);
  prepareOutputDir(option, dirname(resolve(path)));
}

/** Removes files this run wrote (a run that stopped part-way); returns the names it removed. */
export function removeOutputs(dir: string, names: readonly string[]): string[] {
  const removed: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (statOrUndefined(file) === undefined) continue;
    rmSync(file, { force: true });
    removed.push(name);
  }
  return removed;
}
