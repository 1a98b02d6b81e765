/**
 * `npm run put` against a running sandbox pipeline (the emulators of this test worker, a LocalPipeline as
 * `npm start -- --follow --config SPEC` runs it): a flat file and a wrapped one go onto the stream, keyed by the
 * spec's keyField, and the features served afterwards hold them. Without a sandbox, the error says how to start one.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { readStream } from '../../../bin/local/streams';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import { parseSpecJson } from '../../../lambda/core/spec';
import { runCli } from '../../support/run-cli';
import { workerEmulators } from '../../support/worker-emulators';

const dir = mkdtempSync(join(tmpdir(), 'put-'));
const T0 = 1_796_032_800_000; // the start of an hour
const SPEC = {
  source: { keyField: 'account', timeField: 'occurred', idField: 'event_id' },
  watermark: { allowedLatenessMs: 60_000 },
  features: [
    { name: 'spend_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'sum', field: 'price' },
    { name: 'orders_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'count' },
  ],
};
const spec = parseSpecJson(JSON.stringify(SPEC));
const write = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const specPath = write('spec.json', JSON.stringify(SPEC));
const event = (account: string, minute: number, price: number) => JSON.stringify({ account, occurred: T0 + minute * 60_000, price, event_id: `${account}-${minute}` });
const flatPath = write('flat.jsonl', `${[event('a1', 1, 1), event('a2', 2, 10), event('a1', 3, 2), event('a1', 4, 3.5)].join('\n')}\n`);
const wrappedPath = write('wrapped.jsonl', `${[event('a3', 5, 7), event('a3', 6, 1)].map((data, i) => JSON.stringify({ arrivalTime: T0 + i, data })).join('\n')}\n`);

let emulators: Emulators;
let pipeline: LocalPipeline;
const saved = { ...process.env };

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  pipeline = await LocalPipeline.start({ spec, name: 'put-cli', shards: 2, maximumBatchingWindowMs: 0 });
}, 120_000);

afterAll(async () => {
  await pipeline?.stop();
  process.env = saved;
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The test's environment without any AWS setting: as a shell that never ran the sandbox's export lines. */
function bareEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(saved).filter(([k]) => !k.startsWith('AWS_')));
}

describe('npm run put', () => {
  it('puts a flat and a wrapped file onto the running stream; the served features hold every event', async () => {
    const env = { ...bareEnv(), ...emulators.env() };
    const flat = await runCli('bin/put.ts', ['--config', specPath, '--input', flatPath, '--flat', '--stream', pipeline.names.stream], env);
    expect(flat.code, flat.stderr).toBe(0);
    const summary = JSON.parse(flat.stdout) as { records: number; keys: number; stream: string; shards: Record<string, number> };
    expect(summary).toMatchObject({ records: 4, keys: 2, stream: pipeline.names.stream });
    expect(Object.values(summary.shards).reduce((a, b) => a + b, 0)).toBe(4);
    // Credentials are not needed in the environment: the emulator's placeholders are used.
    const noCredentials = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'AWS_ACCESS_KEY_ID' && k !== 'AWS_SECRET_ACCESS_KEY'));
    const wrapped = await runCli('bin/put.ts', ['--config', specPath, '--input', wrappedPath, '--stream', pipeline.names.stream], noCredentials);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    expect(JSON.parse(wrapped.stdout)).toMatchObject({ records: 2, keys: 1 });

    await pipeline.drain();
    const client = new FeatureClient({ spec, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient });
    const served = await client.getFeatures(['a1', 'a2', 'a3'], { at: T0 + 30 * 60_000, consistentRead: true });
    expect(served.map((k) => [k.key, k.features.spend_1h!.value, k.features.orders_1h!.value])).toEqual([
      ['a1', 6.5, 3],
      ['a2', 10, 1],
      ['a3', 8, 2],
    ]);
  }, 120_000);

  it('says how to start the sandbox when none is running, instead of a credentials error', async () => {
    const [noEndpoint, refused] = await Promise.all([
      runCli('bin/put.ts', ['--config', specPath, '--input', flatPath, '--flat'], bareEnv()),
      runCli('bin/put.ts', ['--config', specPath, '--input', flatPath, '--flat', '--endpoint', 'http://127.0.0.1:9'], bareEnv()),
    ]);
    expect(noEndpoint.code).toBe(64);
    expect(noEndpoint.stderr).toMatch(/^error: no Kinesis endpoint: start the sandbox with npm start -- --follow, run the export lines it prints/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error: no sandbox answers at http://127.0.0.1:9 (ECONNREFUSED): start one with npm start -- --follow and run the export lines it prints (each start picks new ports)\n');
    expect(`${noEndpoint.stderr}${refused.stderr}`).not.toMatch(/credentials/i);
  });

  it('names the stream it cannot find, and checks every line before putting any', async () => {
    const env = { ...bareEnv(), ...emulators.env() };
    // A good line first: nothing of the file may reach the stream when a later line is refused.
    const bad = write('bad.jsonl', `${JSON.stringify({ arrivalTime: T0, data: event('a9', 1, 1) })}\n{"account": "a9", "price": 2}\n`);
    const [noStream, badLine] = await Promise.all([
      runCli('bin/put.ts', ['--config', specPath, '--input', flatPath, '--flat', '--stream', 'no-such-stream'], env),
      runCli('bin/put.ts', ['--config', specPath, '--input', bad, '--stream', pipeline.names.stream], env),
    ]);
    expect(noStream.stderr).toMatch(/^error: stream "no-such-stream" does not exist at http:\/\/.*: npm start -- --follow prints the name of its stream/);
    expect(badLine.code).toBe(1);
    expect(badLine.stderr).toMatch(/^error: input line 2: .*looks like a flat event.*give --flat/);
    expect((await readStream(kinesisClient(), pipeline.names.stream)).filter((d) => d.includes('"a9"'))).toEqual([]);
  });

  it('--dry-run checks the file and shows the first record as it would go, with no sandbox', async () => {
    const r = await runCli('bin/put.ts', ['--config', specPath, '--input', flatPath, '--flat', '--dry-run'], bareEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ dryRun: true, stream: 'sandbox-events', endpoint: null, records: 4, keys: 2, first: { partitionKey: 'a1', data: event('a1', 1, 1) } });
  });
});

describe('the Node SDK example of docs/producers.md', () => {
  it('puts an event with the HTTP/1.1 handler, from the exported region and endpoint', async () => {
    const env = emulators.env();
    const kinesis = new KinesisClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_KINESIS, requestHandler: new NodeHttpHandler() });
    const event = { account: 'a4', occurred: T0 + 7 * 60_000, event_id: randomUUID(), price: 25 };
    await kinesis.send(new PutRecordCommand({ StreamName: pipeline.names.stream, PartitionKey: event.account, Data: Buffer.from(JSON.stringify(event)) }));
    kinesis.destroy();
    await pipeline.drain();
    const client = new FeatureClient({ spec, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient });
    const [served] = await client.getFeatures(['a4'], { at: T0 + 30 * 60_000, consistentRead: true });
    expect([served!.features.spend_1h!.value, served!.features.orders_1h!.value]).toEqual([25, 1]);
  }, 60_000);
});
