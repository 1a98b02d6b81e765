/** The features endpoint on localhost: the deployed handler behind a plain HTTP server, against dynalite. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { type FeaturesServer, startFeaturesServer } from '../../../bin/local/features-server';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import { STATE_TABLE } from '../../../lambda/contract/resources';
import { parseSpecJson } from '../../../lambda/core/spec';
import { FRAUD_SPEC_JSON } from '../../lib/fixtures';
import { createActiveTable } from '../../../bin/local/tables';

let emulators: Emulators;
let server: FeaturesServer;
let missing: FeaturesServer;
const saved = { ...process.env };

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  const dynamo = dynamoClient();
  await createActiveTable(dynamo, STATE_TABLE, 'serve-state');
  const spec = parseSpecJson(FRAUD_SPEC_JSON);
  server = await startFeaturesServer(new FeatureClient({ spec, tableName: 'serve-state', dynamo }));
  missing = await startFeaturesServer(new FeatureClient({ spec, tableName: 'no-such-table', dynamo }));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await missing?.close();
  process.env = saved;
  await emulators?.stop();
});

describe('features server', () => {
  it('answers a request as the function URL does', async () => {
    const res = await fetch(server.url, { method: 'POST', body: JSON.stringify({ entities: { user_id: ['u1', 7] }, at: 1_767_261_600_000 }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metadata: { at: string; found: boolean[] }; results: Array<{ values: unknown[] }> };
    expect(body.metadata).toMatchObject({ at: '2026-01-01T10:00:00.000Z', found: [false, false] });
    expect(body.results[0]!.values).toEqual(['u1', '7']);
  });

  it('refuses a body over 1 MB with 413 before reading it whole', async () => {
    const res = await fetch(server.url, { method: 'POST', body: 'x'.repeat(1_048_577) });
    expect(res.status).toBe(413);
  });

  it('answers a failure of the read with 502, naming no internals', async () => {
    const res = await fetch(missing.url, { method: 'POST', body: JSON.stringify({ entities: { user_id: ['u1'] } }) });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: 'internal error', message: 'ResourceNotFoundException' });
  });
});
