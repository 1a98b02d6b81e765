/**
 * Plain batch computation of final windows over a set of records, written from the semantics text and sharing no
 * code with the engine: for each feature, every window containing each record (tumbling/sliding) or sessions found
 * by sorting per key and merging while the next start is before the current end.
 */
import type { FeatureSpec } from '../../lambda/core/spec';
import type { WindowRow } from './engine-harness';

export interface RefRecord {
  readonly key: string;
  readonly time: number;
  /** Numeric payload fields, by name. */
  readonly fields: Readonly<Record<string, number>>;
}

interface Bucket {
  readonly values: number[];
}

function valueOf(f: FeatureSpec, values: readonly number[]): number {
  switch (f.aggregate) {
    case 'count':
      return values.length;
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'min':
      return values.reduce((a, b) => (b < a ? b : a));
    case 'max':
      return values.reduce((a, b) => (b > a ? b : a));
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    default:
      throw new Error(`this reference covers count, sum, min, max and avg, not ${f.aggregate}`);
  }
}

function fieldValue(f: FeatureSpec, r: RefRecord): number {
  if (f.aggregate === 'count') return 0;
  const v = r.fields[f.field!];
  if (v === undefined) throw new Error(`reference record lacks field ${f.field}`);
  return v;
}

/** Starts of every window [k·slide, k·slide + size) holding t, found by walking k down from the latest one. */
export function windowsContaining(t: number, sizeMs: number, slideMs: number): number[] {
  const starts: number[] = [];
  let k = Math.floor(t / slideMs);
  while (k * slideMs + sizeMs > t) {
    if (k * slideMs <= t) starts.push(k * slideMs);
    k -= 1;
  }
  return starts.reverse();
}

export interface Session {
  readonly start: number;
  readonly end: number;
  readonly members: readonly RefRecord[];
}

/** Sessions of one key: sort by time, merge while the next record starts before the current session's end. */
export function sessionsOf(records: readonly RefRecord[], gapMs: number): Session[] {
  const sorted = [...records].sort((a, b) => a.time - b.time);
  const out: { start: number; end: number; members: RefRecord[] }[] = [];
  for (const r of sorted) {
    const cur = out[out.length - 1];
    if (cur && r.time < cur.end) {
      cur.end = Math.max(cur.end, r.time + gapMs);
      cur.members.push(r);
    } else {
      out.push({ start: r.time, end: r.time + gapMs, members: [r] });
    }
  }
  return out;
}

export function referenceWindows(features: readonly FeatureSpec[], records: readonly RefRecord[]): WindowRow[] {
  const rows: WindowRow[] = [];
  for (const f of features) {
    if (f.window.type === 'global') throw new Error('this reference has no global windows');
    if (f.window.type === 'session') {
      const byKey = new Map<string, RefRecord[]>();
      for (const r of records) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
      for (const [key, rs] of byKey) {
        for (const s of sessionsOf(rs, f.window.gapMs)) {
          const values = s.members.map((m) => fieldValue(f, m));
          rows.push({ feature: f.name, key, windowStart: s.start, windowEnd: s.end, value: valueOf(f, values), count: values.length });
        }
      }
      continue;
    }
    const size = f.window.sizeMs;
    const slide = f.window.type === 'sliding' ? f.window.slideMs : size;
    const buckets = new Map<string, { key: string; start: number; bucket: Bucket }>();
    for (const r of records) {
      for (const start of windowsContaining(r.time, size, slide)) {
        const id = `${r.key}|${start}`;
        let b = buckets.get(id);
        if (!b) {
          b = { key: r.key, start, bucket: { values: [] } };
          buckets.set(id, b);
        }
        b.bucket.values.push(fieldValue(f, r));
      }
    }
    for (const { key, start, bucket } of buckets.values()) {
      rows.push({ feature: f.name, key, windowStart: start, windowEnd: start + size, value: valueOf(f, bucket.values), count: bucket.values.length });
    }
  }
  return rows;
}

export interface StreamRecord extends RefRecord {
  readonly shard: string;
}

export interface LatePair {
  /** Index of the record in arrival order. */
  readonly index: number;
  readonly feature: string;
  /** Shard watermark just before the record (null = −∞). */
  readonly watermark: number | null;
}

export interface StreamingReference {
  readonly windows: WindowRow[];
  readonly late: LatePair[];
  /** Records late for every feature. */
  readonly lateRecords: number;
}

/**
 * Record-by-record model of the late rules, written plainly: per shard W = max event time so far − lateness,
 * judged before each record. Tumbling/sliding: a record goes to each of its windows that ends after W (under
 * "update", to all of them), and is late when every window ends by W. Sessions: late when t + gap <= W; otherwise
 * the key's sessions ending by W are closed, and the record's [t, t + gap) absorbs every open session it overlaps.
 */
export function streamingReference(
  features: readonly FeatureSpec[],
  allowedLatenessMs: number,
  latePolicy: 'dlq' | 'drop' | 'update',
  records: readonly StreamRecord[],
): StreamingReference {
  const maxTime = new Map<string, number>();
  const late: LatePair[] = [];
  let lateRecords = 0;
  const sliceValues = new Map<string, { feature: FeatureSpec; key: string; start: number; values: number[] }>();
  const open = new Map<string, { start: number; end: number; values: number[] }[]>();
  const rows: WindowRow[] = [];
  const closeSession = (f: FeatureSpec, key: string, s: { start: number; end: number; values: number[] }): void => {
    rows.push({ feature: f.name, key, windowStart: s.start, windowEnd: s.end, value: valueOf(f, s.values), count: s.values.length });
  };

  records.forEach((r, index) => {
    const max = maxTime.get(r.shard);
    const w = max === undefined ? -Infinity : max - allowedLatenessMs;
    let lateEverywhere = true;
    for (const f of features) {
      const v = fieldValue(f, r);
      if (f.window.type === 'global') throw new Error('this reference has no global windows');
      if (f.window.type === 'session') {
        const gap = f.window.gapMs;
        if (r.time + gap <= w) {
          late.push({ index, feature: f.name, watermark: Number.isFinite(w) ? w : null });
          continue;
        }
        lateEverywhere = false;
        const id = `${f.name}|${r.key}`;
        const sessions = open.get(id) ?? [];
        const stillOpen = sessions.filter((s) => {
          if (s.end > w) return true;
          closeSession(f, r.key, s);
          return false;
        });
        const merged = { start: r.time, end: r.time + gap, values: [v] };
        const rest = stillOpen.filter((s) => {
          if (!(s.start < merged.end && r.time < s.end)) return true;
          merged.start = Math.min(merged.start, s.start);
          merged.end = Math.max(merged.end, s.end);
          merged.values.push(...s.values);
          return false;
        });
        open.set(id, [...rest, merged]);
        continue;
      }
      const size = f.window.sizeMs;
      const slide = f.window.type === 'sliding' ? f.window.slideMs : size;
      const starts = windowsContaining(r.time, size, slide);
      const openStarts = starts.filter((s) => s + size > w);
      if (openStarts.length === 0) {
        late.push({ index, feature: f.name, watermark: Number.isFinite(w) ? w : null });
        if (latePolicy !== 'update') continue;
      } else {
        lateEverywhere = false;
      }
      for (const s of latePolicy === 'update' ? starts : openStarts) {
        const id = `${f.name}|${r.key}|${s}`;
        const b = sliceValues.get(id) ?? { feature: f, key: r.key, start: s, values: [] };
        b.values.push(v);
        sliceValues.set(id, b);
      }
      if (latePolicy === 'update') lateEverywhere = false;
    }
    if (lateEverywhere) lateRecords += 1;
    if (max === undefined || r.time > max) maxTime.set(r.shard, r.time);
  });

  for (const [id, sessions] of open) {
    const f = features.find((x) => x.name === id.slice(0, id.indexOf('|')))!;
    for (const s of sessions) closeSession(f, id.slice(id.indexOf('|') + 1), s);
  }
  for (const b of sliceValues.values()) {
    const size = b.feature.window.type === 'session' || b.feature.window.type === 'global' ? 0 : b.feature.window.sizeMs;
    rows.push({ feature: b.feature.name, key: b.key, windowStart: b.start, windowEnd: b.start + size, value: valueOf(b.feature, b.values), count: b.values.length });
  }
  return { windows: rows, late, lateRecords };
}
