/**
 * Kinesis client from the environment, like the others in aws-clients.ts, in a module of its own: the feature
 * consumer lists shards (splits and merges, shard-lineage.ts) and puts predictions when it scores, the idle tick
 * reads shard positions; the serving and labels functions' bundles do without it.
 */
import { KinesisClient, type KinesisClientConfig, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { resolveClientLocation } from './endpoints';

export function kinesisClient(overrides: KinesisClientConfig = {}): KinesisClient {
  const base = resolveClientLocation('KINESIS', overrides);
  return new KinesisClient({
    ...base,
    // The default handler speaks HTTP/2 to Kinesis, which fails with "Protocol error" on a plain-HTTP emulator
    // port (kinesis-local); HTTP/1.1 works everywhere.
    ...(base.endpoint?.startsWith('http://') ? { requestHandler: new NodeHttpHandler() } : {}),
    ...overrides,
  });
}

/** Every shard of the stream (open and closed), every page of ListShards. */
export async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await kinesis.send(new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token }));
    out.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return out;
}
