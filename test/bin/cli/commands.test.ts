/**
 * One definition per CLI (bin/cli/commands.ts): each CLI's `--help` prints it, and the option tables of docs/ are
 * made from it; a CLI given a path it cannot use says which option and what to do before reading any input.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliDefinition, UsageError, helpText, parseArgs, readmeOptionTable } from '../../../bin/cli/args';
import { CLIS } from '../../../bin/cli/commands';
import { CliFileError, checkReadableFile, prepareOutputDir, prepareOutputFile } from '../../../bin/cli/files';
import { loadSpecFile } from '../../../bin/cli/spec-file';
import { type CliRun, runCli } from '../../support/run-cli';

const ROOT = join(__dirname, '..', '..', '..');
const ENTRY: Record<keyof typeof CLIS, string> = { replay: 'bin/replay.ts', sandbox: 'bin/sandbox.ts', bench: 'bin/bench.ts', cost: 'bin/cost.ts', features: 'bin/features.ts', 'training-set': 'bin/training-set.ts', consistency: 'bin/consistency.ts', schema: 'bin/schema.ts', 'evaluation-report': 'bin/evaluation-report.ts', backfill: 'bin/backfill.ts', put: 'bin/put.ts', redrive: 'bin/redrive.ts' };
const dir = mkdtempSync(join(tmpdir(), 'cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (entry: string, args: readonly string[]): Promise<CliRun> => runCli(entry, args);

describe('CLI definitions', () => {
  const docs = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');

  it.each(Object.keys(CLIS) as Array<keyof typeof CLIS>)('the documentation lists exactly the options of %s', (name) => {
    expect(docs).toContain(readmeOptionTable(CLIS[name]));
  });

  it.each(Object.keys(CLIS) as Array<keyof typeof CLIS>)('%s answers --help with its definition and exits 0', async (name) => {
    const r = await run(ENTRY[name], ['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(helpText(CLIS[name]));
    expect(r.stderr).toBe('');
  });

  it('lists every option, --help included, with its value placeholder', () => {
    const cli: CliDefinition = { command: 'x --', summary: 's', forms: [['a!', 'b']], options: { a: { kind: 'string', value: 'FILE', help: 'the a' }, b: { kind: 'flag', help: 'the b' } } };
    expect(helpText(cli)).toBe('s\n\nusage:\n  x -- --a FILE [--b]\n\noptions:\n  --a FILE  the a\n  --b       the b\n  --help    Prints this help and exits.\n');
    expect(parseArgs(['--a', 'f', '--help'], cli)).toEqual({ help: true });
    expect(() => parseArgs(['--c'], cli)).toThrow(new UsageError('unknown option --c (known: --a, --b, --help)'));
  });

  it('collects a repeated option in order', () => {
    const cli: CliDefinition = { command: 'x --', summary: 's', forms: [['k']], options: { k: { kind: 'string', repeat: true, value: 'K', help: 'a key' }, j: { kind: 'string', help: 'once' } } };
    expect(parseArgs(['--k', 'a', '--k=b', '--j', '1', '--j', '2'], cli)).toEqual({ k: ['a', 'b'], j: '2' });
  });
});

describe('npm run schema', () => {
  it('writes nothing when asked for help, an unknown option or a check', async () => {
    const path = join(ROOT, 'bin', 'specs', 'pipeline-spec.schema.json');
    const before = statSync(path).mtimeMs;
    const [help, bad, check] = await Promise.all([run(ENTRY.schema, ['--help']), run(ENTRY.schema, ['--bogus']), run(ENTRY.schema, ['--check'])]);
    expect([help.code, bad.code, check.code]).toEqual([0, 64, 0]);
    expect(bad.stderr).toMatch(/^error: unknown option --bogus/);
    expect(check.stderr).toMatch(/pipeline-spec\.schema\.json is up to date\n$/);
    expect(statSync(path).mtimeMs).toBe(before);
  });
});

describe('paths given to the CLIs', () => {
  it('refuses an output folder that cannot be created, without hanging under /proc', () => {
    expect(() => prepareOutputDir('--out', '/proc/no-such-dir/out')).toThrow(CliFileError);
    expect(() => prepareOutputDir('--out', '/proc/no-such-dir/out')).toThrow(/^--out \/proc\/no-such-dir\/out: cannot create the folder/);
  });

  it('refuses a file given as output folder, and a folder given as output file', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => prepareOutputDir('--out', file)).toThrow(`--out ${file} is a file, not a folder; give a folder (it is created if missing)`);
    expect(() => prepareOutputDir('--out', join(file, 'sub'))).toThrow(`--out ${join(file, 'sub')}: ${file} is a file, not a folder`);
    expect(() => prepareOutputFile('--write-input', dir)).toThrow(`--write-input ${dir} is a folder; give a file path`);
  });

  it('creates missing output folders one by one and leaves no probe file behind', () => {
    const out = join(dir, 'x', 'y', 'z');
    prepareOutputDir('--out', out);
    expect(existsSync(out)).toBe(true);
    expect(readdirSync(out)).toEqual([]);
  });

  it('names the option of a missing or unreadable input', () => {
    expect(() => checkReadableFile('--input', join(dir, 'nope.jsonl'), 'a records file')).toThrow(`--input ${join(dir, 'nope.jsonl')}: no such file; give the path of a records file`);
    expect(() => checkReadableFile('--input', dir, 'a records file')).toThrow(`--input ${dir} is a folder; give the path of a records file`);
  });

  it('names the spec file in its errors, and warns about a spec too large to deploy', () => {
    const spec = join(dir, 'bad-spec.json');
    writeFileSync(spec, JSON.stringify({ source: { timeField: 't' }, watermark: { allowedLatenessMs: 0 }, features: [] }));
    expect(() => loadSpecFile(spec)).toThrow(`spec ${spec}: invalid pipeline spec:\n  - source.keyField must be a non-empty string; it is missing`);
    // Runs here, but too large for the consumer's environment once deployed.
    const big = join(dir, 'big-spec.json');
    const features = Array.from({ length: 40 }, (_, i) => ({ name: `feature_${i}_${'n'.repeat(70)}`, window: { type: 'tumbling', sizeMs: 1000 }, aggregate: 'count' }));
    writeFileSync(big, JSON.stringify({ source: { keyField: 'k', timeField: 't' }, watermark: { allowedLatenessMs: 0 }, features }));
    const warnings: string[] = [];
    expect(loadSpecFile(big, (w) => warnings.push(w)).features).toHaveLength(40);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^spec ${big} is \\d+ bytes once minified, over the 3072 bytes .* \`cdk synth\` and \`cdk deploy\` refuse it$`))]);
    expect(() => loadSpecFile(join(dir, 'nope.json'))).toThrow(`--config ${join(dir, 'nope.json')}: no such file`);
  });

  it('replay: refuses a bad --out before reading the input, warns on an empty input', async () => {
    const input = join(dir, 'empty.jsonl');
    writeFileSync(input, '\n');
    const [proc, empty] = await Promise.all([
      run(ENTRY.replay, ['--config', 'bin/specs/fraud.json', '--input', input, '--out', '/proc/x']),
      run(ENTRY.replay, ['--config', 'bin/specs/fraud.json', '--input', input, '--out', join(dir, 'o2')]),
    ]);
    expect(proc.code).toBe(1);
    expect(proc.stderr).toBe('error: --out /proc/x: cannot create the folder /proc/x (no such file or folder); choose a folder you can write to\n');
    expect(empty.code).toBe(0);
    expect(empty.stderr).toBe(`warning: --input ${input} holds no records; the outputs are empty\n`);
  });
});
