/**
 * Streaming evaluation written out directly from its rules (docs/evaluation.md), sharing no code with
 * lambda/core/label-join.ts: which label joins which prediction, which are dead-lettered and why, which windows are
 * final at the end and their confusion counts, precision, recall and exact label delays. Plus a generator of
 * predictions and label streams with every case: duplicates, conflicts, late and unmatched labels, wrong keys and
 * model versions, producer retries, invalid and future records.
 */
import fc from 'fast-check';

export const T0 = Date.UTC(2026, 2, 1);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const SHARD = 'shardId-000000000001';
export const MODEL = 'v1';

export interface RefPrediction {
  readonly eventId: string;
  readonly key: string;
  readonly eventTime: number;
  readonly score: number;
  readonly positive: boolean;
}

export interface RefLabel {
  readonly seq: string;
  readonly payload: string;
  readonly arrivalTime: number;
  /** What the payload is, as generated. */
  readonly kind: 'valid' | 'invalid' | 'future';
  readonly eventId: string;
  readonly key: string;
  readonly modelVersion: string | undefined;
  readonly label: boolean;
  readonly labelTime: number;
}

export interface Scenario {
  readonly windowMs: number;
  readonly labelWindowMs: number;
  readonly unlabeled: 'negative' | 'unknown';
  readonly predictions: readonly RefPrediction[];
  readonly labels: readonly RefLabel[];
}

export interface RefWindow {
  readonly windowStart: number;
  readonly predictions: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  readonly precision: number | null;
  readonly recall: number | null;
  readonly positiveRate: number | null;
  /** Exact label delays of the joined labels, ascending. */
  readonly delays: readonly number[];
}

export interface RefOutcome {
  /** eventId → the label joined and the record (`<shard>/<seq>`) that joined it. */
  readonly joined: ReadonlyMap<string, { label: boolean; labelTime: number; by: string }>;
  /** `<seq> <reason>` of every dead letter, sorted. */
  readonly deadLetters: readonly string[];
  readonly duplicates: number;
  readonly clock: number | null;
  /** Windows final at the end, by start. */
  readonly final: ReadonlyMap<number, RefWindow>;
}

export function reference(s: Scenario): RefOutcome {
  const byId = new Map(s.predictions.map((p) => [p.eventId, p]));
  const joined = new Map<string, { label: boolean; labelTime: number; by: string }>();
  const letters: string[] = [];
  let duplicates = 0;
  let clock: number | null = null;
  const startOf = (t: number): number => t - (((t % s.windowMs) + s.windowMs) % s.windowMs);
  for (const l of s.labels) {
    if (l.kind !== 'valid') {
      letters.push(`${l.seq} ${l.kind}`);
      continue;
    }
    const p = byId.get(l.eventId);
    const before = clock;
    clock = clock === null ? l.labelTime : Math.max(clock, l.labelTime);
    if (!p || p.key !== l.key || (l.modelVersion !== undefined && l.modelVersion !== MODEL)) {
      letters.push(`${l.seq} unmatched`);
      continue;
    }
    if (l.labelTime - p.eventTime > s.labelWindowMs) {
      letters.push(`${l.seq} late`);
      continue;
    }
    const had = joined.get(l.eventId);
    if (had) {
      duplicates++;
      if (had.label !== l.label) letters.push(`${l.seq} conflicting`);
      continue;
    }
    // Its window is final once the highest label time before it reached the window's end plus the label window.
    if (before !== null && before >= startOf(p.eventTime) + s.windowMs + s.labelWindowMs) {
      letters.push(`${l.seq} late`);
      continue;
    }
    joined.set(l.eventId, { label: l.label, labelTime: l.labelTime, by: `${SHARD}/${l.seq}` });
  }
  const final = new Map<number, RefWindow>();
  const windows = new Set(s.predictions.map((p) => startOf(p.eventTime)));
  for (const w of windows) {
    if (clock === null || w + s.windowMs + s.labelWindowMs > clock) continue;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    let n = 0;
    let pos = 0;
    const delays: number[] = [];
    for (const p of s.predictions) {
      if (startOf(p.eventTime) !== w) continue;
      n++;
      if (p.positive) pos++;
      const j = joined.get(p.eventId);
      if (j) delays.push(j.labelTime - p.eventTime);
      const truth = j ? j.label : s.unlabeled === 'negative' ? false : undefined;
      if (truth === undefined) continue;
      if (truth && p.positive) tp++;
      else if (truth) fn++;
      else if (p.positive) fp++;
      else tn++;
    }
    final.set(w, {
      windowStart: w,
      predictions: n,
      tp,
      fp,
      fn,
      tn,
      precision: tp + fp === 0 ? null : tp / (tp + fp),
      recall: tp + fn === 0 ? null : tp / (tp + fn),
      positiveRate: n === 0 ? null : pos / n,
      delays: delays.sort((a, b) => a - b),
    });
  }
  return { joined, deadLetters: letters.sort(), duplicates, clock, final };
}

/** The nearest-rank q-quantile of ascending values. */
export function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A histogram quantile read as a bin's upper edge: at or above the exact value, by less than 2^(1/4); 1 s for delays up to 1 s. */
export function withinDelayBin(estimate: number | null, exact: number): boolean {
  if (estimate === null) return false;
  if (exact <= 1000) return estimate === 1000;
  return estimate >= exact && estimate < exact * 2 ** 0.25 * (1 + 1e-9);
}

/** Sequence numbers shaped like Kinesis' (56 digits), in stream order. */
export function seqOf(i: number): string {
  return (49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(i + 1)).toString();
}

type LabelDraft =
  | { t: 'label'; p: number; value: boolean; /** Percent of the label window. */ delay: number; via: 'prediction' | 'event' | 'both'; wrongKey: boolean; wrongModel: boolean }
  | { t: 'unknown'; value: boolean; at: number }
  | { t: 'retry'; of: number }
  | { t: 'invalid'; which: number }
  | { t: 'future'; p: number };

const INVALID = ['{"key": "u0", label', '[]', '{"eventId":"e0","key":"u0","label":"yes","labelTime":1}', '{"eventId":"e0","label":true,"labelTime":1}', '{"eventId":"e0","key":"u0","label":true}'];

export function scenarioArb(o: { maxPredictions?: number; maxLabels?: number } = {}): fc.Arbitrary<Scenario> {
  const maxP = o.maxPredictions ?? 24;
  const maxL = o.maxLabels ?? 60;
  return fc
    .record({
      labelWindowMs: fc.constantFrom(2 * HOUR, 6 * HOUR, DAY),
      unlabeled: fc.constantFrom('negative' as const, 'unknown' as const),
      predictions: fc.array(fc.record({ key: fc.integer({ min: 0, max: 3 }), at: fc.integer({ min: 0, max: 8 * HOUR }), score: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: maxP }),
      drafts: fc.array(
        fc.oneof(
          { weight: 10, arbitrary: fc.record({ t: fc.constant('label' as const), p: fc.nat(), value: fc.boolean(), delay: fc.integer({ min: 0, max: 110 }), via: fc.constantFrom('prediction' as const, 'event' as const, 'both' as const), wrongKey: fc.constant(false), wrongModel: fc.constant(false) }) },
          { weight: 1, arbitrary: fc.record({ t: fc.constant('label' as const), p: fc.nat(), value: fc.boolean(), delay: fc.integer({ min: 0, max: 100 }), via: fc.constant('prediction' as const), wrongKey: fc.boolean(), wrongModel: fc.boolean() }) },
          { weight: 1, arbitrary: fc.record({ t: fc.constant('unknown' as const), value: fc.boolean(), at: fc.integer({ min: 0, max: 12 * HOUR }) }) },
          { weight: 2, arbitrary: fc.record({ t: fc.constant('retry' as const), of: fc.nat() }) },
          { weight: 1, arbitrary: fc.record({ t: fc.constant('invalid' as const), which: fc.nat({ max: INVALID.length - 1 }) }) },
          { weight: 1, arbitrary: fc.record({ t: fc.constant('future' as const), p: fc.nat() }) },
        ),
        { maxLength: maxL, size: 'medium' },
      ),
    })
    .map(({ labelWindowMs, unlabeled, predictions, drafts }) => build(labelWindowMs, unlabeled, predictions, drafts as LabelDraft[]));
}

function build(labelWindowMs: number, unlabeled: 'negative' | 'unknown', raw: ReadonlyArray<{ key: number; at: number; score: number }>, drafts: readonly LabelDraft[]): Scenario {
  const predictions: RefPrediction[] = raw.map((r, i) => ({ eventId: `e${i}`, key: `u${r.key}`, eventTime: T0 + r.at, score: r.score, positive: r.score >= 0.5 }));
  const labels: RefLabel[] = [];
  const valid: RefLabel[] = [];
  for (const d of drafts) {
    const seq = seqOf(labels.length);
    if (d.t === 'invalid') {
      labels.push({ seq, payload: INVALID[d.which]!, arrivalTime: T0, kind: 'invalid', eventId: '', key: '', modelVersion: undefined, label: false, labelTime: 0 });
      continue;
    }
    if (d.t === 'retry') {
      // A producer retry: an earlier valid label's payload again, under a new sequence number.
      const of = valid[d.of % Math.max(1, valid.length)];
      if (!of) continue;
      const again = { ...of, seq };
      labels.push(again);
      continue;
    }
    let l: Omit<RefLabel, 'seq' | 'payload' | 'arrivalTime' | 'kind'>;
    let via: 'prediction' | 'event' | 'both' = 'event';
    if (d.t === 'unknown') {
      l = { eventId: `x${labels.length}`, key: 'u0', modelVersion: undefined, label: d.value, labelTime: T0 + d.at };
    } else {
      const p = predictions[d.p % predictions.length]!;
      // `delay` is a share of the label window in percent: up to 10% beyond it (late).
      const delay = d.t === 'future' ? 0 : Math.round((labelWindowMs * d.delay) / 100);
      via = d.t === 'future' ? 'event' : d.via;
      l = {
        eventId: p.eventId,
        key: d.t === 'label' && d.wrongKey ? `${p.key}-other` : p.key,
        modelVersion: via === 'event' ? undefined : d.t === 'label' && d.wrongModel ? 'v2' : MODEL,
        label: d.t === 'label' ? d.value : true,
        labelTime: p.eventTime + delay,
      };
    }
    const body: Record<string, unknown> = { key: l.key, label: l.label, labelTime: l.labelTime };
    if (via !== 'event') body.predictionId = `${l.modelVersion}:${l.eventId}`;
    if (via !== 'prediction') body.eventId = l.eventId;
    // A future label arrives an hour before its label time; the others up to an hour after it.
    const future = d.t === 'future';
    const label: RefLabel = { ...l, seq, payload: JSON.stringify(body), arrivalTime: future ? l.labelTime - HOUR : l.labelTime + (labels.length % 7) * 60_000, kind: future ? 'future' : 'valid' };
    labels.push(label);
    if (!future) valid.push(label);
  }
  return { windowMs: HOUR, labelWindowMs, unlabeled, predictions, labels };
}
