/**
 * The CLIs' shared ending: one `error:` line, the usage lines after a usage error (exit 64), a class name only for
 * a fault of the tool itself.
 */
import { describe, expect, it } from 'vitest';
import { type CliDefinition, UsageError, usageText } from '../../../bin/cli/args';
import { CliFileError } from '../../../bin/cli/files';
import { EXIT_USAGE, errorText, exitCodeOf } from '../../../bin/cli/run-main';
import { SpecError } from '../../../lambda/core/spec';

const CLI: CliDefinition = { command: 'npm run x --', summary: 's', forms: [['a']], options: { a: { kind: 'string', value: 'A', help: 'the a' } } };

describe('runMain error text', () => {
  it('prints the usage after a usage error and exits 64', () => {
    expect(errorText(CLI, new UsageError('unknown option --b'))).toBe(`error: unknown option --b\n${usageText(CLI)}\n`);
    expect(exitCodeOf(new UsageError('x'))).toBe(EXIT_USAGE);
  });

  it('prints the message alone for errors about the input, with exit 1', () => {
    expect(errorText(CLI, new CliFileError('--out /x: cannot create the folder'))).toBe('error: --out /x: cannot create the folder\n');
    expect(errorText(CLI, new SpecError(['features[0].name must be a non-empty string']))).toMatch(/^error: invalid pipeline spec:\n {2}- features\[0\]\.name/);
    expect(exitCodeOf(new CliFileError('x'))).toBe(1);
  });

  it('names the class of a fault of the tool itself, and lets a CLI explain errors it knows', () => {
    expect(errorText(CLI, new TypeError('x is not a function'))).toBe('error: TypeError: x is not a function\n');
    expect(errorText(CLI, 'a string')).toBe('error: a string\n');
    const explain = (e: unknown) => (e instanceof Error && e.name === 'ResourceNotFoundException' ? 'table not found' : undefined);
    const missing = Object.assign(new Error('Cannot do operations on a non-existent table'), { name: 'ResourceNotFoundException' });
    expect(errorText(CLI, missing, explain)).toBe('error: table not found\n');
    expect(errorText(CLI, new Error('other'), explain)).toBe('error: other\n');
  });
});
