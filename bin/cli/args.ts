/**
 * Minimal `--name value` / `--flag` parser with errors that name the option at fault, and the one definition of
 * each CLI's options from which both its `--help` text and its option table in docs/ are made (a test checks
 * that docs/ holds exactly that table).
 */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionDef {
  readonly kind: 'string' | 'number' | 'flag';
  readonly required?: boolean;
  /** Placeholder of the value in usage lines, e.g. `SPEC.json` or `N`. */
  readonly value?: string;
  /** What the option does, its range and default; one sentence or two. */
  readonly help: string;
  /** A string option that may be given more than once; its values are collected in order. */
  readonly repeat?: boolean;
}

export interface CliDefinition {
  /** How it is run, e.g. `npm run replay --`. */
  readonly command: string;
  /** One line on what it does. */
  readonly summary: string;
  /**
   * Usage forms, each a list of option names; options required overall, or marked `!` in a form (`'config!'`),
   * are shown bare, the others in brackets.
   */
  readonly forms: ReadonlyArray<readonly string[]>;
  readonly options: Readonly<Record<string, OptionDef>>;
}

const HELP: OptionDef = { kind: 'flag', help: 'Prints this help and exits.' };

function optionSyntax(name: string, def: OptionDef): string {
  return def.kind === 'flag' ? `--${name}` : `--${name} ${def.value ?? (def.kind === 'number' ? 'N' : 'VALUE')}`;
}

function usageLines(cli: CliDefinition): string[] {
  return cli.forms.map((form) => {
    const parts = form.map((entry) => {
      const name = entry.replace(/!$/, '');
      const def = cli.options[name]!;
      return def.required || entry.endsWith('!') ? optionSyntax(name, def) : `[${optionSyntax(name, def)}]`;
    });
    return [cli.command, ...parts].join(' ').replace(/ --$/, '');
  });
}

/** The `--help` text. */
export function helpText(cli: CliDefinition): string {
  const options = { ...cli.options, help: HELP };
  const width = Math.max(...Object.entries(options).map(([n, d]) => optionSyntax(n, d).length));
  const lines = [cli.summary, '', 'usage:', ...usageLines(cli).map((l) => `  ${l}`), '', 'options:'];
  for (const [name, def] of Object.entries(options)) lines.push(`  ${optionSyntax(name, def).padEnd(width)}  ${def.required ? '(required) ' : ''}${def.help}`);
  return `${lines.join('\n')}\n`;
}

/** The short usage printed after a usage error. */
export function usageText(cli: CliDefinition): string {
  return `usage: ${usageLines(cli).join('\n       ')}\n(--help lists the options)`;
}

/** A CLI's option table in docs/ (Markdown). */
export function readmeOptionTable(cli: CliDefinition): string {
  const rows = Object.entries({ ...cli.options, help: HELP }).map(([name, def]) => `| \`${optionSyntax(name, def)}\` | ${def.required ? 'required' : 'optional'} | ${def.help.replace(/\|/g, '\\|')} |`);
  return ['| option | | what it does |', '|---|---|---|', ...rows].join('\n');
}

export type ParsedArgs = Record<string, string | number | boolean | readonly string[] | undefined>;

/** Parses argv; `--help` anywhere returns `{ help: true }` without checking anything else. */
export function parseArgs(argv: readonly string[], cli: CliDefinition): ParsedArgs {
  if (argv.includes('--help')) return { help: true };
  const defs = cli.options;
  const out: ParsedArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const def = defs[name];
    if (!def) throw new UsageError(`unknown option --${name} (known: ${[...Object.keys(defs), 'help'].map((k) => `--${k}`).join(', ')})`);
    if (def.kind === 'flag') {
      out[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (def.kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
      out[name] = n;
    } else if (def.repeat) {
      out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    } else {
      out[name] = value;
    }
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.required && out[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return out;
}
