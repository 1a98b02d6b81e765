/**
 * Which shards a split or merge made, and what they take over, read from the Kinesis emulator's ListShards as the
 * consumer reads it on AWS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { createActiveStream, reshardStream } from '../../../bin/local/streams';
import { ShardLineageResolver, streamNameOfArn } from '../../../lambda/adapters/shard-lineage';
import { workerEmulators } from '../../support/worker-emulators';

const saved = { ...process.env };
let emulators: Emulators;

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
});

afterAll(async () => {
  process.env = saved;
  await emulators?.stop();
});

describe('shard lineage', () => {
  it("names a split's and a merge's parents, with the highest maximum among them, listing again only for a shard it does not know", async () => {
    const kinesis = kinesisClient();
    const streamName = 'lineage-test';
    await createActiveStream(kinesis, streamName, 1);
    const maxima = new Map<string, number | null>();
    const reads: string[] = [];
    const resolver = new ShardLineageResolver({ kinesis, streamName, parentCheckpoint: async (s) => (reads.push(s), { maxEventTime: maxima.get(s) ?? null }) });
    const root = 'shardId-000000000000';
    expect(await resolver.of([root])).toEqual(new Map());
    expect(resolver.listings).toBe(1);

    const split = await reshardStream(kinesis, streamName, 'split');
    expect(split.parents).toEqual([root]);
    expect(split.children).toHaveLength(2);
    maxima.set(root, 1000);
    const [a, b] = split.children as [string, string];
    expect(await resolver.of([a, b, root])).toEqual(new Map([[a, { parents: [root], maxEventTime: 1000, definitions: new Map() }], [b, { parents: [root], maxEventTime: 1000, definitions: new Map() }]]));
    expect(resolver.listings).toBe(2);
    // A parent's maximum is final once its children run: read once.
    expect(reads).toEqual([root]);

    maxima.set(a, 3000);
    maxima.set(b, null);
    const merge = await reshardStream(kinesis, streamName, 'merge');
    expect([...merge.parents].sort()).toEqual([a, b].sort());
    const [merged] = merge.children as [string];
    expect(await resolver.of([merged])).toEqual(new Map([[merged, { parents: merge.parents, maxEventTime: 3000, definitions: new Map() }]]));
    expect(await resolver.of([merged, a])).toHaveProperty('size', 2);
    expect(resolver.listings).toBe(3);
    // One open shard left: nothing to merge it with.
    await expect(reshardStream(kinesis, streamName, 'merge')).rejects.toThrow(`merge needs two adjacent open shards; stream ${streamName} has 1 open`);
  });

  it('reads the stream name from an event source ARN', () => {
    expect(streamNameOfArn('arn:aws:kinesis:eu-west-1:123456789012:stream/features-events')).toBe('features-events');
    expect(streamNameOfArn('not an arn')).toBeUndefined();
  });
});
