/**
 * SDK v3 client factories configured from the environment, so the same code runs against the local
 * emulators, LocalStack or AWS: region from AWS_REGION, endpoint from AWS_ENDPOINT_URL_<SERVICE> or
 * AWS_ENDPOINT_URL. The SDK may resolve these variables itself; resolving them here keeps the precedence
 * explicit and lets us pick the HTTP handler from the endpoint.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const DEFAULT_REGION = 'us-east-1';

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
function resolve(service: 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3', overrides: { endpoint?: unknown }) {
  const endpoint = typeof overrides.endpoint === 'string' ? overrides.endpoint : endpointFor(service);
  return { region: awsRegion(), ...(endpoint !== undefined ? { endpoint } : {}) };
}

export function kinesisClient(overrides: KinesisClientConfig = {}): KinesisClient {
  const base = resolve('KINESIS', overrides);
  return new KinesisClient({
    ...base,
    // The default handler speaks HTTP/2 to Kinesis, which fails with "Protocol error" on a plain-HTTP
    // emulator port (kinesis-mock); HTTP/1.1 works everywhere.
    ...(base.endpoint?.startsWith('http://') ? { requestHandler: new NodeHttpHandler() } : {}),
    ...overrides,
  });
}

export function dynamoClient(overrides: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ ...resolve('DYNAMODB', overrides), ...overrides });
}

export function sqsClient(overrides: SQSClientConfig = {}): SQSClient {
  // With an explicit endpoint the SDK sends every call there rather than to the host named in the QueueUrl.
  return new SQSClient({ ...resolve('SQS', overrides), ...overrides });
}

export function s3Client(overrides: S3ClientConfig = {}): S3Client {
  const base = resolve('S3', overrides);
  return new S3Client({
    ...base,
    // An emulator on an IP address has no per-bucket host names: address buckets in the path instead.
    ...(base.endpoint !== undefined ? { forcePathStyle: true } : {}),
    ...overrides,
  });
}
