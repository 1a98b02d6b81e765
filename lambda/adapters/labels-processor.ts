/**
 * One batch of the labels stream: parse → load the predictions named (BatchGetItem), the registry and their
 * windows → verdicts in stream order → dead letters (first, so a rejected label is never lost) → labels onto their
 * predictions → counts into their windows → label clock → windows whose label window passed made final.
 *
 * Any failure throws, so Lambda retries (or bisects) the batch; every write is idempotent or conditional on what
 * was read, and a re-delivered label gets the verdict its first delivery got, so a retry counts nothing twice and
 * sends no other dead letter (FIFO deduplication drops the repeats of the same one).
 */
import { type JudgedLabel, type LabelRecord, type ParsedLabel, judgeLabels, labelRef, parseLabel } from '../core/label-join';
import type { InputRecord, Rejection } from '../core/results';
import type { PipelineSpec } from '../core/spec';
import type { DeadLetterSender } from './dead-letters';
import type { EvaluationStore, FinalEvaluationWindow } from './evaluation-store';

export interface LabelCounters {
  /** Label records received (re-deliveries included). */
  labelsIn: number;
  /** Labels joined to their prediction by this delivery. */
  joined: number;
  /** Labels an earlier delivery of the same record had joined. */
  redelivered: number;
  /** Labels counted into their window by this delivery. */
  counted: number;
  late: number;
  unmatched: number;
  invalid: number;
  future: number;
  /** Second labels of a prediction: same value (skipped) and another value (`conflicting`, dead-lettered). */
  duplicates: number;
  conflicting: number;
}

export interface LabelsOutcome {
  readonly counters: LabelCounters;
  /** Windows made final by this batch (or left open by a crash after they were marked): their measures. */
  readonly final: readonly FinalEvaluationWindow[];
  readonly deadLetters: number;
  /** Label clock after the batch (null before any label). */
  readonly clock: number | null;
  readonly writes: number;
  /** Write units the batch's updates consumed, as DynamoDB reported them. */
  readonly writeUnits: number;
  readonly conflicts: number;
}

export interface LabelsDeps {
  readonly spec: PipelineSpec;
  readonly store: EvaluationStore;
  readonly deadLetters: DeadLetterSender;
  /** Receives the windows made final before they leave the open set (the handler publishes their measures). */
  readonly onFinal?: (final: readonly FinalEvaluationWindow[]) => void | Promise<void>;
}

export class EvaluationNotConfiguredError extends Error {
  public constructor() {
    super('the spec has no evaluation section: the labels consumer needs evaluation.labelWindowMs');
    this.name = 'EvaluationNotConfiguredError';
  }
}

export async function processLabels(records: readonly InputRecord[], deps: LabelsDeps): Promise<LabelsOutcome> {
  const ev = deps.spec.evaluation;
  if (ev === undefined) throw new EvaluationNotConfiguredError();
  const { store } = deps;
  const writesBefore = store.writes;
  const unitsBefore = store.consumedWriteUnits;
  const conflictsBefore = store.conflicts;
  const sentBefore = deps.deadLetters.sent;
  const counters: LabelCounters = { labelsIn: records.length, joined: 0, redelivered: 0, counted: 0, late: 0, unmatched: 0, invalid: 0, future: 0, duplicates: 0, conflicting: 0 };

  const parsed: Array<{ record: InputRecord; parsed: ParsedLabel }> = records.map((record) => ({ record, parsed: parseLabel(record.data, record.arrivalTime, deps.spec) }));
  const valid: LabelRecord[] = [];
  for (const p of parsed) if (p.parsed.ok) valid.push({ shard: p.record.shard, seq: p.record.seq, label: p.parsed.label });

  const [registry, predictions] = await Promise.all([store.getRegistry(), store.getPredictions(valid.map((l) => l.label))]);
  const windows = await store.getWindows([...predictions.values()].map((p) => p.window));

  // Labels of one shard are judged in order; a batch holds one shard, more only when called directly.
  const byShard = new Map<string, LabelRecord[]>();
  for (const l of valid) {
    const list = byShard.get(l.shard);
    if (list) list.push(l);
    else byShard.set(l.shard, [l]);
  }
  let clock = registry.clock;
  const judgedByShard = new Map<string, { judged: JudgedLabel[]; clock: number | null }>();
  for (const [shard, list] of byShard) {
    const r = judgeLabels(list, predictions, (w) => windows.get(w)?.final === true, clock, ev);
    judgedByShard.set(shard, r);
    clock = r.clock;
  }
  const verdictOf = new Map<string, JudgedLabel>();
  for (const r of judgedByShard.values()) for (const j of r.judged) verdictOf.set(labelRef(j.record.shard, j.record.seq), j);

  const rejections: Rejection[] = [];
  // The label clock just before each record (a dead letter's watermark): the same however the batch was cut.
  let before = registry.clock;
  for (const { record, parsed: p } of parsed) {
    const base = { shard: record.shard, seq: record.seq, data: record.data, ...(record.arrivalTime === undefined ? {} : { arrivalTime: record.arrivalTime }) };
    if (!p.ok) {
      counters[p.reason] += 1;
      rejections.push({ ...base, reason: p.reason, message: p.message, watermark: before, ...(p.key === undefined ? {} : { key: p.key }), ...(p.labelTime === undefined ? {} : { eventTime: p.labelTime }) });
      continue;
    }
    const j = verdictOf.get(labelRef(record.shard, record.seq))!;
    before = before === null || p.label.labelTime > before ? p.label.labelTime : before;
    switch (j.verdict) {
      case 'joined':
        if (j.rejoined) counters.redelivered += 1;
        else counters.joined += 1;
        continue;
      case 'duplicate':
        counters.duplicates += 1;
        continue;
      case 'conflicting':
        counters.duplicates += 1;
        counters.conflicting += 1;
        break;
      case 'late':
        counters.late += 1;
        break;
      case 'unmatched':
        counters.unmatched += 1;
        break;
    }
    rejections.push({ ...base, reason: j.verdict, message: j.message, watermark: j.clockBefore, key: p.label.key, eventTime: p.label.labelTime });
  }
  if (rejections.length > 0) await deps.deadLetters.send(rejections);

  for (const [shard, r] of judgedByShard) {
    const raised = r.clock !== null && (registry.clock === null || r.clock > registry.clock) ? r.clock : null;
    counters.counted += await store.recordLabels(shard, r.judged, windows, raised);
  }
  const final = await store.finalizeWindows(deps.onFinal);
  return {
    counters,
    final,
    deadLetters: deps.deadLetters.sent - sentBefore,
    clock,
    writes: store.writes - writesBefore,
    writeUnits: store.consumedWriteUnits - unitsBefore,
    conflicts: store.conflicts - conflictsBefore,
  };
}
