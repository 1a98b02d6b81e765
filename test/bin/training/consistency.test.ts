/**
 * Online/offline consistency against dynalite: key items written as the consumer writes them, served by the
 * features client with its served log on, then recomputed from the events by `npm run consistency`: no mismatch
 * while the state held every record that had arrived; a record that arrived after the write but before a served
 * time (consumer lag) shows up as mismatches of that key, with the difference it made.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { type ConsistencyReport, ServedFileError, parseServedLine } from '../../../bin/training/consistency';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import { FeatureClient, featureClientFromEnv } from '../../../lambda/adapters/feature-client';
import type { InputRecord } from '../../../lambda/core/engine';
import { parseSpec } from '../../../lambda/core/spec';
import { specDigest } from '../../../lambda/core/spec-digest';
import { Feed, specDoc } from '../../support/engine-harness';
import { SERVED_FEATURES, createStateTable, writeServedItems } from '../../support/served-items';
import { type CliRun, runCli } from '../../support/run-cli';

const T0 = Date.UTC(2026, 10, 30, 10);
const WRITTEN_AT = T0 + 40 * 60_000;
const specDocument = specDoc({ features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } });
const spec = parseSpec(specDocument);
const TABLE = 'consistency-state';
const tmp = mkdtempSync(join(tmpdir(), 'consistency-'));

let emulators: Emulators;
let dynamo: DynamoDBClient;
const records: InputRecord[] = [];
const feed = new Feed();

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  dynamo = dynamoClient();
  await createStateTable(dynamo, TABLE);
  for (let i = 0; i < 22; i++) records.push(feed.ev('fraudster', T0 + i * 104_000, { amount: 500 + i, id: `f${i}` }, { arrivalTime: T0 + i * 104_000 + 100 }));
  records.push(feed.ev('alice', T0 + 60_000, { amount: 12.5, id: 'a1' }, { arrivalTime: T0 + 60_100 }), feed.ev('alice', T0 + 1_000_000, { amount: 30, id: 'a2' }, { arrivalTime: T0 + 1_000_100 }));
  records.sort((a, b) => a.arrivalTime! - b.arrivalTime!);
  await writeServedItems(dynamo, TABLE, spec, records, WRITTEN_AT);
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await emulators?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const cli = (args: readonly string[]): Promise<CliRun> => runCli('bin/consistency.ts', args);

const eventsFile = (name: string, recs: readonly InputRecord[]): string => {
  const p = join(tmp, name);
  writeFileSync(p, recs.map((r) => `${JSON.stringify({ arrivalTime: r.arrivalTime, data: r.data })}\n`).join(''));
  return p;
};

describe('online/offline consistency', () => {
  it('the client logs what it served; recomputed from the events it matches, and consumer lag shows as mismatches', async () => {
    const lines: string[] = [];
    const client = new FeatureClient({ spec, tableName: TABLE, servedLog: { sampleRate: 1, write: (l) => lines.push(l) } });
    const times = [WRITTEN_AT, WRITTEN_AT + 1_000, WRITTEN_AT + 30 * 60_000];
    for (const at of times) await client.getFeatures(['fraudster', 'alice', 'nobody'], { at });
    expect(lines).toHaveLength(9);
    expect(JSON.parse(lines[0]!)).toEqual({ type: 'served', key: 'fraudster', at: WRITTEN_AT, features: expect.objectContaining({ txn_count_5m: expect.any(Number) }), spec: specDigest(spec) });
    const served = join(tmp, 'served.jsonl');
    writeFileSync(served, lines.map((l) => `${l}\n`).join(''));
    const specPath = join(tmp, 'spec.json');
    writeFileSync(specPath, JSON.stringify(specDocument));

    const same = await cli(['--config', specPath, '--events', eventsFile('events.jsonl', records), '--served', served]);
    expect(same.code, same.stderr).toBe(0);
    const ok = JSON.parse(same.stdout) as ConsistencyReport;
    expect(ok).toMatchObject({ ok: true, rows: 9, relativeTolerance: 1e-9, notCompared: [], otherSpec: { rows: 0, lines: [] }, specUnverified: 0 });
    for (const f of SERVED_FEATURES) expect(ok.features[f.name], f.name).toEqual({ compared: 9, mismatches: 0, mismatchShare: 0, largestDifference: null, examples: [] });

    // A payment that arrived 1 ms after the state was written: served rows after it missed it.
    const lagged = [...records, feed.ev('fraudster', WRITTEN_AT + 500, { amount: 1000, id: 'late-write' }, { arrivalTime: WRITTEN_AT + 1 })];
    const lag = await cli(['--config', specPath, '--events', eventsFile('lagged.jsonl', lagged), '--served', served]);
    // A mismatch fails the check (exit 2), so it can gate a job.
    expect(lag.code, lag.stderr).toBe(2);
    expect(lag.stderr).toBe('mismatch: 6 served values differ from the recomputation\n');
    const r = JSON.parse(lag.stdout) as ConsistencyReport;
    expect(r.ok).toBe(false);
    // fraudster at WRITTEN_AT + 1 s (line 4) and + 30 min (line 7): the 5-minute count only at + 1 s (the window at + 30 min is later).
    expect(r.features.txn_count_5m).toEqual({ compared: 9, mismatches: 1, mismatchShare: 1 / 9, largestDifference: 1, examples: [{ line: 4, key: 'fraudster', at: WRITTEN_AT + 1_000, served: 0, recomputed: 1 }] });
    expect(r.features.spend_1h_every_5m!.mismatches).toBe(2);
    expect(r.features.spend_1h_every_5m!.largestDifference).toBe(1000);
    expect(r.features.session_spend!.examples.map((e) => e.key)).toEqual(['fraudster', 'fraudster']);
  });

  it('agrees within the relative tolerance, fails on a feature never served and on rows served under another lateness or late policy', async () => {
    const specPath = join(tmp, 'spec-tol.json');
    writeFileSync(specPath, JSON.stringify(specDocument));
    const events = eventsFile('events-tol.jsonl', records);
    const lines: string[] = [];
    await new FeatureClient({ spec, tableName: TABLE, servedLog: { sampleRate: 1, write: (l) => lines.push(l) } }).getFeatures(['fraudster'], { at: WRITTEN_AT });
    const row = JSON.parse(lines[0]!) as { features: Record<string, number | null> };
    const spend = row.features.spend_1h_every_5m!;
    expect(spend).toBeGreaterThan(1000);
    const write = (name: string, rows: readonly object[]): string => {
      const p = join(tmp, name);
      writeFileSync(p, rows.map((x) => `${JSON.stringify(x)}\n`).join(''));
      return p;
    };
    // A sum rounded differently (1e-13 relative) agrees; one off by 1e-6 relative does not, unless the tolerance allows it.
    const rounded = await cli(['--config', specPath, '--events', events, '--served', write('rounded.jsonl', [{ ...row, features: { ...row.features, spend_1h_every_5m: spend * (1 + 1e-13) } }])]);
    expect(rounded.code, rounded.stderr).toBe(0);
    const off = write('off.jsonl', [{ ...row, features: { ...row.features, spend_1h_every_5m: spend * (1 + 1e-6) } }]);
    expect((await cli(['--config', specPath, '--events', events, '--served', off])).code).toBe(2);
    expect((await cli(['--config', specPath, '--events', events, '--served', off, '--tolerance', '1e-5'])).code).toBe(0);
    // A feature no row holds was not checked: the check says so and fails.
    const { session_spend: _dropped, ...fewer } = row.features;
    const missing = await cli(['--config', specPath, '--events', events, '--served', write('missing.jsonl', [{ ...row, features: fewer }])]);
    expect([missing.code, missing.stderr]).toEqual([2, 'not compared: no served row holds session_spend\n']);
    expect((JSON.parse(missing.stdout) as ConsistencyReport).notCompared).toEqual(['session_spend']);
    // The same rows checked against a spec with another allowed lateness or late policy: same values, other definitions.
    for (const changed of [{ ...specDocument, watermark: { allowedLatenessMs: 60_000, maxFutureSkewMs: 300_000 } }, { ...specDocument, latePolicy: 'drop' }]) {
      const otherPath = join(tmp, 'spec-other.json');
      writeFileSync(otherPath, JSON.stringify(changed));
      const other = await cli(['--config', otherPath, '--events', events, '--served', write('row.jsonl', [row])]);
      expect(other.code, other.stdout).toBe(2);
      expect(other.stderr).toMatch(/^other spec: 1 rows were served under other lateness, late policy or feature definitions \(lines 1, \.\.\.\)\n$/);
    }
    // A log without digests is checked, with a warning that lateness and late policy were not.
    const { spec: _digest, ...bare } = row as { spec?: string };
    const unverified = await cli(['--config', specPath, '--events', events, '--served', write('bare.jsonl', [bare])]);
    expect([unverified.code, unverified.stderr]).toEqual([0, 'warning: 1 rows carry no spec digest: their lateness and late policy are not checked\n']);
  }, 180_000);

  it('logs the sampled share of keys only, and refuses a bad sample rate', async () => {
    const lines: string[] = [];
    let n = 0;
    const client = new FeatureClient({ spec, tableName: TABLE, servedLog: { sampleRate: 0.5, write: (l) => lines.push(l), random: () => (n++ % 2 === 0 ? 0.25 : 0.75) } });
    await client.getFeatures(['fraudster', 'alice', 'nobody', 'alice'], { at: WRITTEN_AT });
    expect(lines.map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['fraudster', 'nobody']);
    expect(() => new FeatureClient({ spec, tableName: TABLE, servedLog: { sampleRate: 2 } })).toThrow('servedLog.sampleRate must be a number from 0 to 1, got 2');
  });

  it('the endpoint\'s client logs as its environment says (SERVED_SAMPLE_RATE), and refuses a bad rate by name', async () => {
    const env = { PIPELINE_SPEC: JSON.stringify(specDocument), STATE_TABLE_NAME: TABLE };
    const logged: string[] = [];
    await featureClientFromEnv({ ...env, SERVED_SAMPLE_RATE: '1' }, (l) => logged.push(l)).getFeatures(['alice'], { at: WRITTEN_AT });
    await featureClientFromEnv({ ...env, SERVED_SAMPLE_RATE: '0' }, (l) => logged.push(l)).getFeatures(['alice'], { at: WRITTEN_AT });
    expect(logged.map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['alice']);
    expect(() => featureClientFromEnv({ ...env, SERVED_SAMPLE_RATE: 'often' })).toThrow('environment variable SERVED_SAMPLE_RATE must be a number from 0 to 1, got "often"');
  });

  it('names the line of a served row it cannot read', () => {
    expect(() => parseServedLine('{"key": "a", "at": "soon", "features": {}}', 3, spec)).toThrow(new ServedFileError(3, 'at must be a time (epoch milliseconds or ISO-8601), got "soon"'));
    expect(() => parseServedLine('{"key": "a", "at": 1, "features": {"nope": 1}}', 4, spec)).toThrow('--served line 4: feature "nope" is not in the spec');
    expect(() => parseServedLine('{"key": "a", "at": 1, "features": {"txn_count_5m": "1"}}', 5, spec)).toThrow('--served line 5: features.txn_count_5m must be a number or null');
    expect(() => parseServedLine('nope', 6, spec)).toThrow(/^--served line 6: not valid JSON/);
  });
});
