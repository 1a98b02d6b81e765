/**
 * The features endpoint's handler, invoked with API Gateway HTTP API and Lambda function URL events (payload
 * format 2.0) against key items in dynalite: Feast-shaped answers, and a 400 naming the field of each bad request.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import type { FeatureResponse } from '../../../lambda/core/feature-request';
import { parseSpec } from '../../../lambda/core/spec';
import { featuresHandler, handler } from '../../../lambda/handlers/features';
import { Feed, specDoc } from '../../support/engine-harness';
import { SERVED_FEATURES, createStateTable, writeServedItems } from '../../support/served-items';

const T0 = Date.UTC(2026, 10, 30, 10);
const specDocument = specDoc({ source: { keyField: 'user_id', timeField: 'ts', idField: 'id' }, features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } });
const spec = parseSpec(specDocument);
const TABLE = 'endpoint-state';
const NOW = T0 + 20 * 60_000;

let emulators: Emulators;
let dynamo: DynamoDBClient;
let client: FeatureClient;

/** An API Gateway HTTP API event (payload format 2.0). */
function httpApiEvent(body: string | undefined, method = 'POST'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /get-online-features',
    rawPath: '/get-online-features',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'api',
      http: { method, path: '/get-online-features', protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'test' },
      requestId: 'r1',
      routeKey: 'POST /get-online-features',
      stage: '$default',
      time: '30/Nov/2026:10:00:00 +0000',
      timeEpoch: NOW,
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

/** A Lambda function URL event: the same format, route `$default`, and here a base64 body (as for binary content types). */
function functionUrlEvent(body: string): APIGatewayProxyEventV2 {
  const e = httpApiEvent(Buffer.from(body, 'utf8').toString('base64'));
  return { ...e, routeKey: '$default', rawPath: '/', requestContext: { ...e.requestContext, routeKey: '$default', http: { ...e.requestContext.http, path: '/' } }, isBase64Encoded: true };
}

type Result = APIGatewayProxyStructuredResultV2 & { body: string };

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  dynamo = dynamoClient();
  await createStateTable(dynamo, TABLE);
  const feed = new Feed();
  const records = [0, 1, 2].map((i) => feed.record({ user_id: 'alice', ts: T0 + i * 60_000, amount: 10 * (i + 1), id: `a${i}` }, { arrivalTime: T0 + i * 60_000 + 50 }));
  records.push(feed.record({ user_id: 42, ts: T0 + 5 * 60_000, amount: 7, id: 'b0' }, { arrivalTime: T0 + 5 * 60_000 + 50 }));
  await writeServedItems(dynamo, TABLE, spec, records, T0 + 6 * 60_000);
  client = new FeatureClient({ spec, tableName: TABLE });
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await emulators?.stop();
});

describe('features endpoint', () => {
  const serve = featuresHandler(() => client, () => NOW);
  const call = async (event: APIGatewayProxyEventV2): Promise<Result> => (await serve(event)) as Result;

  it('answers an HTTP API event after Feast: the key column, then per feature values, statuses and event timestamps', async () => {
    const r = await call(httpApiEvent(JSON.stringify({ entities: { user_id: ['alice', 42, 'nobody'] }, features: ['txn_count_5m', 'session_spend'], at: T0 + 3 * 60_000 })));
    expect(r.statusCode).toBe(200);
    expect(r.headers).toEqual({ 'content-type': 'application/json' });
    const body = JSON.parse(r.body) as FeatureResponse;
    expect(body.metadata.feature_names).toEqual(['user_id', 'txn_count_5m', 'session_spend']);
    expect(body.metadata.at).toBe('2026-11-30T10:03:00.000Z');
    expect(body.metadata.found).toEqual([true, true, false]);
    expect(body.metadata.written_at).toEqual(['2026-11-30T10:06:00.000Z', '2026-11-30T10:06:00.000Z', null]);
    expect(body.results[0]).toEqual({ values: ['alice', '42', 'nobody'], statuses: ['PRESENT', 'PRESENT', 'NOT_FOUND'], event_timestamps: [null, null, null] });
    expect(body.results[1]).toEqual({
      values: [3, 0, 0],
      // Asked as of 10:03, the state written at 10:06: alice's count may hold records that arrived after 10:03.
      statuses: ['WRITTEN_AFTER', 'EMPTY', 'EMPTY'],
      event_timestamps: ['2026-11-30T10:02:00.000Z', null, null],
      counts: [3, 0, 0],
      window_starts: ['2026-11-30T10:00:00.000Z', '2026-11-30T10:00:00.000Z', '2026-11-30T10:00:00.000Z'],
      window_ends: ['2026-11-30T10:05:00.000Z', '2026-11-30T10:05:00.000Z', '2026-11-30T10:05:00.000Z'],
    });
    expect(body.results[2]!.values).toEqual([60, 0, 0]);
    expect(body.results[2]!.window_ends).toEqual(['2026-11-30T10:32:00.000Z', null, null]);
  });

  it('answers a function URL event with a base64 body alike, every feature and the request time by default', async () => {
    const r = await call(functionUrlEvent(JSON.stringify({ entities: { user_id: ['alice'] } })));
    expect(r.statusCode).toBe(200);
    const body = JSON.parse(r.body) as FeatureResponse;
    expect(body.metadata.feature_names).toEqual(['user_id', ...SERVED_FEATURES.map((f) => f.name)]);
    expect(body.metadata.at).toBe(new Date(NOW).toISOString());
    // At 10:20, twenty minutes after her payments: the 5-minute count is empty, the hourly spend still 60.
    expect(body.results.slice(1).map((c) => [c.values[0], c.statuses[0]])).toEqual([[0, 'EMPTY'], [60, 'PRESENT'], [60, 'PRESENT'], [null, 'EMPTY']]);
  });

  it('refuses each bad request with a 400 naming the field', async () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'body'],
      ['{"entities": ', 'body'],
      ['[1, 2]', 'body'],
      [JSON.stringify({ entities: { user_id: [] } }), 'entities.user_id'],
      [JSON.stringify({ entities: { user_id: Array.from({ length: 101 }, (_, i) => `u${i}`) } }), 'entities.user_id'],
      [JSON.stringify({ entities: { user: ['alice'] } }), 'entities.user'],
      [JSON.stringify({ entities: { user_id: ['alice', null] } }), 'entities.user_id[1]'],
      [JSON.stringify({ entities: { user_id: ['alice'] }, features: ['txn_count_5m', 'txn_count_1d'] }), 'features[1]'],
      [JSON.stringify({ entities: { user_id: ['alice'] }, at: 'tomorrow' }), 'at'],
      [JSON.stringify({ entities: { user_id: ['alice'] }, at: { t: 1 } }), 'at'],
    ];
    for (const [body, field] of cases) {
      const r = await call(httpApiEvent(body));
      expect(r.statusCode, body).toBe(400);
      const answer = JSON.parse(r.body) as { error: string; field: string; message: string };
      expect(answer.field, body).toBe(field);
      expect(answer.message.startsWith(field), answer.message).toBe(true);
    }
    const unknown = JSON.parse((await call(httpApiEvent(JSON.stringify({ entities: { user_id: ['alice'] }, features: ['txn_count_1d'] })))).body) as { message: string };
    expect(unknown.message).toBe('features[0] is not a feature of this pipeline: "txn_count_1d" (features: txn_count_5m, spend_1h_every_5m, session_spend, max_amount_10m)');
  });

  it('answers a GET with 405', async () => {
    const r = await call(httpApiEvent(undefined, 'GET'));
    expect(r.statusCode).toBe(405);
  });

  it('runs as the Lambda entry point, configured from the function environment', async () => {
    Object.assign(process.env, { PIPELINE_SPEC: JSON.stringify(specDocument), STATE_TABLE_NAME: TABLE });
    const r = (await handler(httpApiEvent(JSON.stringify({ entities: { user_id: [42] }, features: ['max_amount_10m'], at: '2026-11-30T10:05:30Z' })))) as Result;
    expect(r.statusCode).toBe(200);
    expect((JSON.parse(r.body) as FeatureResponse).results[1]!.values).toEqual([7]);
  });
});
