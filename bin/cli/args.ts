/**
 * Minimal `--name value` / `--flag` parser with errors that name the option at fault.
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
}

export type ParsedArgs = Record<string, string | number | boolean | undefined>;

export function parseArgs(argv: readonly string[], defs: Readonly<Record<string, OptionDef>>): ParsedArgs {
  const out: ParsedArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const def = defs[name];
    if (!def) throw new UsageError(`unknown option --${name} (known: ${Object.keys(defs).map((k) => `--${k}`).join(', ')})`);
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
    } else {
      out[name] = value;
    }
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.required && out[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return out;
}
