/**
 * The join, the window counts and the final windows' measures, driven through the pure core the way the labels
 * consumer drives it (dead letters → labels onto predictions → window counts above the checkpoint → clock →
 * finalize), with random batch cuts, crashes after any write, whole and bisected re-deliveries and repeated
 * deliveries: the end state equals the reference written directly from the rules (test/support/label-reference.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scoreBin } from '../../../lambda/core/evaluation';
import {
  type LabelRecord,
  type StoredPrediction,
  type WindowCounts,
  type WindowMetrics,
  addLabel,
  addPrediction,
  emptyCounts,
  evaluationWindowStart,
  judgeLabels,
  labelRef,
  parseLabel,
  windowDeltas,
  windowFinalAt,
  windowMetrics,
  predictionRef,
} from '../../../lambda/core/label-join';
import { type PipelineSpec, parseSpec } from '../../../lambda/core/spec';
import { MODEL, type RefLabel, SHARD, type Scenario, nearestRank, reference, scenarioArb, withinDelayBin } from '../../support/label-reference';

class Crash extends Error {}

function specOf(s: Scenario): PipelineSpec {
  return parseSpec({
    source: { keyField: 'user', timeField: 'ts' },
    watermark: { allowedLatenessMs: 0 },
    features: [{ name: 'n', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' }],
    scoring: { model: 'model.json' },
    evaluation: { windowMs: s.windowMs, labelWindowMs: s.labelWindowMs, unlabeled: s.unlabeled },
  });
}

/** The evaluation's stored state, in memory, changed one write at a time. */
class CoreEvaluation {
  public readonly preds = new Map<string, StoredPrediction>();
  public readonly windows = new Map<number, { counts: WindowCounts; lck: string; final: boolean }>();
  public readonly open = new Set<number>();
  public clock: number | null = null;
  /** Every dead letter sent, as `<seq> <reason>` (a FIFO queue keeps one of each). */
  public readonly letters = new Set<string>();
  public readonly emitted = new Map<number, WindowMetrics>();

  public constructor(
    private readonly spec: PipelineSpec,
    s: Scenario,
  ) {
    const ev = spec.evaluation!;
    for (const p of s.predictions) {
      const window = evaluationWindowStart(p.eventTime, ev.windowMs);
      this.preds.set(p.eventId, { eventId: p.eventId, key: p.key, modelVersion: MODEL, eventTime: p.eventTime, window, score: p.score, positive: p.positive });
      const w = this.windows.get(window) ?? { counts: emptyCounts(), lck: '', final: false };
      addPrediction(w.counts, { scoreBin: scoreBin(p.score), positive: p.positive, score: p.score });
      this.windows.set(window, w);
      this.open.add(window);
    }
  }

  /** One delivery; throws Crash just before write number `crashAt` (0-based). */
  public deliver(batch: readonly RefLabel[], crashAt = Infinity): void {
    const ev = this.spec.evaluation!;
    let writes = 0;
    const write = (): void => {
      if (writes++ === crashAt) throw new Crash();
    };
    const parsed = batch.map((l) => ({ l, p: parseLabel(l.payload, l.arrivalTime, this.spec) }));
    const records: LabelRecord[] = [];
    for (const { l, p } of parsed) if (p.ok) records.push({ shard: SHARD, seq: l.seq, label: p.label });
    // Loaded as the processor does: by key and event id together.
    const loaded = new Map([...this.preds.values()].map((p) => [predictionRef(p.key, p.eventId), p]));
    const { judged, clock } = judgeLabels(records, loaded, (w) => this.windows.get(w)?.final === true, this.clock, ev);
    const bySeq = new Map(judged.map((j) => [j.record.seq, j]));
    const letters: string[] = [];
    for (const { l, p } of parsed) {
      if (!p.ok) letters.push(`${l.seq} ${p.reason}`);
      else {
        const v = bySeq.get(l.seq)!.verdict;
        if (v === 'unmatched' || v === 'late' || v === 'conflicting') letters.push(`${l.seq} ${v}`);
      }
    }
    if (letters.length > 0) {
      write();
      for (const x of letters) this.letters.add(x);
    }
    const joined = judged.filter((j) => j.verdict === 'joined');
    for (const j of joined) {
      if (j.rejoined) continue;
      write();
      const p = this.preds.get(j.record.label.eventId)!;
      const ref = labelRef(j.record.shard, j.record.seq);
      if (p.label !== undefined && p.labeledBy !== ref) throw new Error('condition failed: another label joined meanwhile');
      this.preds.set(p.eventId, { ...p, label: j.record.label.label, labelTime: j.record.label.labelTime, labeledBy: ref });
    }
    const counted = joined.map((j) => ({ seq: j.record.seq, window: j.prediction!.window, label: j.record.label.label, positive: j.prediction!.positive, delayMs: j.record.label.labelTime - j.prediction!.eventTime, score: j.prediction!.score }));
    for (const d of windowDeltas(counted, (w) => this.windows.get(w)?.lck ?? '', addLabel)) {
      write();
      const w = this.windows.get(d.window)!;
      // As the store's ADD does: every count and sum of the delta onto the window's.
      // (A label adds no feature values: featureBins stays as the predictions left it.)
      const c = w.counts as unknown as Record<string, number | number[]>;
      for (const [name, v] of Object.entries(d.counts as unknown as Record<string, number | number[] | object>)) {
        if (typeof v === 'number') (c[name] as number) += v;
        else if (Array.isArray(v)) {
          const arr = c[name] as number[];
          v.forEach((n, i) => {
            while (arr.length <= i) arr.push(0);
            arr[i]! += n;
          });
        }
      }
      w.lck = d.through;
    }
    if (clock !== null && (this.clock === null || clock > this.clock)) {
      write();
      this.clock = clock;
    }
    const now = this.clock;
    const due = now === null ? [] : [...this.open].filter((w) => windowFinalAt(w, ev) <= now);
    for (const w of due) {
      const s = this.windows.get(w)!;
      if (!s.final) {
        write();
        s.final = true;
      }
      this.emitted.set(w, windowMetrics(s.counts, ev.unlabeled));
    }
    if (due.length > 0) {
      write();
      for (const w of due) this.open.delete(w);
    }
  }
}

/** Delivers `batch` as Lambda might: crashes after k writes, whole or bisected retries until it passes, repeats. */
function deliverWithFaults(sys: CoreEvaluation, batch: readonly RefLabel[], plan: readonly number[]): void {
  let i = 0;
  const next = (): number => plan[i++ % plan.length]!;
  const attempt = (b: readonly RefLabel[], depth: number): void => {
    const crashAt = next() % 12;
    try {
      // Crashes stop after three in a row: the batch passes in the end, as Lambda retries until it does.
      sys.deliver(b, crashAt < 8 && depth < 3 ? crashAt : Infinity);
    } catch (e) {
      if (!(e instanceof Crash)) throw e;
      if (b.length > 1 && depth < 3 && next() % 2 === 0) {
        const mid = Math.ceil(b.length / 2);
        attempt(b.slice(0, mid), depth + 1);
        attempt(b.slice(mid), depth + 1);
      } else {
        attempt(b, depth + 1);
      }
      return;
    }
    // At-least-once: a batch that passed may come again.
    if (next() % 5 === 0) sys.deliver(b);
  };
  attempt(batch, 0);
}

function check(s: Scenario, sys: CoreEvaluation): void {
  const ref = reference(s);
  for (const [id, p] of sys.preds) {
    const j = ref.joined.get(id);
    expect(p.label === undefined ? undefined : { label: p.label, labelTime: p.labelTime, by: p.labeledBy }, id).toEqual(j);
  }
  expect([...sys.letters].sort()).toEqual(ref.deadLetters);
  // One reason per record, whatever the retries.
  const seqs = [...sys.letters].map((x) => x.split(' ')[0]);
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(sys.clock).toBe(ref.clock);
  let labeled = 0;
  for (const w of sys.windows.values()) labeled += w.counts.truePositives + w.counts.falseNegatives + w.counts.labeledFalsePositives + w.counts.labeledTrueNegatives;
  expect(labeled).toBe(ref.joined.size);
  expect([...sys.windows].filter(([, w]) => w.final).map(([w]) => w).sort((a, b) => a - b)).toEqual([...ref.final.keys()].sort((a, b) => a - b));
  expect([...sys.emitted.keys()].sort((a, b) => a - b)).toEqual([...ref.final.keys()].sort((a, b) => a - b));
  for (const [w, r] of ref.final) {
    const m = sys.emitted.get(w)!;
    expect({ n: m.predictions, tp: m.truePositives, fp: m.falsePositives, fn: m.falseNegatives, tn: m.trueNegatives, precision: m.precision, recall: m.recall, positiveRate: m.positiveRate }, `window ${w}`).toEqual({
      n: r.predictions,
      tp: r.tp,
      fp: r.fp,
      fn: r.fn,
      tn: r.tn,
      precision: r.precision,
      recall: r.recall,
      positiveRate: r.positiveRate,
    });
    expectThresholdFree(m, s, w, ref.joined);
    if (r.delays.length === 0) {
      expect(m.labelDelayP50Ms).toBeNull();
    } else {
      expect(withinDelayBin(m.labelDelayP50Ms, nearestRank(r.delays, 0.5)), `p50 of ${w}`).toBe(true);
      expect(withinDelayBin(m.labelDelayP99Ms, nearestRank(r.delays, 0.99)), `p99 of ${w}`).toBe(true);
    }
  }
}

/**
 * Threshold-free measures and intervals of a final window, written here from their definitions over the window's
 * raw (score, label) pairs: every prediction, unlabeled ones as negatives ("negative"), or the labelled ones
 * ("unknown"). ROC AUC and PR AUC are of the scores rounded down to 0.01, as the bins keep them.
 */
function expectThresholdFree(m: WindowMetrics, s: Scenario, w: number, joined: ReadonlyMap<string, { label: boolean }>): void {
  const pairs = s.predictions
    .filter((p) => evaluationWindowStart(p.eventTime, s.windowMs) === w && (s.unlabeled === 'negative' || joined.has(p.eventId)))
    .map((p) => ({ score: p.score, label: joined.get(p.eventId)?.label ?? false, positive: p.positive }));
  const q = (x: number): number => Math.min(99, Math.floor(x * 100));
  const pos = pairs.filter((p) => p.label);
  const neg = pairs.filter((p) => !p.label);
  const n = pairs.length;
  let auc: number | null = null;
  if (pos.length > 0 && neg.length > 0) {
    let wins = 0;
    for (const a of pos) for (const b of neg) wins += q(a.score) > q(b.score) ? 1 : q(a.score) === q(b.score) ? 0.5 : 0;
    auc = wins / (pos.length * neg.length);
  }
  let ap: number | null = null;
  if (pos.length > 0) {
    ap = 0;
    let before = 0;
    for (const t of [...new Set(pairs.map((p) => q(p.score)))].sort((a, b) => b - a)) {
      const tp = pos.filter((p) => q(p.score) >= t).length;
      const fp = neg.filter((p) => q(p.score) >= t).length;
      ap += (tp / pos.length - before) * (tp / (tp + fp));
      before = tp / pos.length;
    }
  }
  const clip = (x: number): number => Math.min(1 - 1e-15, Math.max(1e-15, x));
  const logLoss = n === 0 ? null : pairs.reduce((a, p) => a - Math.log(p.label ? clip(p.score) : 1 - clip(p.score)), 0) / n;
  const brier = n === 0 ? null : pairs.reduce((a, p) => a + (p.score - (p.label ? 1 : 0)) ** 2, 0) / n;
  let ece: number | null = null;
  if (n > 0) {
    ece = 0;
    for (let r = 0; r < 10; r++) {
      const bin = pairs.filter((p) => Math.floor(q(p.score) / 10) === r);
      if (bin.length > 0) ece += (bin.length / n) * Math.abs(bin.reduce((a, p) => a + p.score, 0) / bin.length - bin.filter((p) => p.label).length / bin.length);
    }
  }
  const near = (got: number | null, want: number | null, what: string): void => {
    if (want === null) expect(got, `${what} of ${w}`).toBeNull();
    else expect(Math.abs(got! - want), `${what} of ${w}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
  };
  const t = m.thresholdFree;
  expect(t.labelled, `labelled of ${w}`).toBe(n);
  near(t.rocAuc, auc, 'ROC AUC');
  near(t.prAuc, ap, 'PR AUC');
  near(t.logLoss, logLoss, 'log loss');
  near(t.brier, brier, 'Brier');
  near(t.expectedCalibrationError, ece, 'ECE');
  // Wilson 95% intervals: (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
  const wilson = (k: number, total: number): { lower: number; upper: number } | null => {
    if (total === 0) return null;
    const z = 1.96;
    const p = k / total;
    const mid = p + (z * z) / (2 * total);
    const half = z * Math.sqrt((p * (1 - p)) / total + (z * z) / (4 * total * total));
    return { lower: Math.max(0, (mid - half) / (1 + (z * z) / total)), upper: Math.min(1, (mid + half) / (1 + (z * z) / total)) };
  };
  const cmp = (got: { lower: number; upper: number } | null, want: { lower: number; upper: number } | null, what: string): void => {
    if (want === null) expect(got, what).toBeNull();
    else {
      near(got!.lower, want.lower, `${what} lower`);
      near(got!.upper, want.upper, `${what} upper`);
    }
  };
  cmp(m.precisionInterval, wilson(m.truePositives, m.truePositives + m.falsePositives), 'precision interval');
  cmp(m.recallInterval, wilson(m.truePositives, m.truePositives + m.falseNegatives), 'recall interval');
}

describe('streaming evaluation against the reference', () => {
  it('one clean delivery per batch, any cut', () => {
    fc.assert(
      fc.property(scenarioArb(), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }), (s, sizes) => {
        const sys = new CoreEvaluation(specOf(s), s);
        let at = 0;
        for (let i = 0; at < s.labels.length; i++) {
          const n = sizes[i % sizes.length]!;
          sys.deliver(s.labels.slice(at, at + n));
          at += n;
        }
        check(s, sys);
      }),
      { numRuns: 300 },
    );
  });

  it('crashes after any write, bisected and repeated deliveries leave the same state', () => {
    fc.assert(
      fc.property(scenarioArb(), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }), fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 40 }), (s, sizes, plan) => {
        const sys = new CoreEvaluation(specOf(s), s);
        let at = 0;
        for (let i = 0; at < s.labels.length; i++) {
          const n = sizes[i % sizes.length]!;
          deliverWithFaults(sys, s.labels.slice(at, at + n), plan.slice(i % plan.length).concat(plan));
          at += n;
        }
        check(s, sys);
      }),
      { numRuns: 300 },
    );
  });

  it('the generator reaches every verdict', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const ref = reference(s);
        for (const x of ref.deadLetters) seen.add(x.split(' ')[1]!);
        if (ref.joined.size > 0) seen.add('joined');
        if (ref.duplicates > ref.deadLetters.filter((x) => x.endsWith('conflicting')).length) seen.add('duplicate');
        if (ref.final.size > 0) seen.add('final');
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual(['conflicting', 'duplicate', 'final', 'future', 'invalid', 'joined', 'late', 'unmatched']);
  });
});
