/**
 * `npm run cost` as a process: a file run's summary.json priced at each rate (the JSON equal to the model's
 * figures), and bad input refused with a named error and exit code, never a stack trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { costPerMillion } from '../../../bin/cost/model';
import { emptyUsage } from '../../../bin/local/usage';
import { type CliRun, runCli } from '../../support/run-cli';

const dir = mkdtempSync(join(tmpdir(), 'cost-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: readonly string[]): Promise<CliRun> => runCli('bin/cost.ts', args);

const usage = { ...emptyUsage(), invocations: 4, consumerMs: 8000, dynamodbWriteRequests: 900, dynamodbWriteUnits: 3000, dynamodbReadRequests: 20, dynamodbReadUnits: 1200, kinesisRecordsPut: 2000, kinesisBytesPut: 170_000, kinesisBytesRead: 170_000, kinesisPutPayloadUnits: 2000, kinesisBilledKbPut: 2000 };
const good = join(dir, 'summary.json');
writeFileSync(good, JSON.stringify({ records: 2000, applied: 1980, usage }));

describe('npm run cost', () => {
  it('prices a file run at each rate, naming the region, the price date and the unconfirmed prices', async () => {
    const r = await run(['--summary', good, '--rates', '10,1000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('list prices of 2026-11-30, us-east-1');
    expect(r.stdout).toMatch(/DynamoDB writes +\$0\.94 +\$0\.94/); // 1,500 WRU per thousand events: 1.5 million at $0.625
    expect(r.stdout).toMatch(/unconfirmed price: \$0\.04 per stream-hour/);
  });

  it('prices a run with scoring and labels, and features endpoint reads by their requests', async () => {
    const scored = { ...usage, predictionRecordsPut: 2000, predictionBytesPut: 1_600_000, predictionPutPayloadUnits: 2000, predictionBilledKbPut: 2000, dynamodbPredictionsWriteUnits: 2100 };
    const labels = { ...emptyUsage(), invocations: 2, consumerMs: 900, dynamodbWriteUnits: 120, dynamodbReadUnits: 60, kinesisRecordsPut: 100, kinesisBytesPut: 9000, kinesisPutPayloadUnits: 100, kinesisBilledKbPut: 100 };
    const file = join(dir, 'scored.json');
    writeFileSync(file, JSON.stringify({ records: 2000, applied: 2000, usage: scored, labels: { records: 100, usage: labels } }));
    const r = await run(['--summary', file, '--rates', '100', '--serving-reads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('scoring: 2000 predictions put, predictions table 2100 write units, 0 read units; labels: 100 put, 2 invocations, 120 write units, 60 read units');
    expect(r.stdout).toMatch(/of which predictions table +\$0\.66/); // 1.05 million WRU at $0.625
    expect(r.stdout).toMatch(/labels consumer +\$0\.04/); // 1,000 requests, 225 GB-s, 60,000 WRU, 30,000 RRU: $0.0445
    expect(r.stdout).toMatch(/features endpoint reads +\$0\.40/);
    expect(r.stdout).toContain('a million reads cost 0.40 USD (each: 1 Lambda request, 20 ms billed at 512 MB, 0.5 read unit');
  });

  it('prints in JSON what the model computes', async () => {
    const r = await run(['--summary', `${good},${good}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { region: string; priceListDate: string; runs: Array<{ costs: unknown[] }> };
    expect(doc.region).toBe('us-east-1');
    expect(doc.runs).toHaveLength(2);
    expect(doc.runs[0]!.costs).toEqual([10, 100, 1000].map((rate) => costPerMillion({ records: 2000, usage, rate, memoryMb: 1024 })));
  });

  it('refuses a missing file, a summary without usage and a bad rate by name', async () => {
    const missing = await run(['--summary', join(dir, 'none.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: --summary \S*none\.json: no such file; give a file run's summary\.json/);
    const replay = join(dir, 'replay.json');
    writeFileSync(replay, JSON.stringify({ records: 10, applied: 10, late: 0 }));
    const noUsage = await run(['--summary', replay]);
    expect(noUsage.code).toBe(1);
    expect(noUsage.stderr).toMatch(/^error: --summary \S*replay\.json has no "usage"/);
    const rate = await run(['--summary', good, '--rates', '10,,100']);
    expect(rate.code).toBe(64);
    expect(rate.stderr).toMatch(/^error: --rates must be a comma-separated list without empty items/);
    const both = await run(['--summary', good, '--curve']);
    expect(both.code).toBe(64);
    expect(both.stderr).toMatch(/^error: give either --summary/);
    const stray = await run(['--summary', good, '--plot', join(dir, 'x.svg')]);
    expect(stray.code).toBe(64);
    expect(stray.stderr).toMatch(/^error: --plot goes with --curve/);
  }, 60_000);

  it('refuses a document without the cost markers before running anything', async () => {
    const readme = join(dir, 'costs.md');
    writeFileSync(readme, '# no markers\n');
    const r = await run(['--curve', '--doc', readme]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: --doc \S*costs\.md has no section to replace/);
  });
});
