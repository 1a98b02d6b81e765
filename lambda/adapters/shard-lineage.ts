/**
 * Resharding (docs/semantics.md §3): a shard made by a split or merge continues its parents' watermark. Lambda
 * reads a parent to its end before its children, so when a child's batch runs, its parents' checkpoint items are
 * final: their highest event time is what the child's watermark starts from. Parents come from ListShards (once per
 * container, again for a shard it did not list); a parent's final maximum is read once and kept.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { ShardLineage } from '../core/archive';
import { type Definitions, inheritDefinitions } from '../core/coverage';
import { listShards } from './kinesis-client';

/** A parent's checkpoint as far as its children need it. */
export interface ParentCheckpoint {
  /** Its highest event time; null when it never had a valid record. */
  readonly maxEventTime: number | null;
  /** The definitions its state held (core/coverage.ts); undefined when none is recorded. */
  readonly definitions?: Definitions;
}

/** A child shard's lineage, with the definitions it takes over from its parents. */
export interface ResolvedLineage extends ShardLineage {
  readonly definitions: Definitions;
}

export interface ShardLineageOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  /** A parent's stored checkpoint item. */
  readonly parentCheckpoint: (shard: string) => Promise<ParentCheckpoint>;
}

export class ShardLineageResolver {
  /** Parents per shard id, as last listed. */
  private parents = new Map<string, readonly string[]>();
  private readonly checkpoints = new Map<string, Promise<ParentCheckpoint>>();
  private listing: Promise<void> | undefined;
  /** ListShards calls made (each may be several pages). */
  public listings = 0;

  public constructor(private readonly o: ShardLineageOptions) {}

  /** The lineage of each of the given shards that was made by a split or merge. */
  public async of(shards: readonly string[]): Promise<Map<string, ResolvedLineage>> {
    if (shards.some((s) => !this.parents.has(s))) await this.list();
    const out = new Map<string, ResolvedLineage>();
    await Promise.all(
      shards.map(async (s) => {
        // A shard ListShards does not know (gone past retention) has no parents to take over from.
        const parents = this.parents.get(s) ?? [];
        if (parents.length === 0) return;
        const read = await Promise.all(parents.map((p) => this.parentCheckpoint(p)));
        const known = read.map((c) => c.maxEventTime).filter((m): m is number => m !== null);
        out.set(s, { parents, maxEventTime: known.length === 0 ? null : Math.max(...known), definitions: inheritDefinitions(read) });
      }),
    );
    return out;
  }

  private parentCheckpoint(shard: string): Promise<ParentCheckpoint> {
    let c = this.checkpoints.get(shard);
    if (c === undefined) {
      // Shared by concurrent callers; a failed read is not kept.
      c = this.o.parentCheckpoint(shard);
      this.checkpoints.set(shard, c);
      c.catch(() => this.checkpoints.delete(shard));
    }
    return c;
  }

  private list(): Promise<void> {
    // Concurrent callers share one listing.
    this.listing ??= this.listAll().finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async listAll(): Promise<void> {
    this.listings++;
    const found = new Map<string, readonly string[]>();
    for (const s of await listShards(this.o.kinesis, this.o.streamName)) {
      if (s.ShardId !== undefined) found.set(s.ShardId, [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => p !== undefined && p !== ''));
    }
    this.parents = found;
  }
}

/** The stream name of a Kinesis event's `eventSourceARN` (`arn:aws:kinesis:<region>:<account>:stream/<name>`). */
export function streamNameOfArn(arn: string): string | undefined {
  const m = /:stream\/([^/]+)$/.exec(arn);
  return m === null ? undefined : m[1];
}
