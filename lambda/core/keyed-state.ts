/**
 * Per-key state: each key's entity in every feature and its producer-id memory, found with one lookup per record.
 * Serialization of an entity to and from its stored form lives here too.
 */
import { ByteReader, ByteWriter, fromBase64, toBase64 } from './aggregates/bytes';
import type { Entity, SeenId, SerializedEntity } from './state';
import type { FeatureRuntime } from './windows/kind';

export interface KeyState {
  /** Per feature (spec order): its entity, once the key has one. */
  readonly ents: (Entity | undefined)[];
  ids: Map<string, SeenId> | undefined;
}

export class KeyedState {
  public readonly keys = new Map<string, KeyState>();

  public constructor(private readonly featureCount: number) {}

  public get(key: string): KeyState {
    let ks = this.keys.get(key);
    if (ks === undefined) {
      ks = { ents: new Array<Entity | undefined>(this.featureCount).fill(undefined), ids: undefined };
      this.keys.set(key, ks);
    }
    return ks;
  }

  public entity(fi: number, key: string): Entity | undefined {
    return this.keys.get(key)?.ents[fi];
  }

  public *entities(): Iterable<Entity> {
    for (const ks of this.keys.values()) for (const e of ks.ents) if (e !== undefined) yield e;
  }

  /**
   * Drops entities with nothing open (replay keeps memory to the open windows), once every shard's watermark has
   * reached the entity's final horizon (`lowestWatermark`): any record of the key is then judged the same without
   * it, whichever shard it comes from.
   */
  public evictIdle(runtime: readonly FeatureRuntime[], lowestWatermark: number): void {
    for (const [key, ks] of this.keys) {
      let left = 0;
      ks.ents.forEach((e, fi) => {
        if (!e) return;
        const f = runtime[fi]!;
        // Keys seen on several shards keep their final horizon; a global window keeps its firing count.
        if (f.window.openCount(e) === 0 && Object.keys(e.lastApplied).length <= 1 && e.kind !== 'global' && e.finalThrough <= lowestWatermark) {
          e.timerShard = undefined; // its pending timer entries become stale
          ks.ents[fi] = undefined;
        } else {
          left += 1;
        }
      });
      if (left === 0 && ks.ids === undefined) this.keys.delete(key);
    }
  }

  public stats(runtime: readonly FeatureRuntime[]): { entities: number; openSlices: number; openSessions: number; rememberedIds: number } {
    let openSlices = 0;
    let openSessions = 0;
    let entities = 0;
    let rememberedIds = 0;
    for (const ks of this.keys.values()) {
      rememberedIds += ks.ids?.size ?? 0;
      ks.ents.forEach((e, fi) => {
        if (!e) return;
        entities += 1;
        const open = runtime[fi]!.window.openCount(e);
        if (e.kind === 'sessions') openSessions += open;
        else openSlices += open;
      });
    }
    return { entities, openSlices, openSessions, rememberedIds };
  }
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function serializeEntity(f: FeatureRuntime, e: Entity): SerializedEntity {
  const w = new ByteWriter();
  f.window.write(w, e);
  return {
    kind: e.kind,
    finalThrough: finite(e.finalThrough),
    lastApplied: e.lastApplied,
    maxEventTime: finite(e.maxEventTime),
    ...(e.timerShard === undefined ? {} : { timerShard: e.timerShard }),
    windows: toBase64(w.finish()),
  };
}

export function deserializeEntity(f: FeatureRuntime, key: string, s: SerializedEntity): Entity {
  if (s.kind !== f.window.kind) throw new RangeError(`stored state of ${f.spec.name} for key ${JSON.stringify(key)} is of kind "${s.kind}", the spec's window is "${f.window.kind}"`);
  const e = f.window.create(f.fi, key);
  e.finalThrough = s.finalThrough ?? -Infinity;
  // Keyed by shard id: no prototype, so a shard named "__proto__" is stored and read like any other.
  e.lastApplied = Object.assign(Object.create(null) as Record<string, string>, s.lastApplied);
  e.maxEventTime = s.maxEventTime ?? -Infinity;
  e.timerShard = s.timerShard;
  f.window.read(new ByteReader(fromBase64(s.windows)), e);
  return e;
}
