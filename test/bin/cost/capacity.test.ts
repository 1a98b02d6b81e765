/**
 * DynamoDB on demand against provisioned capacity under auto scaling, and Flink with its online-store writes, each
 * against figures computed by hand from the list prices; `npm run cost` printing them side by side, and refusing
 * limits the stack would refuse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CurvePoint } from '../../../bin/cost/curve';
import { costPerMillion, flinkWithSinkPerMillion, provisionedUnits, tableCost } from '../../../bin/cost/model';
import { PRICES } from '../../../bin/cost/prices';
import { COST_BEGIN, COST_END, capacityLines, readmeSection } from '../../../bin/cost/report';
import { type Usage, emptyUsage } from '../../../bin/local/usage';
import { type CliRun, runCli } from '../../support/run-cli';

const dir = mkdtempSync(join(tmpdir(), 'cost-capacity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 1,000 scored records: 600 write units and 200 read units on the state table, 200 and 100 on the predictions table. */
const USAGE: Usage = {
  ...emptyUsage(),
  invocations: 1,
  consumerMs: 1000,
  dynamodbWriteUnits: 800,
  dynamodbReadUnits: 300,
  dynamodbPredictionsWriteUnits: 200,
  dynamodbPredictionsReadUnits: 100,
  predictionRecordsPut: 1000,
  predictionBytesPut: 500_000,
  predictionPutPayloadUnits: 1000,
  predictionBilledKbPut: 1000,
};

describe('provisioned capacity at steady load', () => {
  it('holds consumed units per second over the target utilization, rounded up, at least the minimum', () => {
    expect(provisionedUnits(70)).toBe(100); // exactly 70 % of 100: not 101
    expect(provisionedUnits(70.01)).toBe(101);
    expect(provisionedUnits(0)).toBe(1);
    expect(provisionedUnits(2, { targetUtilization: 70, minUnits: 5 })).toBe(5);
    expect(provisionedUnits(10, { targetUtilization: 50, minUnits: 1 })).toBe(20);
  });

  it('prices the list prices the model states: $0.00065 per WCU-hour, $0.00013 per RCU-hour, on demand $0.625 and $0.125 per million', () => {
    expect([PRICES.dynamodbWcuHour.usd, PRICES.dynamodbRcuHour.usd, PRICES.dynamodbWriteUnit.usd * 1e6, PRICES.dynamodbReadUnit.usd * 1e6]).toEqual([0.00065, 0.00013, 0.625, 0.125]);
  });

  it('prices each table both ways by hand, at 100 events/s and the default 70 %', () => {
    const c = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 1024 });
    const hours = 1e6 / 100 / 3600; // a million events at 100/s: 2.777… hours
    // State table: 0.6 WRU and 0.2 RRU per event; 60 WCU/s / 0.7 = 85.7 → 86 WCU, 20 / 0.7 = 28.6 → 29 RCU.
    const state = c.consumerTables.state;
    expect([state.wcu, state.rcu]).toEqual([86, 29]);
    expect(state.onDemand).toBeCloseTo(0.6 * 0.625 + 0.2 * 0.125, 12); // $0.40
    expect(state.provisioned).toBeCloseTo(hours * (86 * 0.00065 + 29 * 0.00013), 12); // $0.16575
    expect(state.provisioned).toBeCloseTo(0.1657500, 6);
    // Predictions table: 0.2 WRU and 0.1 RRU per event; 20 / 0.7 → 29 WCU, 10 / 0.7 → 15 RCU.
    const predictions = c.consumerTables.predictions;
    expect([predictions.wcu, predictions.rcu]).toEqual([29, 15]);
    expect(predictions.onDemand).toBeCloseTo(0.2 * 0.625 + 0.1 * 0.125, 12); // $0.1375
    expect(predictions.provisioned).toBeCloseTo(hours * (29 * 0.00065 + 15 * 0.00013), 12); // $0.05778
    // On demand, the tables are what the consumer's DynamoDB rows were; provisioned replaces them.
    expect(c.consumerTables.onDemand).toBeCloseTo(c.dynamodbWrites + c.dynamodbReads, 12);
    expect(c.consumerProvisionedTables).toBeCloseTo(c.consumer - 0.5375 + 0.16575 + 0.0577778, 6);
    expect(c.totalProvisionedTables).toBeCloseTo(c.totalProvisioned - 0.5375 + 0.2235278, 6);
    expect(c.totalOnDemandProvisionedTables).toBeCloseTo(c.totalOnDemand - 0.5375 + 0.2235278, 6);
  });

  it('adds features endpoint reads to the state table and the labels consumer to the predictions table before rounding', () => {
    const labels = { records: 100, memoryMb: 512, usage: { ...emptyUsage(), invocations: 1, consumerMs: 100, dynamodbWriteUnits: 100, dynamodbReadUnits: 50 } };
    const serving = { readsPerEvent: 1, ms: 20, memoryMb: 512, readUnitsPerRead: 0.5 };
    const c = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 1024, labels, serving });
    // State reads 0.2 + 0.5 per event: 70 RRU/s → 100 RCU. Predictions writes 0.2 + 0.1: 30 / 0.7 → 43 WCU; reads 0.1 + 0.05: 15 / 0.7 → 22 RCU.
    expect([c.allTables.state.wcu, c.allTables.state.rcu, c.allTables.predictions.wcu, c.allTables.predictions.rcu]).toEqual([86, 100, 43, 22]);
    expect(c.consumerTables.state.rcu).toBe(29);
  });

  it('leaves out the predictions table of a spec without scoring', () => {
    const c = costPerMillion({ records: 1000, usage: { ...USAGE, dynamodbPredictionsWriteUnits: 0, dynamodbPredictionsReadUnits: 0, predictionRecordsPut: 0 }, rate: 100, memoryMb: 1024 });
    expect(c.consumerTables.provisioned).toBeCloseTo(c.consumerTables.state.provisioned, 12);
  });

  it('makes provisioned dearer than on demand when the load is far below the minimum', () => {
    // One event a second writing 1 unit: on demand $0.625 per million; 1 WCU + 1 RCU held for 277.8 hours: $0.2167.
    const low = tableCost(1, 0, 1, { targetUtilization: 70, minUnits: 1 });
    expect([low.wcu, low.rcu]).toEqual([2, 1]);
    expect(low.provisioned).toBeCloseTo((1e6 / 3600) * (2 * 0.00065 + 0.00013), 9); // $0.3972
    const floor = tableCost(0.01, 0, 1, { targetUtilization: 70, minUnits: 10 });
    expect(floor.wcu).toBe(10);
    expect(floor.provisioned).toBeGreaterThan(floor.onDemand);
  });
});

describe('Flink with its online-store writes', () => {
  it('at 1,000 events/s and 0.38 write units per event: $0.30 per million on demand, $0.16 provisioned', () => {
    const f = flinkWithSinkPerMillion(1000, 0.38);
    const compute = 165.6 / ((1000 * 730 * 3600) / 1e6); // $165.60 a month over 2,628 million events
    expect(f.compute).toBeCloseTo(compute, 12);
    expect(f.onDemand).toBeCloseTo(compute + 0.38 * 0.625, 12); // $0.3005
    // 380 WRU/s / 0.7 = 542.9 → 543 WCU, and the table's 1 RCU, for 0.2778 hours.
    expect([f.sink.wcu, f.sink.rcu]).toEqual([543, 1]);
    expect(f.provisioned).toBeCloseTo(compute + (1e6 / 1000 / 3600) * (543 * 0.00065 + 0.00013), 12);
    expect([f.onDemand.toFixed(2), f.provisioned.toFixed(2)]).toEqual(['0.30', '0.16']);
  });

  it('refuses negative write units', () => {
    expect(() => flinkWithSinkPerMillion(10, -1)).toThrow(RangeError);
  });
});

describe('the capacity table', () => {
  const point = (rate: number, windowS: number): CurvePoint => {
    const cost = costPerMillion({ records: 1000, usage: USAGE, rate, memoryMb: 1024 });
    return { rate, windowS, batchSize: rate, waitS: 1, records: 1000, processingS: 0.5, freshnessS: 1.5, cost, flinkPerMillion: 0, flink: flinkWithSinkPerMillion(rate, 0.6), usage: USAGE };
  };
  const points = [point(10, 0), point(10, 1), point(1000, 1), point(1000, 30)];

  it('has one row per rate at one-second batches, naming the cheapest design', () => {
    const lines = capacityLines(points);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^events\/s +freshness s +consumer WRU\/event +consumer WCU held/);
    // At 10 events/s Flink's two KPUs cost $6.30 per million: the consumer wins; provisioned holds 9 WCU.
    expect(lines[1]).toMatch(/^10 +1\.50 +0\.60 +9 .* consumer, provisioned$/);
    expect(lines[2]).toMatch(/^1000 +1\.50 +0\.60 +858 /);
  });

  it('goes into the cost section with its assumptions', () => {
    const section = readmeSection(points, 1000, 5000);
    expect(section.startsWith(COST_BEGIN) && section.endsWith(COST_END)).toBe(true);
    expect(section).toContain('one write per changed key per second');
    expect(section).toContain('consumed units per second / 70 %, rounded up, at least 1');
    expect(section).toContain('| events/s | freshness s | consumer WRU/event | consumer WCU held | consumer, on-demand tables $/M | consumer, provisioned tables $/M | Flink sink WCU held | Flink + sink, on-demand $/M | Flink + sink, provisioned $/M | cheapest |');
  });
});

describe('npm run cost, provisioned', () => {
  const run = (args: readonly string[]): Promise<CliRun> => runCli('bin/cost.ts', args);
  // 2,000 records: 1.5 write units and 0.6 read units per event on the state table.
  const usage = { ...emptyUsage(), invocations: 4, consumerMs: 8000, dynamodbWriteUnits: 3000, dynamodbReadUnits: 1200, kinesisRecordsPut: 2000, kinesisBytesPut: 170_000, kinesisBytesRead: 170_000, kinesisPutPayloadUnits: 2000, kinesisBilledKbPut: 2000 };
  const file = join(dir, 'summary.json');
  writeFileSync(file, JSON.stringify({ records: 2000, applied: 2000, usage }));

  it('prints on-demand and provisioned tables side by side, beside Flink with its sink, at the given target', async () => {
    const r = await run(['--summary', file, '--rates', '100', '--target-utilization', '50', '--flink-sink-units', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    // 150 WRU/s / 0.5 = 300 WCU, 60 RRU/s / 0.5 = 120 RCU for 2.777… hours: 2.777… × $0.2106 = $0.585 (a hair under in
    // binary, printed $0.58); on demand 1.5 × $0.625 + 0.6 × $0.125 = $1.0125.
    expect(r.stdout).toMatch(/DynamoDB of the consumer, on-demand +\$1\.01\n/);
    expect(r.stdout).toMatch(/DynamoDB of the consumer, provisioned +\$0\.58\n/);
    expect(r.stdout).toMatch(/state table WCU\/RCU held +300\/120\n/);
    // Flink: $0.63 of compute at 100/s; 0.5 WRU per event: $0.3125 on demand; 100 WCU + 1 RCU for 2.777… hours: $0.1809.
    expect(r.stdout).toMatch(/Flink \+ sink, on-demand table +\$0\.94\n/);
    expect(r.stdout).toMatch(/Flink \+ sink, provisioned table +\$0\.81\n/);
    expect(r.stdout).toContain('consumed units per second / 50 %, rounded up, at least 1');
    expect(r.stdout).toContain('0.5 write units per event (--flink-sink-units)');
  });

  it('refuses limits the stack refuses', async () => {
    const target = await run(['--summary', file, '--target-utilization', '95']);
    expect(target.code).toBe(64);
    expect(target.stderr).toMatch(/^error: --target-utilization must be a percentage from 20 to 90, got 95/);
    const min = await run(['--summary', file, '--min-capacity', '0']);
    expect(min.code).toBe(64);
    expect(min.stderr).toMatch(/^error: --min-capacity must be a whole number of capacity units, 1 or more, got 0/);
    const sink = await run(['--summary', file, '--flink-sink-units', '-1']);
    expect(sink.code).toBe(64);
    expect(sink.stderr).toMatch(/^error: --flink-sink-units must be write units per event, 0 or more/);
  }, 60_000);
});
