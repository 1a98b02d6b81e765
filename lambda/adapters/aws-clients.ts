/**
 * SDK v3 client factories configured from the environment, so the same code runs against the local
 * emulators, LocalStack or AWS: region from AWS_REGION, endpoint from AWS_ENDPOINT_URL_<SERVICE> or
 * AWS_ENDPOINT_URL. The SDK may resolve these variables itself; resolving them here keeps the precedence
 * explicit and lets us pick the HTTP handler from the endpoint. The Kinesis client has a module of its own
 * (kinesis-client.ts): Lambda polls the ingest stream, and only scoring puts records (to the predictions stream).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';
import { resolveClientLocation } from './endpoints';

export { awsRegion, endpointFor, resolveClientLocation } from './endpoints';

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

export function dynamoClient(overrides: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ ...resolveClientLocation('DYNAMODB', overrides), ...overrides });
}

export function sqsClient(overrides: SQSClientConfig = {}): SQSClient {
  // With an explicit endpoint the SDK sends every call there rather than to the host named in the QueueUrl.
  return new SQSClient({ ...resolveClientLocation('SQS', overrides), ...overrides });
}
