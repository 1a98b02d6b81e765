/**
 * Features as of a time T (docs/semantics.md §7), computed plainly from the semantics text and sharing no code with the
 * engine: the records that arrived by T are judged one by one in arrival order (§2–§4: invalid, future,
 * duplicate, late against the shard watermark before the record), each kept as a list of the records a window,
 * session or global window holds, and the value at T is computed from those lists (a Set for distinct, a sorted
 * array for percentile, scans for first and last).
 *
 * Keys are assumed to stay on one shard (the normal case: the key is the partition key), so the finality of a
 * key's windows is its shard's watermark.
 */
import type { FeatureSpec } from '../../lambda/core/spec';
import { windowsContaining } from './window-reference';

export interface RefStreamRecord {
  readonly key: string;
  readonly shard: string;
  readonly time: number;
  readonly arrival: number;
  readonly id?: string;
  /** Payload fields by name; a field that is not a finite number (or, for distinct, a string) makes it invalid. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface RefOptions {
  readonly allowedLatenessMs: number;
  readonly maxFutureSkewMs?: number;
  readonly latePolicy: 'dlq' | 'drop' | 'update';
  /** latePolicy "update": final windows ending this far behind the watermark are no longer corrected. */
  readonly correctionHorizonMs?: number;
}

interface Member {
  readonly value: number | string;
  readonly time: number;
  /** Position in arrival order (ties of first / last). */
  readonly order: number;
}

export interface RefFeature {
  readonly value: number | null;
  readonly count: number;
  readonly windowStart: number | null;
  readonly windowEnd: number | null;
  readonly newestEventTime: number | null;
  /** The window (or session) holding T was already final at the key's shard watermark. */
  readonly final: boolean;
}

function fieldOk(f: FeatureSpec, v: unknown): boolean {
  if (f.aggregate === 'distinct') return (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v));
  return typeof v === 'number' && Number.isFinite(v);
}

/** The value of a window holding `members` (docs/semantics.md §3, §6), or the empty value of §7. */
export function refValue(f: FeatureSpec, members: readonly Member[]): number | null {
  if (members.length === 0) return f.aggregate === 'count' || f.aggregate === 'sum' || f.aggregate === 'distinct' ? 0 : null;
  const nums = members.map((m) => m.value as number);
  switch (f.aggregate) {
    case 'count':
      return members.length;
    case 'sum':
      return nums.reduce((a, b) => a + b, 0);
    case 'min':
      return Math.min(...nums);
    case 'max':
      return Math.max(...nums);
    case 'avg':
      return nums.reduce((a, b) => a + b, 0) / nums.length;
    case 'distinct':
      return new Set(members.map((m) => String(m.value))).size;
    case 'percentile': {
      const sorted = [...nums].sort((a, b) => a - b);
      return sorted[Math.floor(f.percentile! * (sorted.length - 1))]!;
    }
    case 'first':
      return [...members].sort((a, b) => a.time - b.time || a.order - b.order)[0]!.value as number;
    case 'last':
      return [...members].sort((a, b) => b.time - a.time || b.order - a.order)[0]!.value as number;
  }
}

interface RefSession {
  start: number;
  end: number;
  members: Member[];
  closed: boolean;
}

interface RefGlobal {
  members: Member[];
  total: number;
  pending: number;
  due: number;
}

/** Per key, per feature name: the feature as of T, from the records with arrival ≤ T (in the order given). */
export function servingReference(features: readonly FeatureSpec[], opts: RefOptions, records: readonly RefStreamRecord[], at: number): Map<string, Map<string, RefFeature>> {
  const maxTime = new Map<string, number>();
  const shardOfKey = new Map<string, string>();
  const ids = new Map<string, Set<string>>();
  const windows = new Map<string, Member[]>();
  const sessions = new Map<string, RefSession[]>();
  const globals = new Map<string, RefGlobal>();
  const watermarkOf = (shard: string): number => {
    const m = maxTime.get(shard);
    return m === undefined ? -Infinity : m - opts.allowedLatenessMs;
  };

  records.forEach((r, order) => {
    if (r.arrival > at) return;
    if (!features.every((f) => f.aggregate === 'count' || fieldOk(f, r.fields[f.field!]))) return;
    if (opts.maxFutureSkewMs !== undefined && r.time - r.arrival > opts.maxFutureSkewMs) return;
    const w = watermarkOf(r.shard);
    maxTime.set(r.shard, Math.max(maxTime.get(r.shard) ?? -Infinity, r.time));
    const wAfter = watermarkOf(r.shard);
    shardOfKey.set(r.key, r.shard);
    if (r.id !== undefined) {
      const seen = ids.get(r.key) ?? new Set<string>();
      ids.set(r.key, seen);
      if (seen.has(r.id)) return;
      seen.add(r.id);
    }
    for (const f of features) {
      const m: Member = { value: f.aggregate === 'count' ? 0 : (r.fields[f.field!] as number | string), time: r.time, order };
      const id = `${f.name}\u0000${r.key}`;
      const win = f.window;
      if (win.type === 'tumbling' || win.type === 'sliding') {
        const slide = win.type === 'sliding' ? win.slideMs : win.sizeMs;
        for (const s of windowsContaining(r.time, win.sizeMs, slide)) {
          // Applied to the windows not final before the record; under "update" to its final ones too, back to the
          // correction horizon.
          if (s + win.sizeMs > w || (opts.latePolicy === 'update' && s + win.sizeMs > w - (opts.correctionHorizonMs ?? Infinity))) {
            const list = windows.get(`${id}\u0000${s}`) ?? [];
            list.push(m);
            windows.set(`${id}\u0000${s}`, list);
          }
        }
      } else if (win.type === 'session') {
        if (r.time + win.gapMs <= w) continue;
        const list = sessions.get(id) ?? [];
        for (const s of list) if (s.end <= w) s.closed = true;
        const merged: RefSession = { start: r.time, end: r.time + win.gapMs, members: [], closed: false };
        const rest: RefSession[] = [];
        for (const s of list) {
          if (!s.closed && s.start < merged.end && r.time < s.end) {
            merged.start = Math.min(merged.start, s.start);
            merged.end = Math.max(merged.end, s.end);
            merged.members.push(...s.members);
          } else {
            rest.push(s);
          }
        }
        merged.members.push(m);
        sessions.set(id, [...rest, merged]);
      } else {
        const g = globals.get(id) ?? { members: [], total: 0, pending: 0, due: Infinity };
        globals.set(id, g);
        const t = win.trigger;
        const fire = (): void => {
          if (t.purge) g.members = [];
          g.pending = 0;
          g.due = Infinity;
        };
        // A time trigger the watermark (after this record) reached fires before the record is taken.
        if (t.everyMs !== undefined && g.pending > 0 && wAfter >= g.due) fire();
        g.members.push(m);
        g.total += 1;
        g.pending += 1;
        if (t.everyMs !== undefined && g.pending === 1) g.due = (Math.floor(wAfter / t.everyMs) + 1) * t.everyMs;
        if (t.count !== undefined && g.total % t.count === 0) fire();
      }
    }
  });

  const out = new Map<string, Map<string, RefFeature>>();
  for (const [key, shard] of shardOfKey) {
    const w = watermarkOf(shard);
    const perKey = new Map<string, RefFeature>();
    out.set(key, perKey);
    for (const f of features) {
      const id = `${f.name}\u0000${key}`;
      const win = f.window;
      let members: Member[] = [];
      let start: number | null = null;
      let end: number | null = null;
      if (win.type === 'tumbling' || win.type === 'sliding') {
        const slide = win.type === 'sliding' ? win.slideMs : win.sizeMs;
        // The window holding T that ends soonest: the earliest-starting one.
        start = windowsContaining(at, win.sizeMs, slide)[0]!;
        end = start + win.sizeMs;
        members = windows.get(`${id}\u0000${start}`) ?? [];
      } else if (win.type === 'session') {
        const holding = (sessions.get(id) ?? []).filter((s) => s.start <= at && at < s.end).sort((a, b) => b.start - a.start)[0];
        if (holding) {
          members = holding.members;
          start = holding.start;
          end = holding.end;
        }
      } else {
        const g = globals.get(id);
        if (g) {
          // The shard watermark at T reached a pending time trigger: the window has fired.
          if (win.trigger.everyMs !== undefined && win.trigger.purge && g.pending > 0 && w >= g.due) members = [];
          else members = g.members;
        }
      }
      perKey.set(f.name, {
        value: refValue(f, members),
        count: members.length,
        windowStart: start,
        windowEnd: end,
        newestEventTime: members.length === 0 ? null : Math.max(...members.map((m) => m.time)),
        final: end !== null && win.type !== 'global' && end <= w,
      });
    }
  }
  return out;
}
