/**
 * The online features endpoint: an API Gateway HTTP API or Lambda function URL event (payload format 2.0) with a
 * request body after Feast's `/get-online-features` in, the features of each key as of the request time out
 * (lambda/core/feature-request.ts). A bad request gets a 400 whose message names the field at fault.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { FeatureRequestError, featureResponse, parseFeatureRequest } from '../core/feature-request';
import { UnknownFeatureError } from '../core/serving';
import { type FeatureClient, featureClientFromEnv } from '../adapters/feature-client';

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const badRequest = (field: string, message: string): APIGatewayProxyStructuredResultV2 => json(400, { error: 'bad request', field, message });

/** The handler, reading through the client `clientOf` gives; `now` gives the request time when the body has no `at`. */
export function featuresHandler(clientOf: () => FeatureClient, now: () => number = Date.now): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const method = event.requestContext?.http?.method;
    if (method !== undefined && method !== 'POST') return json(405, { error: 'method not allowed', message: `use POST with a JSON body, not ${method}` });
    if (event.body === undefined || event.body === '') return badRequest('body', 'body is missing: send {"entities": {...}, "features": [...]}');
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return badRequest('body', `body is not valid JSON: ${(e as Error).message}`);
    }
    const client = clientOf();
    try {
      const req = parseFeatureRequest(body, client.spec);
      const at = req.at ?? now();
      const rows = await client.getFeatures(req.keys, { at, ...(req.features ? { features: req.features } : {}) });
      return json(200, featureResponse(client.spec, req.features ?? client.spec.features.map((f) => f.name), at, rows));
    } catch (e) {
      if (e instanceof FeatureRequestError) return badRequest(e.field, e.message);
      if (e instanceof UnknownFeatureError) return badRequest('features', e.message);
      throw e;
    }
  };
}

let fromEnv: FeatureClient | undefined;

/** Lambda entry point: the spec and table from the function's environment (read once, on the first request). */
export const handler = featuresHandler(() => (fromEnv ??= featureClientFromEnv()));
