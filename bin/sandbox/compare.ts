/**
 * Compares two output folders (windows.jsonl, rejected.jsonl, corrections.jsonl, and firings.jsonl when either
 * has one) as sets of lines. The replay writes windows in the
 * order they became final and the sandbox writes them sorted, so order never matters; every field does.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWtf8 } from '../../lambda/core/wtf8';

export const OUTPUT_FILES = ['windows.jsonl', 'rejected.jsonl', 'corrections.jsonl'] as const;
/** Written only by specs with a global window. */
export const FIRINGS_FILE = 'firings.jsonl';
export type OutputFile = (typeof OUTPUT_FILES)[number] | typeof FIRINGS_FILE;

export interface FileDiff {
  readonly file: OutputFile;
  readonly linesA: number;
  readonly linesB: number;
  /** Canonical lines (keys sorted) present more often in A than in B, and the reverse. */
  readonly onlyInA: string[];
  readonly onlyInB: string[];
}

export interface OutputComparison {
  readonly equal: boolean;
  readonly files: FileDiff[];
}

/** JSON text with object keys sorted at every level, so field order does not matter. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * A rejected line's payload by size and SHA-256 of its bytes (as the sandbox put them), so a line whose payload
 * the dead-letter queue could only carry cut (`truncated`, with the whole payload's size and digest) matches the
 * replay's full one.
 */
function payloadByDigest(line: unknown): unknown {
  if (line === null || typeof line !== 'object' || typeof (line as { data?: unknown }).data !== 'string') return line;
  const { data, truncated, dataBytes, dataSha256, ...rest } = line as { data: string; truncated?: boolean; dataBytes?: number; dataSha256?: string };
  // The start of the payload stays, for a reader of the differences.
  const dataStart = data.slice(0, 80);
  if (truncated === true) return { ...rest, dataStart, dataBytes, dataSha256 };
  const bytes = encodeWtf8(data);
  return { ...rest, dataStart, dataBytes: bytes.length, dataSha256: createHash('sha256').update(bytes).digest('hex') };
}

function canonicalLines(path: string): string[] {
  // corrections.jsonl exists only under latePolicy "update": absent, it has no lines.
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      try {
        const doc: unknown = JSON.parse(l);
        return canonicalJson(path.endsWith('rejected.jsonl') ? payloadByDigest(doc) : doc);
      } catch (e) {
        throw new Error(`${path}:${i + 1}: not JSON (${(e as Error).message})`);
      }
    });
}

function counts(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

/** Lines of `a` not matched one-for-one by lines of `b` (multiset difference), sorted. */
function minus(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [line, n] of a) for (let i = (b.get(line) ?? 0); i < n; i++) out.push(line);
  return out.sort();
}

export function compareOutputs(dirA: string, dirB: string): OutputComparison {
  const names: OutputFile[] = [...OUTPUT_FILES];
  if (existsSync(join(dirA, FIRINGS_FILE)) || existsSync(join(dirB, FIRINGS_FILE))) names.push(FIRINGS_FILE);
  const files = names.map((file): FileDiff => {
    const a = canonicalLines(join(dirA, file));
    const b = canonicalLines(join(dirB, file));
    const ca = counts(a);
    const cb = counts(b);
    return { file, linesA: a.length, linesB: b.length, onlyInA: minus(ca, cb), onlyInB: minus(cb, ca) };
  });
  return { equal: files.every((f) => f.onlyInA.length === 0 && f.onlyInB.length === 0), files };
}

/** A short human-readable account of the differences (first few lines of each side). */
export function describeComparison(c: OutputComparison, labels: [string, string] = ['A', 'B'], max = 5): string {
  if (c.equal) return `outputs equal (${c.files.map((f) => `${f.file}: ${f.linesA} lines`).join(', ')})`;
  const parts: string[] = [];
  for (const f of c.files) {
    if (f.onlyInA.length === 0 && f.onlyInB.length === 0) continue;
    parts.push(`${f.file}: ${labels[0]} ${f.linesA} lines, ${labels[1]} ${f.linesB} lines`);
    for (const l of f.onlyInA.slice(0, max)) parts.push(`  only in ${labels[0]}: ${l}`);
    if (f.onlyInA.length > max) parts.push(`  … ${f.onlyInA.length - max} more only in ${labels[0]}`);
    for (const l of f.onlyInB.slice(0, max)) parts.push(`  only in ${labels[1]}: ${l}`);
    if (f.onlyInB.length > max) parts.push(`  … ${f.onlyInB.length - max} more only in ${labels[1]}`);
  }
  return parts.join('\n');
}
