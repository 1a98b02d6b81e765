/**
 * Results that are probably wrong are never silent: after a run over a file of the user's own records, these
 * checks turn what most often means a mistake (event times in seconds read as milliseconds, a misspelled field
 * rejecting most records, a training set whose every row is empty) into warnings on the terminal, naming what to
 * change. With `--strict` the CLI then exits with STRICT_EXIT_CODE instead of 0.
 */

/** Exit code of a run whose outputs were written but drew a warning, under --strict. */
export const STRICT_EXIT_CODE = 2;

/** 2000-01-01T00:00:00Z: real event times come after it; epoch seconds of any date before 2033 come before it. */
export const YEAR_2000_MS = 946_684_800_000;

/** Most records rejected: more than this share of the records. */
const REJECTED_SHARE = 0.5;

/** How many of the most common rejection reasons a warning lists. */
const TOP_REASONS = 3;

/** A rejection message with its values replaced, so rejections for the same cause count together. */
export function reasonOf(reason: string, message: string): string {
  const general = message
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, 'N')
    .replace(/, got .*$/, '');
  return `${reason}: ${general}`;
}

export class RunChecks {
  private maxEventTime = -Infinity;
  private readonly reasons = new Map<string, { count: number; example: string }>();

  /** An event time the run applied (or the highest, e.g. a shard's watermark plus its allowed lateness). */
  public eventTime(t: number | null | undefined): void {
    if (typeof t === 'number' && t > this.maxEventTime) this.maxEventTime = t;
  }

  /** A rejected record (`invalid`, `future`; late records are the pipeline working, not a mistake). */
  public rejected(reason: string, message: string): void {
    if (reason === 'late') return;
    const key = reasonOf(reason, message);
    const seen = this.reasons.get(key);
    if (seen) seen.count++;
    else this.reasons.set(key, { count: 1, example: `${reason}: ${message}` });
  }

  /**
   * The warnings for a run of `records` records of which `applied` were applied. `rejectedFile` is where the
   * rejected records are listed, if anywhere.
   */
  public warnings(o: { records: number; applied: number; rejectedFile?: string }): string[] {
    const out: string[] = [];
    if (o.applied > 0 && Number.isFinite(this.maxEventTime) && this.maxEventTime < YEAR_2000_MS) {
      out.push(
        `every event time is before 2000-01-01 (the latest is ${this.maxEventTime}, ${new Date(this.maxEventTime).toISOString()}): ` +
          `they look like epoch seconds read as milliseconds; if so, set "timeUnit": "s" in the spec's "source"`,
      );
    }
    const rejected = [...this.reasons.values()].reduce((n, r) => n + r.count, 0);
    if (o.records > 0 && rejected > o.records * REJECTED_SHARE) {
      const top = [...this.reasons.values()].sort((a, b) => b.count - a.count).slice(0, TOP_REASONS);
      out.push(
        `${rejected} of ${o.records} records (${Math.round((100 * rejected) / o.records)}%) were rejected; most often:\n` +
          top.map((r) => `  ${r.count} × ${r.example}`).join('\n') +
          (o.rejectedFile === undefined ? '' : `\n  (every rejected record, with its line, is in ${o.rejectedFile})`),
      );
    }
    return out;
  }
}

/** The warning for a training set whose every row is empty, or none. */
export function emptyRowsWarning(o: { rows: number; rowsAllEmpty: number; keysNeverSeen: number; labels: number }): string | undefined {
  if (o.rows === 0 || o.rowsAllEmpty < o.rows) return undefined;
  const keys = o.keysNeverSeen > 0 ? `; ${o.keysNeverSeen} label keys never appear in a valid event (compare them with the spec's keyField)` : '';
  return (
    `every one of the ${o.rows} training rows is empty: no label found an event that had arrived by its time in a window holding that time. ` +
    `Check that label times are epoch milliseconds (or ISO-8601, or the spec's timeUnit) and fall within the events' arrival times${keys}`
  );
}
