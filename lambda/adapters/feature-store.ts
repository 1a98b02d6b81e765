/**
 * The online feature store (feature table, `pk` = entity key): what models read.
 *
 * | item                 | sk                                      | holds                                          |
 * |----------------------|-----------------------------------------|------------------------------------------------|
 * | current values       | `current`                               | one map per feature: value of its newest open window, with the max event time it includes and when it was written; updated every batch |
 * | final window result  | `final#<feature>#<windowStart, padded>` | value, count, window bounds, accumulator bytes (for corrections), written at, TTL |
 * | global-window firing | `firing#<feature>#<firing number, padded>` | value, count, trigger, firedAt, written at, TTL |
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AnyAcc } from '../core/aggregates';
import type { Correction, CurrentWindow, FinalWindow, Firing } from '../core/engine';
import type { CorrectionLine, FiringLine, WindowLine } from '../core/output';
import { batchGetAll, numberAttr, numberOf, scanAll } from './dynamo-io';
import { type Item, padTime, type WriteGate } from './state-store';

const S = (s: string): AttributeValue => ({ S: s });
const N = numberAttr;
const num = (v: AttributeValue | undefined): number => numberOf(v) ?? NaN;

export function finalSortKey(feature: string, windowStart: number): string {
  return `final#${feature}#${padTime(windowStart)}`;
}

/** Firing numbers are positive integers: fixed width keeps them in order. */
export function firingSortKey(feature: string, firing: number): string {
  return `firing#${feature}#${String(firing).padStart(16, '0')}`;
}

/** The byte form of a feature's accumulator (the engine's `accBytes`). */
export type AccEncoder = (feature: string, acc: AnyAcc) => Uint8Array;

/**
 * A correction's sort key. Each correction adds one record to its window, so the window's new count names it:
 * a retry that recomputes a correction rewrites the same item, and one already folded in is not recomputed.
 */
export function correctionSortKey(feature: string, windowStart: number, count: number): string {
  return `correction#${feature}#${padTime(windowStart)}#${String(count).padStart(16, '0')}`;
}

export class FeatureStore {
  public writes = 0;
  public consumedWriteUnits = 0;

  public constructor(
    private readonly client: DynamoDBClient,
    public readonly tableName: string,
    private readonly gate?: WriteGate,
  ) {}

  /** Final windows, corrections and firings as puts: idempotent, so a retried batch writes the same items. */
  public finalRequests(
    finals: readonly FinalWindow[],
    corrections: readonly Correction[],
    writtenAt: number,
    expiresAt: number,
    encode: AccEncoder,
    firings: readonly Firing[] = [],
  ): WriteRequest[] {
    const item = (w: { feature: string; key: string; windowStart: number; windowEnd: number; acc: AnyAcc }, value: number, count: number, extra: Item): WriteRequest => ({
      PutRequest: {
        Item: {
          pk: S(w.key),
          sk: S(finalSortKey(w.feature, w.windowStart)),
          feature: S(w.feature),
          windowStart: N(w.windowStart),
          windowEnd: N(w.windowEnd),
          value: N(value),
          count: N(count),
          acc: { B: encode(w.feature, w.acc) },
          writtenAt: N(writtenAt),
          expiresAt: N(expiresAt),
          ...extra,
        },
      },
    });
    // A correction supersedes the final written in the same batch for the same window: keep the last per window.
    const byWindow = new Map<string, WriteRequest>();
    for (const f of finals) byWindow.set(`${f.key}\u0000${finalSortKey(f.feature, f.windowStart)}`, item(f, f.value, f.count, {}));
    for (const c of corrections) {
      const prev: Item = c.old ? { previousValue: N(c.old.value), previousCount: N(c.old.count) } : {};
      const through: Item = { correctedThrough: { M: Object.fromEntries(Object.entries(c.corrected).map(([shard, seq]) => [shard, S(seq)])) } };
      byWindow.set(`${c.key}\u0000${finalSortKey(c.feature, c.windowStart)}`, item(c, c.new.value, c.new.count, { ...prev, ...through, correctedAt: N(writtenAt) }));
    }
    for (const f of firings) {
      byWindow.set(`${f.key}\u0000${firingSortKey(f.feature, f.firing)}`, {
        PutRequest: {
          Item: {
            pk: S(f.key),
            sk: S(firingSortKey(f.feature, f.firing)),
            feature: S(f.feature),
            firing: N(f.firing),
            trigger: S(f.trigger),
            firedAt: N(f.firedAt),
            value: N(f.value),
            count: N(f.count),
            writtenAt: N(writtenAt),
            expiresAt: N(expiresAt),
          },
        },
      });
    }
    return [...byWindow.values()];
  }

  /**
   * latePolicy "update": one item per correction (one late record changing one final window), old and new value.
   * Written before the final results they lead to: a retry skips a late record already folded into a stored
   * final result, so its correction must be stored by then.
   */
  public correctionRequests(corrections: readonly Correction[], writtenAt: number, expiresAt: number): WriteRequest[] {
    return corrections.map((c) => ({
      PutRequest: {
        Item: {
          pk: S(c.key),
          sk: S(correctionSortKey(c.feature, c.windowStart, c.new.count)),
          feature: S(c.feature),
          windowStart: N(c.windowStart),
          windowEnd: N(c.windowEnd),
          ...(c.old ? { oldValue: N(c.old.value), oldCount: N(c.old.count) } : {}),
          newValue: N(c.new.value),
          newCount: N(c.new.count),
          writtenAt: N(writtenAt),
          expiresAt: N(expiresAt),
        },
      },
    }));
  }

  /** One UpdateItem per key per batch, setting each changed feature's current value and removing `emptied` ones. */
  public currentValueWrite(key: string, values: readonly CurrentWindow[], writtenAt: number, emptied: readonly string[] = []): () => Promise<void> {
    return async () => {
      await this.gate?.(`UpdateItem current ${key}`);
      this.writes += 1;
      const names: Record<string, string> = {};
      const vals: Record<string, AttributeValue> = {};
      const sets = values.map((v, i) => {
        names[`#f${i}`] = v.feature;
        vals[`:v${i}`] = {
          M: {
            value: N(v.value),
            count: N(v.count),
            // A global window has no bounds (−∞, +∞): they are left out.
            ...(Number.isFinite(v.windowStart) ? { windowStart: N(v.windowStart), windowEnd: N(v.windowEnd) } : {}),
            maxEventTime: N(v.maxEventTime),
            writtenAt: N(writtenAt),
          },
        };
        return `#f${i} = :v${i}`;
      });
      const res = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: S(key), sk: S('current') },
          UpdateExpression: [sets.length > 0 ? `SET ${sets.join(', ')}` : '', emptied.length > 0 ? `REMOVE ${emptied.map((_, i) => `#r${i}`).join(', ')}` : ''].join(' ').trim(),
          ExpressionAttributeNames: { ...names, ...Object.fromEntries(emptied.map((f, i) => [`#r${i}`, f])) },
          ...(sets.length > 0 ? { ExpressionAttributeValues: vals } : {}),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.consumedWriteUnits += res.ConsumedCapacity?.CapacityUnits ?? 0;
    };
  }

  /** Loads stored final results (latePolicy "update") so late records can correct them. */
  public async getFinals(
    wanted: ReadonlyArray<{ feature: string; key: string; windowStart: number }>,
  ): Promise<Array<{ feature: string; key: string; windowStart: number; acc: Uint8Array; corrected: Record<string, string> }>> {
    const uniq = new Map<string, Item>();
    for (const w of wanted) uniq.set(`${w.key}\u0000${finalSortKey(w.feature, w.windowStart)}`, { pk: S(w.key), sk: S(finalSortKey(w.feature, w.windowStart)) });
    const got = await batchGetAll(this.client, this.tableName, [...uniq.values()]);
    return got.map((it) => ({
      feature: it.feature!.S!,
      key: it.pk!.S!,
      windowStart: num(it.windowStart),
      acc: it.acc!.B!,
      corrected: Object.fromEntries(Object.entries(it.correctedThrough?.M ?? {}).map(([shard, v]) => [shard, v.S!])),
    }));
  }

  /** Every item whose sort key starts with `prefix` (exports and tests; a full scan, never on the hot path). */
  private scanPrefix(prefix: string): Promise<Item[]> {
    return scanAll(this.client, { TableName: this.tableName, FilterExpression: 'begins_with(sk, :p)', ExpressionAttributeValues: { ':p': S(prefix) }, ConsistentRead: true });
  }

  /** Reads every stored correction back (export and tests; a full scan, not for the hot path). */
  public async scanCorrections(): Promise<CorrectionLine[]> {
    return (await this.scanPrefix('correction#')).map((it) => ({
      feature: it.feature!.S!,
      key: it.pk!.S!,
      windowStart: num(it.windowStart),
      windowEnd: num(it.windowEnd),
      old: it.oldCount === undefined ? null : { value: num(it.oldValue), count: num(it.oldCount) },
      new: { value: num(it.newValue), count: num(it.newCount) },
    }));
  }

  /** Reads every final window back (export and tests; a full scan, not for the hot path). */
  public async scanFinals(): Promise<WindowLine[]> {
    return (await this.scanPrefix('final#')).map((it) => ({
      feature: it.feature!.S!,
      key: it.pk!.S!,
      windowStart: num(it.windowStart),
      windowEnd: num(it.windowEnd),
      value: num(it.value),
      count: num(it.count),
    }));
  }

  /** Reads every global-window firing back (export and tests; a full scan). */
  public async scanFirings(): Promise<FiringLine[]> {
    return (await this.scanPrefix('firing#')).map((it) => ({
      feature: it.feature!.S!,
      key: it.pk!.S!,
      firing: num(it.firing),
      trigger: it.trigger!.S! === 'count' ? 'count' : 'time',
      firedAt: num(it.firedAt),
      value: num(it.value),
      count: num(it.count),
    }));
  }
}
