/**
 * The labels file of training rows (docs/semantics.md §8): one JSON object per line, `key` (a non-empty string or a finite
 * number, compared as strings) and `time` (epoch ms or ISO-8601), every other field passed through. Read whole:
 * memory holds the labels, never the events.
 *
 * A line that is not a JSON object is an error naming its line (the file is not a labels file, or is cut short);
 * so is a field named `features`, which the row's own `features` would overwrite. A label whose key or time is
 * missing or unusable is skipped, counted and listed with its reason: one bad label does not cost the others.
 */
import { FeatureRequestError, entityKey } from '../../lambda/core/feature-request';
import { parseEventTime } from '../../lambda/core/record';
import { readLines } from '../cli/lines';

export class LabelFileError extends Error {
  public constructor(
    public readonly line: number,
    detail: string,
  ) {
    super(`--labels line ${line}: ${detail}`);
    this.name = 'LabelFileError';
  }
}

export interface Label {
  /** 1-based line number in the labels file. */
  readonly line: number;
  /** The entity key as the pipeline compares it (a string). */
  readonly key: string;
  /** Epoch ms. */
  readonly time: number;
  /** The line's fields as given, `key` and `time` included. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface SkippedLabel {
  readonly line: number;
  readonly reason: string;
  readonly label: Readonly<Record<string, unknown>>;
}

export interface LabelFile {
  /** In file order. */
  readonly labels: Label[];
  readonly skipped: SkippedLabel[];
  /** Label field names in order of first appearance (the CSV's label columns). */
  readonly fieldNames: string[];
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** One line's label, or why it is skipped. @throws LabelFileError when the line is not a labels line at all. */
export function parseLabelLine(text: string, line: number): Label | SkippedLabel {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new LabelFileError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new LabelFileError(line, `must be a JSON object {"key": ..., "time": ...}, got ${shown(doc)}`);
  const fields = doc as Record<string, unknown>;
  if (Object.hasOwn(fields, 'features')) throw new LabelFileError(line, 'has a field "features", which the row\'s features would replace; rename it');
  if (!Object.hasOwn(fields, 'key')) return { line, reason: 'key is missing', label: fields };
  let key: string;
  try {
    key = entityKey(fields.key, 'key');
  } catch (e) {
    if (e instanceof FeatureRequestError) return { line, reason: e.message, label: fields };
    throw e;
  }
  if (!Object.hasOwn(fields, 'time')) return { line, reason: 'time is missing', label: fields };
  const time = parseEventTime(fields.time);
  if (time === undefined) return { line, reason: `time must be a time (epoch milliseconds or ISO-8601), got ${shown(fields.time)}`, label: fields };
  return { line, key, time, fields };
}

export async function readLabels(path: string): Promise<LabelFile> {
  const labels: Label[] = [];
  const skipped: SkippedLabel[] = [];
  const names = new Set<string>();
  let line = 0;
  for await (const text of readLines(path)) {
    line += 1;
    if (text.trim().length === 0) continue;
    const l = parseLabelLine(text, line);
    if ('reason' in l) {
      skipped.push(l);
      continue;
    }
    labels.push(l);
    for (const name of Object.keys(l.fields)) names.add(name);
  }
  return { labels, skipped, fieldNames: [...names] };
}
