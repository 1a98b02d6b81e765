/**
 * Per-key state: each key's entity in every feature and its producer-id memory, found with one lookup per record.
 * Its stored form is the key item (key-item.ts).
 */
import type { IdMemory, IdTags } from './dedup';
import type { Entity } from './state';
import type { FeatureRuntime } from './windows/kind';

export interface KeyState {
  /** Per feature (spec order): its entity, once the key has one. */
  readonly ents: (Entity | undefined)[];
  /** Producer ids this key remembers (hash → event time), written back with the key. */
  ids: IdMemory | undefined;
  /** Older ids loaded from the consumer's id pages: consulted, never written back. */
  paged: IdMemory | undefined;
  /** Sequence-number tags of remembered ids, inline and paged (the consumer only). */
  tags: IdTags | undefined;
}

export class KeyedState {
  public readonly keys = new Map<string, KeyState>();

  public constructor(private readonly featureCount: number) {}

  public get(key: string): KeyState {
    let ks = this.keys.get(key);
    if (ks === undefined) {
      ks = { ents: new Array<Entity | undefined>(this.featureCount).fill(undefined), ids: undefined, paged: undefined, tags: undefined };
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
