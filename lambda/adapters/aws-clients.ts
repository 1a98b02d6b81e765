/**
 * SDK v3 client factories configured from the environment, so the same code runs against the local
 * emulators, LocalStack or AWS: region from AWS_REGION, endpoint from AWS_ENDPOINT_URL_<SERVICE> or
 * AWS_ENDPOINT_URL. The SDK may resolve these variables itself; resolving them here keeps the precedence
 * explicit and lets us pick the HTTP handler from the endpoint. The consumer never talks to Kinesis (Lambda
 * polls the stream), so the Kinesis client lives with the local tools (bin/local/kinesis-client.ts) and stays
 * out of the consumer's bundle and cold start.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

const DEFAULT_REGION = 'us-east-1';

/** What a client hook may touch of any SDK v3 client (DynamoDB, SQS, S3, ...): its middleware stack. */
export interface SdkClient {
  readonly middlewareStack: MiddlewareStack<object, MetadataBearer>;
}

/** Called with each SDK client a handler creates, before its first request (the local sandbox counts usage with it). */
export type ClientHook = (client: SdkClient) => void;

/** The client, after the hook (if any) has seen it. */
export function hooked<C extends SdkClient>(client: C, hook: ClientHook | undefined): C {
  hook?.(client);
  return client;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** Region from AWS_REGION (set by the Lambda runtime), defaulting to us-east-1. */
export function awsRegion(): string {
  return nonEmpty(process.env.AWS_REGION) ?? DEFAULT_REGION;
}

/**
 * Endpoint override for a service: the per-service variable wins over the global one, and
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true disables both, as in the SDK. Undefined means the AWS default.
 */
export function endpointFor(service: 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3'): string | undefined {
  if (process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return nonEmpty(process.env[`AWS_ENDPOINT_URL_${service}`]) ?? nonEmpty(process.env.AWS_ENDPOINT_URL);
}

/** Region and endpoint for a client; an explicit `endpoint` override is used as given. */
export function resolveClientLocation(service: 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3', overrides: { endpoint?: unknown }) {
  const endpoint = typeof overrides.endpoint === 'string' ? overrides.endpoint : endpointFor(service);
  return { region: awsRegion(), ...(endpoint !== undefined ? { endpoint } : {}) };
}

export function dynamoClient(overrides: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ ...resolveClientLocation('DYNAMODB', overrides), ...overrides });
}

export function sqsClient(overrides: SQSClientConfig = {}): SQSClient {
  // With an explicit endpoint the SDK sends every call there rather than to the host named in the QueueUrl.
  return new SQSClient({ ...resolveClientLocation('SQS', overrides), ...overrides });
}
