/**
 * `npm run features` against key items in dynalite, as it runs against the sandbox: the endpoint from the
 * environment the sandbox prints, the spec and table named.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { dynamoClient } from '../../lambda/adapters/aws-clients';
import type { KeyFeatures } from '../../lambda/core/feature-request';
import { parseSpec } from '../../lambda/core/spec';
import { Feed, specDoc } from '../support/engine-harness';
import { SERVED_FEATURES, createStateTable, writeServedItems } from '../support/served-items';
import { type CliRun, REPO_ROOT, runCli } from '../support/run-cli';

const T0 = Date.UTC(2026, 10, 30, 10);
const TABLE = 'cli-state';
const MANY_TABLE = 'cli-state-many';
const doc = specDoc({ features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } });
const dir = mkdtempSync(join(tmpdir(), 'features-cli-'));
const specPath = join(dir, 'spec.json');

let emulators: Emulators;
let dynamo: DynamoDBClient;

const run = (args: readonly string[]): Promise<CliRun> => runCli('bin/features.ts', args, { ...process.env, ...emulators.env() });

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  dynamo = dynamoClient();
  await createStateTable(dynamo, TABLE);
  await createStateTable(dynamo, MANY_TABLE);
  writeFileSync(specPath, JSON.stringify(doc));
  const feed = new Feed();
  const records = [0, 1].map((i) => feed.ev('alice', T0 + i * 60_000, { amount: 5 * (i + 1) }, { arrivalTime: T0 + i * 60_000 + 10 }));
  await writeServedItems(dynamo, TABLE, parseSpec(doc), records, T0 + 2 * 60_000);
  const many = Array.from({ length: 100 }, (_, i) => feed.ev(`user_${i}`, T0 + i * 1_000, { amount: i }, { arrivalTime: T0 + i * 1_000 + 10 }));
  await writeServedItems(dynamo, MANY_TABLE, parseSpec(doc), many, T0 + 2 * 60_000);
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run features', () => {
  it('prints a table per key: when its state was written, its watermark, and a row per feature', async () => {
    const r = await run(['--config', specPath, '--table', TABLE, '--key', 'alice', '--key', 'bob', '--at', '2026-11-30T10:03:00Z']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 8)).toEqual([
      'as of 2026-11-30T10:03:00.000Z',
      '',
      'alice  (state written 2026-11-30T10:02:00.000Z, shard watermark 2026-11-30T10:00:30.000Z)',
      '  feature            value  count  window                                               newest event              status',
      '  txn_count_5m       2      2      2026-11-30T10:00:00.000Z – 2026-11-30T10:05:00.000Z  2026-11-30T10:01:00.000Z  present',
      '  spend_1h_every_5m  15     2      2026-11-30T09:05:00.000Z – 2026-11-30T10:05:00.000Z  2026-11-30T10:01:00.000Z  present',
      '  session_spend      15     2      2026-11-30T10:00:00.000Z – 2026-11-30T10:31:00.000Z  2026-11-30T10:01:00.000Z  present',
      '  max_amount_10m     10     2      2026-11-30T10:00:00.000Z – 2026-11-30T10:10:00.000Z  2026-11-30T10:01:00.000Z  present',
    ]);
    expect(r.stdout).toContain('bob  (no state stored: every feature reads empty)');
  });

  it('prints the client\'s JSON with --json, for the features asked, at an epoch-millisecond time', async () => {
    const r = await run(['--config', specPath, '--table', TABLE, '--key', 'alice', '--feature', 'max_amount_10m', '--at', String(T0 + 11 * 60_000), '--json', '--consistent']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { at: number; keys: KeyFeatures[] };
    expect(out.at).toBe(T0 + 11 * 60_000);
    expect(Object.keys(out.keys[0]!.features)).toEqual(['max_amount_10m']);
    expect(out.keys[0]!.features.max_amount_10m).toMatchObject({ value: null, count: 0, status: 'empty', windowStart: T0 + 10 * 60_000 });
  });

  it('writes all of its output into a pipe that reads slowly (100 keys as JSON, over 150 KB)', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => ['--key', `user_${i}`]).flat();
    const cli = [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bin/features.ts'), '--config', specPath, '--table', MANY_TABLE, '--at', String(T0 + 120_000), '--json', ...keys];
    // The reader sleeps first, so the pipe is full when the command is done: exiting then must not drop the rest.
    const out = await new Promise<string>((resolve, reject) =>
      execFile('sh', ['-c', `${cli.map((a) => `'${a}'`).join(' ')} | (sleep 2; cat)`], { cwd: REPO_ROOT, env: { ...process.env, ...emulators.env() }, maxBuffer: 1 << 26 }, (e, stdout) => (e ? reject(e) : resolve(stdout))),
    );
    expect(out.length).toBeGreaterThan(150_000);
    const parsed = JSON.parse(out) as { keys: KeyFeatures[] };
    expect(parsed.keys.map((k) => k.key)).toEqual(Array.from({ length: 100 }, (_, i) => `user_${i}`));
  }, 60_000);

  it('names what is wrong: an unknown feature, a bad time, no key, a missing table', async () => {
    const unknown = await run(['--config', specPath, '--table', TABLE, '--key', 'alice', '--feature', 'txn_count_1d']);
    expect([unknown.code, unknown.stderr.split('\n')[0]]).toEqual([1, 'error: unknown feature "txn_count_1d" (the spec defines "txn_count_5m", "spend_1h_every_5m", "session_spend", "max_amount_10m")']);
    const time = await run(['--config', specPath, '--key', 'alice', '--at', 'noon']);
    expect([time.code, time.stderr.split('\n')[0]]).toEqual([64, 'error: --at must be a time (epoch milliseconds or ISO-8601), got "noon"']);
    const none = await run(['--config', specPath]);
    expect([none.code, none.stderr.split('\n')[0]]).toEqual([64, 'error: --key is required']);
    const table = await run(['--config', specPath, '--table', 'no-such-table', '--key', 'alice']);
    expect(table.code).toBe(1);
    expect(table.stderr).toMatch(/^error: table not found \(.*\); give --table, and the endpoint in AWS_ENDPOINT_URL_DYNAMODB for the sandbox\n$/);
  });

  it('says how to reach the sandbox or AWS when there are no credentials, or nothing answers at the endpoint', async () => {
    // No credentials, no endpoint, no instance metadata to ask: as on a laptop without the sandbox's variables.
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const env = { ...bare, HOME: dir, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
    const noCreds = await runCli('bin/features.ts', ['--key', 'alice'], env);
    expect(noCreds.code).toBe(1);
    expect(noCreds.stderr).toMatch(/^error: no AWS credentials found and no local endpoint set \(AWS_ENDPOINT_URL_DYNAMODB\): to read the sandbox, start `npm start -- --follow` and export the variables it prints; to read AWS, set AWS_PROFILE/);
    const gone = await runCli('bin/features.ts', ['--key', 'alice'], { ...env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: nothing answers at http:\/\/127\.0\.0\.1:9 \(.*ECONNREFUSED.*\): is `npm start -- --follow` still running\?/);
  });
});
