/**
 * A window kind: how one feature assigns records to windows, when they are late, when they are due, how they fire
 * and what they read as now. The engine knows entities only through this interface (Flink's assigner / window
 * split: triggers live in triggers.ts, accumulators in aggregates/).
 */
import type { Aggregator, AnyAcc } from '../aggregates';
import type { ByteReader, ByteWriter } from '../aggregates/bytes';
import type { FeatureSpec } from '../spec';
import type { Entity } from '../state';

/** Where fired windows go: a final window of a tumbling, sliding or session feature, or a global window's firing. */
export interface FireSink {
  /** False when the sink reads each window's value at once and keeps no accumulator (a scratch one may be reused). */
  readonly retains: boolean;
  window(feature: FeatureRuntime, key: string, start: number, end: number, acc: AnyAcc): void;
  firing(feature: FeatureRuntime, key: string, n: number, trigger: 'count' | 'time', firedAt: number, acc: AnyAcc): void;
}

/** A window's value as of now: bounds and accumulator (the caller reads the value out). */
export interface OpenWindow {
  readonly start: number;
  readonly end: number;
  readonly acc: AnyAcc;
}

export interface WindowKind<E extends Entity = Entity> {
  readonly kind: E['kind'];
  /** The feature this kind serves (set once, when the engine builds its features). */
  runtime: FeatureRuntime;
  create(fi: number, key: string): E;
  /** True when a record at `t` is late for every window of the feature, given the final horizon. */
  isLate(t: number, horizon: number): boolean;
  /**
   * Adds a record's value (not late for every window), after the engine has fired what `horizon` made final.
   * `watermark` is the shard watermark after the record. Returns the entity's new due time.
   */
  add(e: E, v: number, t: number, watermark: number, out: FireSink): number;
  /** Earliest time something of the entity fires (Infinity when nothing is pending). */
  dueOf(e: E): number;
  /**
   * Fires what a watermark of `w` makes due, and drops state no open window needs. `newestArrival` is the latest
   * arrival time of any record seen (−∞ when none had one): serving never reads a window as of an earlier time,
   * so fired windows ending by then need not be kept for it.
   */
  fire(e: E, w: number, out: FireSink, newestArrival: number): void;
  /** Open slices, sessions or windows held (progress and memory checks). */
  openCount(e: E): number;
  /** The window a reader sees now: the earliest open one holding the newest event; undefined when none. */
  current(e: E): OpenWindow | undefined;
  write(w: ByteWriter, e: E): void;
  read(r: ByteReader, e: E): void;
}

/** One feature as the engine runs it. */
export interface FeatureRuntime {
  readonly fi: number;
  readonly spec: FeatureSpec;
  readonly agg: Aggregator<AnyAcc>;
  readonly window: WindowKind;
}
