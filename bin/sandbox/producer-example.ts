/**
 * The example event `npm start -- --follow` prints, built from the spec it runs: its keyField, timeField (in its
 * timeUnit), idField and every feature's field, so the example is one the spec applies (docs/producers.md).
 */
import type { PipelineSpec } from '../../lambda/core/spec';

/** The entity key of the examples (the features endpoint and `npm run features` lines ask for it too). */
export const EXAMPLE_KEY = 'user_42';
/** The value of every field a feature aggregates: a number, which every aggregate takes (distinct too). */
const EXAMPLE_VALUE = 25;

/** The spec's fields in the order the example shows them, each with its value, or a shell expression for it. */
function fields(spec: PipelineSpec, time: string | number, id: string): Array<[string, string | number, string]> {
  const { keyField, timeField, timeUnit, idField } = spec.source;
  const out: Array<[string, string | number, string]> = [[keyField, EXAMPLE_KEY, EXAMPLE_KEY]];
  // The shell's clock in the spec's unit; portable (no %N, which BSD date lacks).
  const shellTime = timeUnit === 'iso' ? '$(date -u +%Y-%m-%dT%H:%M:%SZ)' : timeUnit === 's' ? '$(date +%s)' : '$(($(date +%s) * 1000))';
  out.push([timeField, time, shellTime]);
  if (idField !== undefined) out.push([idField, id, '$RANDOM$RANDOM']);
  const seen = new Set(out.map(([name]) => name));
  for (const f of spec.features) {
    if (f.field === undefined || seen.has(f.field)) continue;
    seen.add(f.field);
    out.push([f.field, EXAMPLE_VALUE, String(EXAMPLE_VALUE)]);
  }
  return out;
}

/** An event the spec applies, at `now` (epoch ms) written in the spec's time unit. */
export function exampleEvent(spec: PipelineSpec, now: number, id = 'evt-1'): Record<string, string | number> {
  const unit = spec.source.timeUnit ?? 'ms';
  const time = unit === 'iso' ? new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z') : unit === 's' ? Math.floor(now / 1000) : now;
  return Object.fromEntries(fields(spec, time, id).map(([name, value]) => [name, value]));
}

/**
 * The same event as a double-quoted shell word (for `--data`): the time from the shell's clock, a fresh id each
 * time. Strings are JSON strings, their quotes escaped for the shell.
 */
export function exampleShellData(spec: PipelineSpec): string {
  const parts = fields(spec, 0, '').map(([name, value, shell]) => {
    const quoted = typeof value === 'string' || name === spec.source.idField || (name === spec.source.timeField && spec.source.timeUnit === 'iso');
    const json = (s: string) => JSON.stringify(s).replace(/[\\"$`]/g, (c) => `\\${c}`);
    return `${json(name)}:${quoted ? `\\"${shell}\\"` : shell}`;
  });
  return `"{${parts.join(',')}}"`;
}
