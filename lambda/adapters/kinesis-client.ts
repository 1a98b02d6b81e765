/**
 * Kinesis client from the environment, like the others in aws-clients.ts, in a module of its own: only a consumer
 * that scores puts records (to the predictions stream), so only its bundle loads it.
 */
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
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
