/**
 * The replay's batch loop (docs/replay.md), shared by `npm run replay` and the backfill's partition workers
 * (core/backfill.ts): batches in, final windows, rejections, corrections and firings out through a sink. Windows
 * are written as a set (order unspecified), so they fire in sweeps rather than batch by batch; under latePolicy
 * "update" a final window may still change, so windows go out once, at the end, with their last value.
 */
import { type BatchResult, WindowEngine } from './engine';
import { type ReplaySummary, type WindowLine, addCounters, correctionLine, emptySummary, firingLine, rejectedLine, windowId, windowLine, windowLineText } from './output';
import type { Correction, Firing, InputRecord, Rejection } from './results';
import type { PipelineSpec } from './spec';

/** Batches between sweeps that fire due windows and drop idle keys. */
export const SWEEP_EVERY = 16;

export interface ReplaySink {
  window(feature: string, key: string, start: number, end: number, value: number, count: number): void;
  rejected(r: Rejection): void;
  correction(c: Correction): void;
  firing(f: Firing): void;
  /** A shard watermark after a batch (finite ones only). */
  watermark?(w: number): void;
}

/** The replay's output files as lines of text, in memory. */
export interface ReplayLines {
  readonly windows: string[];
  readonly rejected: string[];
  readonly corrections: string[];
  readonly firings: string[];
}

/** A sink collecting the lines the replay would write (each record's line number is its sequence number). */
export function lineSink(): { sink: ReplaySink; lines: ReplayLines } {
  const lines: ReplayLines = { windows: [], rejected: [], corrections: [], firings: [] };
  const sink: ReplaySink = {
    window: (feature, key, start, end, value, count) => lines.windows.push(windowLineText(feature, key, start, end, value, count)),
    rejected: (r) => lines.rejected.push(JSON.stringify(rejectedLine(r, Number(r.seq)))),
    correction: (c) => lines.corrections.push(JSON.stringify(correctionLine(c))),
    firing: (f) => lines.firings.push(JSON.stringify(firingLine(f))),
  };
  return { sink, lines };
}

export class ReplayLoop {
  public readonly engine: WindowEngine;
  public readonly summary: ReplaySummary = emptySummary();
  private readonly held: Map<string, WindowLine> | undefined;
  private batches = 0;

  public constructor(
    spec: PipelineSpec,
    private readonly sink: ReplaySink,
  ) {
    const update = spec.latePolicy === 'update';
    this.engine = new WindowEngine(spec, {
      trackChanges: false,
      fireAtBatchEnd: false,
      ...(update ? {} : { onFinal: (feature, key, start, end, value, count) => sink.window(feature, key, start, end, value, count) }),
    });
    this.held = update ? new Map() : undefined;
  }

  /** One batch in arrival order; every SWEEP_EVERY batches, a sweep (open state stays bounded by what it leaves). */
  public batch(records: readonly InputRecord[]): void {
    this.emit(this.engine.processBatch(records));
    if (++this.batches % SWEEP_EVERY === 0) {
      this.emit(this.engine.fireAllDue());
      this.engine.evictIdle();
    }
  }

  /** End of the input: every window is final; under "update" the held windows go out now. */
  public finish(): ReplaySummary {
    this.emit(this.engine.flush());
    if (this.held) {
      // A window that only late records made exists only as corrections: it is final too.
      this.summary.finalWindows = this.held.size;
      for (const w of this.held.values()) this.sink.window(w.feature, w.key, w.windowStart, w.windowEnd, w.value, w.count);
      this.held.clear();
    }
    return this.summary;
  }

  private emit(result: BatchResult): void {
    addCounters(this.summary, result.counters);
    const held = this.held;
    for (const f of result.finals) held?.set(windowId(f), windowLine(f));
    for (const c of result.corrections) {
      held?.set(windowId(c), { feature: c.feature, key: c.key, windowStart: c.windowStart, windowEnd: c.windowEnd, ...c.new });
      this.sink.correction(c);
    }
    for (const r of result.rejected) this.sink.rejected(r);
    if (this.sink.watermark) for (const w of Object.values(result.watermarks)) if (w !== null) this.sink.watermark(w);
    for (const f of result.firings) this.sink.firing(f);
  }
}
