/**
 * Region and endpoint of an AWS client from the environment (see aws-clients.ts), without importing any SDK
 * client: a function that talks to one service (the features endpoint: DynamoDB) bundles only that client.
 */

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
export function resolveClientLocation(service: 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3', overrides: { endpoint?: unknown }) {
  const endpoint = typeof overrides.endpoint === 'string' ? overrides.endpoint : endpointFor(service);
  return { region: awsRegion(), ...(endpoint !== undefined ? { endpoint } : {}) };
}
