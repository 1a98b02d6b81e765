/**
 * Key item codec: everything the pipeline keeps for one key — every feature's open slices, sessions or global
 * window (and, under "update", the final windows of the correction horizon), the last sequence number applied per
 * shard, the shard's newest event time when written (serving reports the watermark), the producer ids remembered
 * inline and where the key's id pages stand — in one compact byte string. The consumer stores it as one DynamoDB
 * item per key; serving and training rows read it back with `decodeKeyItem`. DynamoDB bills by item size, so the
 * layout is varints and deltas, no names:
 *
 *   format byte · shards · id pages · inline ids · features
 *
 * Each feature block starts with a fingerprint of its definition (name, window, aggregate, field, parameters) and
 * its length: a block whose feature is no longer in the spec, or whose definition changed, is skipped, so a
 * changed feature starts empty instead of being read with the wrong layout.
 */
import { ByteReader, ByteWriter, StateDecodeError } from './aggregates/bytes';
import { hash53 } from './aggregates/hash';
import type { IdMemory, IdTags } from './dedup';
import type { KeyState } from './keyed-state';
import type { Entity, FinalState, SliceEntity } from './state';
import type { FeatureRuntime } from './windows/kind';
import { SlicedWindows } from './windows/sliced';

export const KEY_ITEM_FORMAT = 1;

export interface ShardProgress {
  /** Last sequence number of this key applied from the shard. */
  readonly lastApplied: string;
  /** The shard's highest event time when the item was written (null before any). */
  readonly maxEventTime: number | null;
}

/**
 * Where a key's id pages stand: `next` numbers the next page. Pages are found by event time (their sort key starts
 * with their newest id's time), not by number; `live` is kept in the layout but no longer read.
 */
export interface IdPages {
  readonly next: number;
  readonly live: number;
  /** Newest event time in any page (−Infinity when none): pages all expire once it is past retention. */
  readonly newest: number;
}

export const NO_ID_PAGES: IdPages = { next: 0, live: 0, newest: -Infinity };

export interface DecodedKeyItem {
  /** Per feature, in spec order: its entity, when the item holds one for the feature's current definition. */
  readonly ents: (Entity | undefined)[];
  readonly shards: ReadonlyMap<string, ShardProgress>;
  readonly ids: IdMemory;
  /** Sequence-number tags of the inline ids (empty when written without). */
  readonly tags: IdTags;
  readonly idPages: IdPages;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function writeString(w: ByteWriter, s: string): void {
  const b = utf8.encode(s);
  w.uvarint(b.length);
  w.bytes(b);
}

function readString(r: ByteReader): string {
  return fromUtf8.decode(r.bytes(r.uvarint()));
}

const CANONICAL_SEQ = /^(0|[1-9][0-9]*)(\.[0-9]{10})?$/;

/**
 * A sequence number as bytes: Kinesis numbers (up to 128 decimal digits, `.<10 digits>` for a KPL sub-record) as a
 * big integer, about 2.4 digits a byte; anything else (replay line numbers are canonical too) as its text.
 */
export function writeSeq(w: ByteWriter, seq: string): void {
  const m = CANONICAL_SEQ.exec(seq);
  if (!m) {
    w.byte(0);
    writeString(w, seq);
    return;
  }
  w.byte(m[2] === undefined ? 1 : 2);
  let hex = BigInt(m[1]!).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  w.uvarint(hex.length / 2);
  for (let i = 0; i < hex.length; i += 2) w.byte(parseInt(hex.slice(i, i + 2), 16));
  if (m[2] !== undefined) w.uvarint(Number(m[2].slice(1)));
}

export function readSeq(r: ByteReader): string {
  const tag = r.byte();
  if (tag === 0) return readString(r);
  if (tag !== 1 && tag !== 2) throw new StateDecodeError(`unknown sequence number tag ${tag}`);
  const b = r.bytes(r.uvarint());
  let hex = '';
  for (const x of b) hex += x.toString(16).padStart(2, '0');
  const main = BigInt(`0x${hex === '' ? '0' : hex}`).toString(10);
  return tag === 1 ? main : `${main}.${String(r.uvarint()).padStart(10, '0')}`;
}

const fingerprints = new WeakMap<FeatureRuntime, number>();

/**
 * A feature's fingerprint: its definition, not its position, so features can be added, removed or reordered; and
 * whether it keeps final windows (latePolicy "update"), which changes its block's layout.
 */
export function featureFingerprint(f: FeatureRuntime): number {
  let fp = fingerprints.get(f);
  if (fp === undefined) {
    const { name, window, aggregate, field } = f.spec;
    // The aggregator's own parameters, at least two slots (the layout stored state was fingerprinted with).
    const params = [...f.agg.params];
    while (params.length < 2) params.push(null);
    fp = hash53(JSON.stringify([name, window, aggregate, field ?? null, ...params, keepsFinalsOf(f)])) % 0x1000000;
    fingerprints.set(f, fp);
  }
  return fp;
}

export interface EncodeKeyItem {
  readonly runtime: readonly FeatureRuntime[];
  readonly state: KeyState;
  readonly shards: ReadonlyMap<string, ShardProgress>;
  /** Inline ids to keep (already pruned and, if the key spilled a page, emptied). */
  readonly ids: IdMemory;
  readonly idPages: IdPages;
}

export function encodeKeyItem(k: EncodeKeyItem): Uint8Array {
  const w = new ByteWriter(256);
  w.byte(KEY_ITEM_FORMAT);
  const shardIndex = new Map<string, number>();
  w.uvarint(k.shards.size);
  for (const [shard, p] of k.shards) {
    shardIndex.set(shard, shardIndex.size);
    writeString(w, shard);
    writeSeq(w, p.lastApplied);
    w.num(p.maxEventTime ?? -Infinity);
  }
  w.uvarint(k.idPages.next);
  w.uvarint(k.idPages.live);
  w.num(k.idPages.newest);
  writeIds(w, k.ids, k.state.tags);
  const present = k.state.ents.filter((e) => e !== undefined).length;
  w.uvarint(present);
  const body = new ByteWriter(128);
  k.state.ents.forEach((e, fi) => {
    if (e === undefined) return;
    const f = k.runtime[fi]!;
    const b = new ByteWriter(64);
    // −∞ (nothing final yet, nothing applied) is common on fresh keys: a flag instead of nine bytes each.
    const ft = Number.isFinite(e.finalThrough);
    const mt = Number.isFinite(e.maxEventTime);
    b.byte((ft ? 1 : 0) | (mt ? 2 : 0));
    if (ft) b.num(e.finalThrough);
    if (mt) b.num(e.maxEventTime);
    b.uvarint(e.timerShard === undefined ? 0 : (shardIndex.get(e.timerShard) ?? -1) + 1);
    f.window.write(b, e);
    if (e.kind === 'slices' && keepsFinalsOf(f)) writeFinals(b, f, e.finals ?? new Map());
    const bytes = b.finish();
    body.uvarint(featureFingerprint(f));
    body.uvarint(bytes.length);
    body.bytes(bytes);
  });
  w.bytes(body.finish());
  return w.finish();
}

/**
 * Ids sorted by event time: the first time, then deltas (mostly small), each with its 7-byte hash and, when every
 * id has one, its 2-byte sequence-number tag.
 */
function writeIds(w: ByteWriter, ids: IdMemory, tags: IdTags | undefined): void {
  const sorted = [...ids].sort((a, b) => a[1] - b[1]);
  const tagged = tags !== undefined && sorted.length > 0 && sorted.every(([h]) => tags.has(h));
  w.uvarint(sorted.length);
  if (sorted.length > 0) w.byte(tagged ? 1 : 0);
  let prev = 0;
  for (const [h, t] of sorted) {
    w.num(t - prev);
    prev = t;
    writeHash(w, h);
    if (tagged) {
      const g = tags.get(h)!;
      w.byte(g % 256);
      w.byte(Math.floor(g / 256));
    }
  }
}

function readIds(r: ByteReader, into: IdMemory, tags?: IdTags): void {
  const n = r.uvarint();
  const tagged = n > 0 && r.byte() === 1;
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += r.num();
    const h = readHash(r);
    into.set(h, t);
    if (tagged) {
      const g = r.byte() + 256 * r.byte();
      tags?.set(h, g);
    }
  }
}

export function writeHash(w: ByteWriter, h: number): void {
  for (let i = 0, v = h; i < 7; i++, v = Math.floor(v / 256)) w.byte(v % 256);
}

export function readHash(r: ByteReader): number {
  let v = 0;
  for (let i = 0, scale = 1; i < 7; i++, scale *= 256) v += r.byte() * scale;
  return v;
}

/** A page of producer ids (the consumer's spill of a key's inline ids): the same layout as inline ids. */
export function encodeIdPage(ids: IdMemory, tags?: IdTags): Uint8Array {
  const w = new ByteWriter(ids.size * 11 + 8);
  writeIds(w, ids, tags);
  return w.finish();
}

export function decodeIdPage(bytes: Uint8Array, into: IdMemory, tags?: IdTags): void {
  readIds(new ByteReader(bytes), into, tags);
}

function writeFinals(w: ByteWriter, f: FeatureRuntime, finals: Map<number, FinalState>): void {
  const starts = [...finals.keys()].sort((a, b) => a - b);
  w.uvarint(starts.length);
  let prev = 0;
  for (const s of starts) {
    w.num(s - prev);
    prev = s;
    f.agg.write(w, finals.get(s)!.acc);
  }
}

function readFinals(r: ByteReader, f: FeatureRuntime, e: SliceEntity): void {
  const n = r.uvarint();
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += r.num();
    // Kept for serving only, the map is made once a window is kept (most keys have none).
    (e.finals ??= new Map()).set(s, { acc: f.agg.read(r), corrected: {} });
  }
}

/** A sliced feature that keeps fired windows (under "update", or for serving) carries them in its block. */
function keepsFinalsOf(f: FeatureRuntime): boolean {
  return f.window instanceof SlicedWindows && f.window.keepsFinals;
}

/**
 * Reads a key item. Every entity gets the key's last applied sequence number per shard: the item is written
 * whole, once per batch, so a record at or below it on its shard was handled by the delivery that wrote it.
 * @throws StateDecodeError for bytes that are not a key item of this format.
 */
export function decodeKeyItem(runtime: readonly FeatureRuntime[], key: string, bytes: Uint8Array): DecodedKeyItem {
  const r = new ByteReader(bytes);
  const format = r.byte();
  if (format !== KEY_ITEM_FORMAT) throw new StateDecodeError(`key item of ${JSON.stringify(key)} has format ${format}; this code reads format ${KEY_ITEM_FORMAT}`);
  const shards = new Map<string, ShardProgress>();
  const names: string[] = [];
  const applied = Object.create(null) as Record<string, string>;
  for (let i = r.uvarint(); i > 0; i--) {
    const shard = readString(r);
    const lastApplied = readSeq(r);
    const m = r.num();
    shards.set(shard, { lastApplied, maxEventTime: Number.isFinite(m) ? m : null });
    names.push(shard);
    applied[shard] = lastApplied;
  }
  const idPages: IdPages = { next: r.uvarint(), live: r.uvarint(), newest: r.num() };
  const ids: IdMemory = new Map();
  const tags: IdTags = new Map();
  readIds(r, ids, tags);
  const byFingerprint = new Map(runtime.map((f) => [featureFingerprint(f), f]));
  const ents = new Array<Entity | undefined>(runtime.length).fill(undefined);
  for (let i = r.uvarint(); i > 0; i--) {
    const f = byFingerprint.get(r.uvarint());
    const block = r.bytes(r.uvarint());
    if (f === undefined) continue;
    const b = new ByteReader(block);
    const e = f.window.create(f.fi, key);
    const flags = b.byte();
    e.finalThrough = flags & 1 ? b.num() : -Infinity;
    e.maxEventTime = flags & 2 ? b.num() : -Infinity;
    const ts = b.uvarint();
    e.timerShard = ts === 0 ? undefined : names[ts - 1];
    Object.assign(e.lastApplied, applied);
    f.window.read(b, e);
    if (e.kind === 'slices' && keepsFinalsOf(f)) readFinals(b, f, e);
    e.due = f.window.dueOf(e);
    ents[f.fi] = e;
  }
  if (!r.done) throw new StateDecodeError(`key item of ${JSON.stringify(key)} has ${bytes.length} bytes, more than its contents`);
  return { ents, shards, ids, tags, idPages };
}
