/**
 * Output line formats (docs/replay.md), shared by the replay CLI and the local sandbox so both write identical files.
 */
import type { BatchCounters, Correction, FinalWindow, Firing, Rejection, WindowResult } from './results';

/** One line of windows.jsonl: exactly a window result. */
export type WindowLine = WindowResult;

/** One line of firings.jsonl: a global window's firing. */
export type FiringLine = Firing;

export function firingLine(f: Firing): FiringLine {
  return { feature: f.feature, key: f.key, firing: f.firing, trigger: f.trigger, firedAt: f.firedAt, value: f.value, count: f.count };
}

export interface RejectedLine {
  readonly reason: Rejection['reason'];
  readonly feature?: string;
  readonly message: string;
  /** 1-based input line of the record. */
  readonly line: number;
  readonly shard: string;
  /** Shard watermark when the record arrived (null = no record seen yet). */
  readonly watermark: number | null;
  readonly eventTime?: number;
  readonly key?: string;
  /** The full original payload (the sandbox: its first bytes only when `truncated`). */
  readonly data: string;
  /**
   * The sandbox only: the dead letter could carry only the first bytes of the payload (SQS message size), so
   * `data` holds those; `dataBytes` and `dataSha256` are the size and SHA-256 of the whole payload.
   */
  readonly truncated?: true;
  readonly dataBytes?: number;
  readonly dataSha256?: string;
}

/** One line of corrections.jsonl (latePolicy "update"): a final window changed by one late record. */
export type CorrectionLine = Omit<Correction, 'acc' | 'corrected'>;

export function correctionLine(c: CorrectionLine): CorrectionLine {
  return { feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, old: c.old, new: c.new };
}

export interface ReplaySummary {
  records: number;
  applied: number;
  late: number;
  invalid: number;
  future: number;
  duplicates: number;
  lateRecords: number;
  finalWindows: number;
  corrections: number;
  /** Global-window firings (lines of firings.jsonl). */
  firings: number;
}

export function windowLine(w: WindowResult | FinalWindow): WindowLine {
  return { feature: w.feature, key: w.key, windowStart: w.windowStart, windowEnd: w.windowEnd, value: w.value, count: w.count };
}

interface FeatureText {
  readonly json: string;
  /** Window start → the text of its bounds; many keys' windows share them. */
  readonly bounds: Map<number, { readonly end: number; readonly text: string }>;
}
const featureText = new Map<string, FeatureText>();
/** Entity key → its JSON text (keys repeat across windows and features). Bounded: cleared when full. */
const keyText = new Map<string, string>();

/**
 * The same line as `JSON.stringify(windowLine(w))`, built directly from the fields: replay writes one per final
 * window, and serializing through an intermediate object doubles the work.
 */
export function windowLineText(feature: string, key: string, windowStart: number, windowEnd: number, value: number, count: number): string {
  let f = featureText.get(feature);
  if (f === undefined) featureText.set(feature, (f = { json: JSON.stringify(feature), bounds: new Map() }));
  let b = f.bounds.get(windowStart);
  if (b === undefined || b.end !== windowEnd) {
    if (f.bounds.size >= 10_000) f.bounds.clear();
    b = { end: windowEnd, text: `,"windowStart":${windowStart},"windowEnd":${windowEnd},"value":` };
    f.bounds.set(windowStart, b);
  }
  let k = keyText.get(key);
  if (k === undefined) {
    if (keyText.size >= 100_000) keyText.clear();
    keyText.set(key, (k = JSON.stringify(key)));
  }
  // A finite number's JSON text is its string form; JSON writes the others as null.
  const v = Number.isFinite(value) ? String(value) : 'null';
  return `{"feature":${f.json},"key":${k}${b.text}${v},"count":${count}}`;
}

export function payloadText(data: string | Uint8Array): string {
  return typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
}

export function rejectedLine(r: Rejection, line: number): RejectedLine {
  return {
    reason: r.reason,
    ...(r.feature === undefined ? {} : { feature: r.feature }),
    message: r.message,
    line,
    shard: r.shard,
    watermark: r.watermark,
    ...(r.eventTime === undefined ? {} : { eventTime: r.eventTime }),
    ...(r.key === undefined ? {} : { key: r.key }),
    data: payloadText(r.data),
  };
}

export function emptySummary(): ReplaySummary {
  return { records: 0, applied: 0, late: 0, invalid: 0, future: 0, duplicates: 0, lateRecords: 0, finalWindows: 0, corrections: 0, firings: 0 };
}

export function addCounters(s: ReplaySummary, c: BatchCounters): void {
  s.records += c.records;
  s.applied += c.applied;
  s.late += c.late;
  s.invalid += c.invalid;
  s.future += c.future;
  s.duplicates += c.duplicates;
  s.lateRecords += c.lateRecords;
  s.finalWindows += c.finalWindows;
  s.corrections += c.corrections;
  s.firings += c.firings;
}

/** Stable identity of a window, for corrections and comparisons. */
export function windowId(w: { feature: string; key: string; windowStart: number }): string {
  return `${w.feature}\u0000${w.key}\u0000${w.windowStart}`;
}
