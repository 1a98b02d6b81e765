/**
 * The README and docs/ hold together: every relative link names a file that exists and every anchor a heading of
 * that file (GitHub's slugs), the README stays a front door (at most 300 lines), and the project layout table in
 * docs/internals.md matches the tree (each path it lists exists; each source folder, handler and CLI is listed).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const DOCS = join(ROOT, 'docs');
const FILES = [join(ROOT, 'README.md'), ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f))];

/** Lines outside fenced code blocks. */
function prose(text: string): string[] {
  let fence = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fence = !fence;
    return !fence && !line.startsWith('```');
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6} (.*)$/.exec(line);
    if (m === null) continue;
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Markdown links `[text](target)` and images, outside code blocks and inline code. */
function links(text: string): string[] {
  const out: string[] = [];
  for (const line of prose(text)) {
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1]);
  }
  return out;
}

describe('README.md and docs/', () => {
  it('finds the anchors GitHub makes', () => {
    expect([...anchors('# A b\n## Storage: one item per key, results in S3\n```\n# not a heading\n```\n## Online/offline consistency\n## A b\n')])
      .toEqual(['a-b', 'storage-one-item-per-key-results-in-s3', 'onlineoffline-consistency', 'a-b-1']);
    expect([...anchors('## 7. Features as of a time T (serving and training rows)\n')]).toEqual(['7-features-as-of-a-time-t-serving-and-training-rows']);
  });

  it.each(FILES.map((f) => [relative(ROOT, f), f]))('every relative link and anchor of %s resolves', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    const broken: string[] = [];
    for (const target of links(text)) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#', 2) as [string, string | undefined];
      const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it('keeps the README a front door: at most 300 lines, every document of docs/ in its map', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    const missing = readdirSync(DOCS).filter((f) => f.endsWith('.md') && !readme.includes(`](docs/${f})`));
    expect(missing).toEqual([]);
  });
});

describe('the project layout in docs/internals.md', () => {
  const text = readFileSync(join(DOCS, 'internals.md'), 'utf8');
  const section = text.slice(text.indexOf('## Project layout'), text.indexOf('\n## ', text.indexOf('## Project layout') + 1));
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  const listed = rows.map((l) => /^\| `([^`]+)`/.exec(l)![1]);
  const IGNORED = new Set(['node_modules', '.git', 'cdk.out', 'out', 'coverage', '.sandbox', '.cache', '__pycache__']);
  const dirs = (rel: string): string[] =>
    readdirSync(join(ROOT, rel)).filter((f) => !IGNORED.has(f) && statSync(join(ROOT, rel, f)).isDirectory()).map((f) => (rel === '' ? `${f}/` : `${rel}${f}/`));

  it('lists only paths that exist', () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(listed.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('lists every source folder two levels deep, and the test folders that do not mirror one', () => {
    const expected = ['lambda/', 'bin/', 'lib/']
      .flatMap((top) => [top, ...dirs(top), ...dirs(top).flatMap((d) => dirs(d))])
      .filter((d) => d !== 'lambda/');
    // test/X/ mirrors X/ where X/ exists; the others need a row of their own.
    const tests = dirs('test/').filter((d) => !existsSync(join(ROOT, d.slice('test/'.length))));
    const top = dirs('').filter((d) => !['lambda/', 'bin/', 'lib/', 'test/'].includes(d));
    expect([...expected, ...tests, ...top].filter((d) => !listed.includes(d))).toEqual([]);
  });

  it('names every handler and every CLI entry point', () => {
    const names = [
      ...readdirSync(join(ROOT, 'lambda/handlers')).map((f) => `lambda/handlers/${f}`),
      ...readdirSync(join(ROOT, 'bin')).filter((f) => /\.(ts|sh)$/.test(f)).map((f) => `bin/${f}`),
    ];
    const missing = names.filter((path) => {
      const row = rows.find((l) => l.startsWith(`| \`${dirname(path)}/\``));
      return row === undefined || !row.includes(`\`${path.slice(dirname(path).length + 1)}\``);
    });
    expect(missing).toEqual([]);
  });
});
