/**
 * S3 client from the environment, like the others in aws-clients.ts, in a module of its own: the consumer's
 * bundle loads only the clients it calls.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { resolveClientLocation } from './aws-clients';

export function s3Client(overrides: S3ClientConfig = {}): S3Client {
  const base = resolveClientLocation('S3', overrides);
  return new S3Client({
    ...base,
    // An emulator on an IP address has no per-bucket host names: address buckets in the path instead.
    ...(base.endpoint !== undefined ? { forcePathStyle: true } : {}),
    ...overrides,
  });
}
