/**
 * latePolicy "update": a late record is folded into each of its final windows, and each change is emitted as a
 * correction (old and new value), so final results equal a batch computation over all records. Final windows'
 * accumulators are kept in the entity (`finals`) for this.
 */
import type { AnyAcc } from './aggregates';
import { windowStartsOf } from './assign';
import type { Correction } from './results';
import { compareSeq, type SliceEntity } from './state';
import type { FeatureRuntime } from './windows/kind';
import type { SlicedWindows } from './windows/sliced';

/** Folds a late record into its final windows ending after `beyond` (the correction horizon) and at or before `horizon`. */
export function correctFinals(f: FeatureRuntime, e: SliceEntity, shard: string, seq: string, t: number, v: number, horizon: number, beyond: number, out: Correction[]): void {
  const g = (f.window as SlicedWindows).geometry;
  const finals = e.finals!;
  const agg = f.agg;
  for (const s of windowStartsOf(g, t)) {
    if (s + g.sizeMs > horizon) break;
    if (s + g.sizeMs <= beyond) continue;
    const state = finals.get(s);
    // Shard ids are input data in replay: an own property only ("__proto__" is a shard name like any other).
    const last = state !== undefined && Object.hasOwn(state.corrected, shard) ? state.corrected[shard] : undefined;
    // Corrections are stored before the key's state: after a crash between the two, a retry finds this record
    // already folded into the window and must not fold it twice.
    if (last !== undefined && compareSeq(seq, last) <= 0) continue;
    const before: AnyAcc | undefined = state?.acc;
    let after: AnyAcc;
    if (before === undefined) after = agg.of(v, t);
    else {
      after = agg.copy(before);
      agg.add(after, v, t);
    }
    const corrected = { ...state?.corrected, [shard]: seq };
    finals.set(s, { acc: after, corrected });
    out.push({
      feature: f.spec.name,
      key: e.key,
      windowStart: s,
      windowEnd: s + g.sizeMs,
      old: before === undefined ? null : { value: agg.result(before), count: agg.count(before) },
      new: { value: agg.result(after), count: agg.count(after) },
      acc: after,
      corrected,
    });
  }
}
