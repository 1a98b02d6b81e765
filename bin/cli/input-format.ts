/**
 * `--flat` and `--arrival-field`, read the same way by every CLI that reads a records file (options:
 * bin/cli/commands.ts FLAT_OPTIONS; the line parser: lambda/core/input-line.ts).
 */
import { type InputFormat, WRAPPED } from '../../lambda/core/input-line';
import type { SourceSpec } from '../../lambda/core/spec';
import { type ParsedArgs, UsageError } from './args';

/** The format of the records file the options name; `inputOption` is the CLI's file option (--input, --events). */
export function inputFormatOf(args: ParsedArgs, source: SourceSpec, inputOption: string): InputFormat {
  const field = args['arrival-field'] as string | undefined;
  if (args.flat !== true) {
    if (field !== undefined) throw new UsageError('--arrival-field needs --flat (a wrapped line carries its own "arrivalTime")');
    return WRAPPED;
  }
  if (args[inputOption] === undefined) throw new UsageError(`--flat reads the file of --${inputOption}; the archive holds records as they arrived`);
  if (field !== undefined && field.trim().length === 0) throw new UsageError('--arrival-field must name a field of the events');
  return { kind: 'flat', arrivalField: field ?? source.timeField };
}
