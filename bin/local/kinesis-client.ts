/**
 * Kinesis client for the local tools (emulators, event source mapping, sandbox), configured from the environment
 * like the consumer's clients (lambda/adapters/aws-clients.ts). Kept out of lambda/: the consumer never calls
 * Kinesis, and loading the client would only lengthen its cold start.
 */
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { resolveClientLocation } from '../../lambda/adapters/aws-clients';

export function kinesisClient(overrides: KinesisClientConfig = {}): KinesisClient {
  const base = resolveClientLocation('KINESIS', overrides);
  return new KinesisClient({
    ...base,
    // The default handler speaks HTTP/2 to Kinesis, which fails with "Protocol error" on a plain-HTTP
    // emulator port (kinesis-local); HTTP/1.1 works everywhere.
    ...(base.endpoint?.startsWith('http://') ? { requestHandler: new NodeHttpHandler() } : {}),
    ...overrides,
  });
}
