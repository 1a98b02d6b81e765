/**
 * The ending every CLI shares: exit with the code `main` returns; on an error, print one `error: ...` line on
 * stderr and exit 64 for a usage error (with the usage lines) or 1 for anything else. An error the user can act
 * on (a bad path, spec, input line, ...) is its message alone; only an error of JavaScript itself (a TypeError,
 * say: a fault of the tool, not of its input) also names its class.
 */
import { type CliDefinition, UsageError, usageText } from './args';
import { exitWhenFlushed } from './exit';

/** Exit code of a usage error (BSD sysexits EX_USAGE), as every CLI here uses. */
export const EXIT_USAGE = 64;

const LANGUAGE_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError']);

export interface RunMainOptions {
  /** A message for errors this CLI knows better (e.g. a missing table); undefined leaves the default. */
  readonly explain?: (e: unknown) => string | undefined;
  /** Runs before exiting on an error (stopping child processes, say). */
  readonly cleanup?: () => Promise<void>;
  /** True while the process is already being stopped by a signal: the error is then a consequence, not news. */
  readonly stopping?: () => boolean;
}

/** The stderr text for an error: `error: <message>` (and for a usage error, the usage lines). */
export function errorText(cli: CliDefinition, e: unknown, explain?: (e: unknown) => string | undefined): string {
  if (e instanceof UsageError) return `error: ${e.message}\n${usageText(cli)}\n`;
  const own = explain?.(e);
  if (own !== undefined) return `error: ${own}\n`;
  if (e instanceof Error) return `error: ${LANGUAGE_ERRORS.has(e.name) ? `${e.name}: ` : ''}${e.message}\n`;
  return `error: ${String(e)}\n`;
}

export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError ? EXIT_USAGE : 1;
}

export function runMain(cli: CliDefinition, main: () => Promise<number>, options: RunMainOptions = {}): void {
  main().then(
    (code) => {
      if (options.stopping?.() !== true) exitWhenFlushed(code);
    },
    (e: unknown) => {
      if (options.stopping?.() === true) return;
      process.stderr.write(errorText(cli, e, options.explain));
      const code = exitCodeOf(e);
      if (options.cleanup === undefined) exitWhenFlushed(code);
      else void options.cleanup().finally(() => exitWhenFlushed(code));
    },
  );
}
