/**
 * Reads a file run's DIR/summary.json (docs/semantics.md §9) for the cost model, refusing by name what it cannot price: a file
 * that is missing or not JSON, a summary without `usage` (the replay's summary, say), or a usage figure missing or
 * not a non-negative number.
 */
import { readFileSync } from 'node:fs';
import { USAGE_FIELDS_ADDED_LATER, type Usage, emptyUsage } from '../local/usage';

export class RunSummaryError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'RunSummaryError';
  }
}

export interface RunSummary {
  readonly path: string;
  readonly records: number;
  readonly usage: Usage;
  /** A file run with --labels: the label records put and what the labels consumer used. */
  readonly labels?: { readonly records: number; readonly usage: Usage };
}

const MAKE_ONE = 'a file run writes one: npm start -- --config SPEC.json --input RECORDS.jsonl --out DIR';

export function readRunSummary(path: string): RunSummary {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RunSummaryError(`--summary ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message}; give a file run's summary.json (${MAKE_ONE})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RunSummaryError(`--summary ${path} is not JSON (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RunSummaryError(`--summary ${path} is not a JSON object`);
  const o = doc as Record<string, unknown>;
  if (!(typeof o.records === 'number' && Number.isInteger(o.records) && o.records > 0)) {
    throw new RunSummaryError(`--summary ${path}: "records" must be a positive integer, got ${JSON.stringify(o.records)}`);
  }
  if (o.usage === undefined) throw new RunSummaryError(`--summary ${path} has no "usage": not a file run's summary.json (${MAKE_ONE})`);
  const usage = usageOf(path, 'usage', o.usage);
  if (o.labels === undefined) return { path, records: o.records, usage };
  const l = o.labels as Record<string, unknown> | null;
  if (l === null || typeof l !== 'object' || Array.isArray(l)) throw new RunSummaryError(`--summary ${path}: "labels" must be an object`);
  if (!(typeof l.records === 'number' && Number.isInteger(l.records) && l.records >= 0)) throw new RunSummaryError(`--summary ${path}: labels.records must be a non-negative integer, got ${JSON.stringify(l.records)}`);
  return { path, records: o.records, usage, labels: { records: l.records, usage: usageOf(path, 'labels.usage', l.usage) } };
}

function usageOf(path: string, name: string, raw: unknown): Usage {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new RunSummaryError(`--summary ${path}: "${name}" must be an object`);
  const given = raw as Record<string, unknown>;
  const usage = emptyUsage();
  for (const key of Object.keys(usage) as Array<keyof Usage>) {
    // Summaries written before the archive or scoring figures existed lack them: none were made.
    const v = given[key] === undefined && USAGE_FIELDS_ADDED_LATER.has(key) ? 0 : given[key];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RunSummaryError(`--summary ${path}: ${name}.${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    usage[key] = v;
  }
  return usage;
}
