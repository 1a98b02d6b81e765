/** Plain-text output helpers for the sandbox: fixed-width tables, clock times, percentiles. */
import type { KinesisOnFailureMessage } from '../local/esm-runner';

export interface Column {
  readonly header: string;
  /** @default 'r' (numbers) */
  readonly align?: 'l' | 'r';
  /** Minimum width; with streamed rows (renderTable's `widths` unknown in advance) the width of the column. */
  readonly width?: number;
}

/** A table with a header, a rule and one line per row; cells are padded to the widest value of their column. */
export function renderTable(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  opts: { indent?: string; groups?: ReadonlyArray<{ label: string; span: number }> } = {},
): string {
  const indent = opts.indent ?? '  ';
  const widths = columns.map((c, i) => Math.max(c.width ?? 0, c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent +
    columns
      .map((c, i) => ((c.align ?? 'r') === 'l' ? (cells[i] ?? '').padEnd(widths[i]!) : (cells[i] ?? '').padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const head = [line(columns.map((c) => c.header))];
  if (opts.groups) {
    // A label above a run of columns, centred on their combined width.
    let col = 0;
    const cells = opts.groups.map((g) => {
      const w = widths.slice(col, col + g.span).reduce((a, b) => a + b, 0) + 2 * (g.span - 1);
      col += g.span;
      const left = Math.max(0, Math.floor((w - g.label.length) / 2));
      return (' '.repeat(left) + g.label).padEnd(w).slice(0, Math.max(w, g.label.length));
    });
    head.unshift((indent + cells.join('  ')).trimEnd());
  }
  return [...head, indent + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** HH:MM:SS (UTC). */
export function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 19);
}

/** Nearest-rank percentile (p in 0..100) of the values; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function ms(v: number | undefined): string {
  if (v === undefined) return '—';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

/** Shortens text to `max` characters with an ellipsis. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A table printed row by row as results come in: column widths come from the columns alone. */
export function streamedTable(columns: readonly Column[], opts: { indent?: string; groups?: ReadonlyArray<{ label: string; span: number }> } = {}) {
  const header = renderTable(columns, [], opts);
  const row = (cells: readonly string[]): string => renderTable(columns, [cells], { indent: opts.indent ?? '  ' }).split('\n')[2]! + '\n';
  return { header, row };
}

/** One on-failure queue message in a line: which records were abandoned, why, after how many invocations. */
export function onFailureLine(m: KinesisOnFailureMessage): string {
  const b = m.KinesisBatchInfo;
  const error = m.responseContext ? `, function error ${m.responseContext.functionError ?? 'none'}` : '';
  return `${m.requestContext.condition}: ${b.shardId} ${b.startSequenceNumber}…${b.endSequenceNumber}, ${b.batchSize} record(s), ${m.requestContext.approximateInvokeCount} invocation(s)${error}`;
}
