/**
 * The price arithmetic against figures computed by hand from the list prices, the batch a batching window gives,
 * the summary reader's named refusals, the cost section rewrite and the plot's structure.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CurvePoint, batchingFor } from '../../../bin/cost/curve';
import { costPerMillion, flinkSmallestPerMillion, flinkSmallestPerMonth, shardsFor } from '../../../bin/cost/model';
import { curveSvg } from '../../../bin/cost/plot';
import { PRICES } from '../../../bin/cost/prices';
import { COST_BEGIN, COST_END, priceText, replaceSection, unconfirmedLines } from '../../../bin/cost/report';
import { RunSummaryError, readRunSummary } from '../../../bin/cost/run-summary';
import { type Usage, emptyUsage } from '../../../bin/local/usage';

const dir = mkdtempSync(join(tmpdir(), 'cost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const USAGE: Usage = {
  ...emptyUsage(),
  invocations: 2,
  consumerMs: 3000,
  dynamodbWriteRequests: 300,
  dynamodbWriteUnits: 2000,
  dynamodbReadRequests: 4,
  dynamodbReadUnits: 400,
  sqsRequests: 8,
  sqsBilledRequests: 10,
  s3PutRequests: 4,
  s3ListRequests: 1,
  s3GetRequests: 2,
  s3Requests: 7,
  kinesisRequests: 5,
  kinesisBytesRead: 100_000,
  kinesisRecordsPut: 1000,
  kinesisBytesPut: 100_000,
  kinesisPutPayloadUnits: 1000,
  kinesisBilledKbPut: 1000,
};

describe('cost per million events', () => {
  it('equals the hand-computed figures for 1,000 records at 100 events/s and 1,024 MB', () => {
    const c = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 1024 });
    // A million events is 1,000 runs of this one.
    expect(c.lambdaRequests).toBeCloseTo(2 * 1000 * 0.0000002, 12); // $0.0004
    expect(c.lambdaDuration).toBeCloseTo(3 * 1 * 1000 * 0.0000133334, 12); // 3,000 GB-s: $0.0400002
    expect(c.dynamodbWrites).toBeCloseTo(1.25, 12); // 2 million WRU at $0.625
    expect(c.dynamodbReads).toBeCloseTo(0.05, 12); // 0.4 million RRU at $0.125
    expect(c.sqs).toBeCloseTo(0.005, 12); // 10,000 FIFO requests at $0.50 per million
    expect(c.s3Put).toBeCloseTo(0.025, 12); // 5,000 PUT/LIST at $0.005 per thousand
    expect(c.s3Get).toBeCloseTo(0.0008, 12); // 2,000 GET at $0.0004 per thousand
    expect(c.consumer).toBeCloseTo(1.3712002, 9);
    // 10,000 s of stream on one shard: 2.777… shard-hours at $0.015; a million PUT payload units at $0.014.
    expect(c.kinesisShardHours).toBeCloseTo(0.0416667, 7);
    expect(c.kinesisPutPayloadUnits).toBeCloseTo(0.014, 12);
    expect(c.totalProvisioned).toBeCloseTo(1.4268669, 7);
    // On demand: 2.777… stream-hours at $0.04, 0.953674 GB in at $0.08, 0.0931323 GB out at $0.04.
    expect(c.kinesisOnDemand).toBeCloseTo(0.1111111 + 0.0762939 + 0.0037253, 7);
    expect(c.totalOnDemand).toBeCloseTo(1.3712002 + 0.1911303, 7);
  });

  it('prices scoring, labels and features endpoint reads by hand', () => {
    const usage: Usage = { ...USAGE, predictionRecordsPut: 1000, predictionBytesPut: 800_000, predictionPutPayloadUnits: 1000, predictionBilledKbPut: 1000, dynamodbPredictionsWriteUnits: 1100, dynamodbPredictionsReadUnits: 50 };
    const labels: Usage = { ...emptyUsage(), invocations: 3, consumerMs: 1500, dynamodbWriteUnits: 200, dynamodbReadUnits: 300, sqsBilledRequests: 2, kinesisRecordsPut: 100, kinesisBytesPut: 10_000, kinesisPutPayloadUnits: 100, kinesisBilledKbPut: 100, kinesisBytesRead: 10_000 };
    const c = costPerMillion({
      records: 1000,
      usage,
      rate: 100,
      memoryMb: 1024,
      labels: { records: 100, usage: labels, memoryMb: 512 },
      serving: { readsPerEvent: 1, ms: 20, memoryMb: 512, readUnitsPerRead: 0.5 },
    });
    // Of the DynamoDB figures: 1.1 million WRU and 50,000 RRU of the predictions table.
    expect(c.scoringDynamodb).toBeCloseTo(1.1 * 0.625 + 0.05 * 0.125, 12);
    // Predictions stream: one shard for 100 records/s for 2.777… hours, a million PUT payload units.
    expect(c.predictionsStreamProvisioned).toBeCloseTo(0.0416667 + 0.014, 7);
    expect(c.predictionsStreamOnDemand).toBeCloseTo(0.1111111 + 0.0762939, 6);
    // Labels consumer per million events (100,000 labels): 3,000 requests, 750 GB-s, 0.2 M WRU, 0.3 M RRU, 2,000 FIFO requests.
    expect(c.labelsConsumer).toBeCloseTo(3000 * 0.0000002 + 750 * 0.0000133334 + 0.2 * 0.625 + 0.3 * 0.125 + 2000 * 0.0000005, 9);
    // Labels stream: one shard, 100,000 PUT payload units.
    expect(c.labelsStreamProvisioned).toBeCloseTo(0.0416667 + 0.0014, 7);
    // A million reads: a million Lambda requests, 10,000 GB-s, half a million RRU.
    expect(c.serving).toBeCloseTo(0.2 + 10_000 * 0.0000133334 + 0.5 * 0.125, 9);
    expect(c.totalProvisioned).toBeCloseTo(1.4268669 + c.predictionsStreamProvisioned + c.labelsConsumer + c.labelsStreamProvisioned + c.serving, 7);
    expect(c.totalOnDemand).toBeCloseTo(1.3712002 + 0.1911303 + c.predictionsStreamOnDemand + c.labelsConsumer + c.labelsStreamOnDemand + c.serving, 7);
    // Without them, none of it.
    const plain = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 1024 });
    expect([plain.scoringDynamodb, plain.predictionsStreamProvisioned, plain.labelsConsumer, plain.labelsStreamProvisioned, plain.serving]).toEqual([0, 0, 0, 0, 0]);
  });

  it('divides the stream-hours by the rate and adds shards as the rate needs them', () => {
    const at = (rate: number) => costPerMillion({ records: 1000, usage: USAGE, rate, memoryMb: 1024 });
    expect(at(10).kinesisShardHours).toBeCloseTo(0.416667, 6);
    expect(at(1000).kinesisShardHours).toBeCloseTo(0.00416667, 8);
    expect(at(2500).kinesisShardHours).toBeCloseTo(3 * (400 / 3600) * 0.015, 10);
    expect(at(10).consumer).toBe(at(1000).consumer);
    expect(shardsFor(1000, 100)).toBe(1);
    expect(shardsFor(1001, 100)).toBe(2);
    expect(shardsFor(1000, 2000)).toBe(2); // 2,000,000 B/s over the 1 MiB/s of a shard
  });

  it('doubles Lambda duration with twice the memory', () => {
    const a = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 1024 });
    const b = costPerMillion({ records: 1000, usage: USAGE, rate: 100, memoryMb: 2048 });
    expect(b.lambdaDuration).toBeCloseTo(2 * a.lambdaDuration, 12);
  });

  it('prices Flink\'s smallest application at two KPUs all month plus 50 GB of running storage', () => {
    expect(flinkSmallestPerMonth()).toBeCloseTo(2 * 730 * 0.11 + 50 * 0.1, 9); // $165.60
    expect(flinkSmallestPerMillion(10)).toBeCloseTo(165.6 / 26.28, 9); // 26.28 million events a month
    expect(flinkSmallestPerMillion(1000)).toBeCloseTo(165.6 / 2628, 9);
  });

  it('refuses a run without records or a rate of zero', () => {
    expect(() => costPerMillion({ records: 0, usage: USAGE, rate: 10, memoryMb: 1024 })).toThrow(RangeError);
    expect(() => costPerMillion({ records: 10, usage: USAGE, rate: 0, memoryMb: 1024 })).toThrow(RangeError);
  });

  it('names each unconfirmed price, and writes tiny prices per million', () => {
    expect(unconfirmedLines()).toHaveLength(Object.values(PRICES).filter((p) => !p.confirmed).length);
    expect(priceText(PRICES.dynamodbWriteUnit)).toBe('$0.625 per million × write request unit (on-demand)');
    expect(priceText(PRICES.s3PutRequest)).toBe('$0.005 per thousand × PUT, COPY, POST or LIST request (S3 Standard)');
    expect(priceText(PRICES.flinkKpuHour)).toBe('$0.11 per KPU-hour');
  });
});

describe('batching window', () => {
  it('gives a second of records at window 0 (Lambda polls once a second), w seconds of records at window w, at most 10,000', () => {
    expect(batchingFor(10, 0)).toEqual({ batchSize: 10, waitS: 1 });
    expect(batchingFor(10, 1)).toEqual({ batchSize: 10, waitS: 1 });
    expect(batchingFor(100, 5)).toEqual({ batchSize: 500, waitS: 5 });
    // 30 s at 1,000/s would be 30,000 records: the batch fills at 10,000 after 10 s.
    expect(batchingFor(1000, 30)).toEqual({ batchSize: 10_000, waitS: 10 });
    // 6 MB of 1,000-byte records: 6,291 records.
    expect(batchingFor(1000, 30, 1000)).toEqual({ batchSize: 6291, waitS: 6.291 });
    expect(batchingFor(0.5, 0)).toEqual({ batchSize: 1, waitS: 1 });
  });
});

describe('run summary', () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('reads records and every usage field', () => {
    const p = write('ok.json', JSON.stringify({ records: 1000, applied: 990, usage: USAGE }));
    expect(readRunSummary(p)).toEqual({ path: p, records: 1000, usage: USAGE });
  });

  it('reads a run\'s labels and what its labels consumer used; a summary older than the scoring figures reads them as 0', () => {
    const labels = { ...emptyUsage(), invocations: 2 };
    const p = write('labels.json', JSON.stringify({ records: 1000, usage: USAGE, labels: { records: 40, usage: labels } }));
    expect(readRunSummary(p)).toEqual({ path: p, records: 1000, usage: USAGE, labels: { records: 40, usage: labels } });
    const { predictionRecordsPut: _p, dynamodbPredictionsWriteUnits: _w, ...older } = USAGE;
    expect(readRunSummary(write('older.json', JSON.stringify({ records: 1000, usage: older }))).usage).toEqual(USAGE);
    expect(() => readRunSummary(write('bad-labels.json', JSON.stringify({ records: 10, usage: USAGE, labels: { records: 1, usage: { ...labels, consumerMs: -1 } } })))).toThrow(/labels\.usage\.consumerMs must be a non-negative number, got -1/);
  });

  it('refuses by name a missing file, a folder, text that is not JSON, a summary without usage and a bad usage figure', () => {
    expect(() => readRunSummary(join(dir, 'none.json'))).toThrow(RunSummaryError);
    expect(() => readRunSummary(join(dir, 'none.json'))).toThrow(/none\.json: no such file; give a file run's summary\.json/);
    expect(() => readRunSummary(dir)).toThrow(/is a folder/);
    expect(() => readRunSummary(write('text.json', 'records: 3'))).toThrow(/is not JSON/);
    expect(() => readRunSummary(write('replay.json', JSON.stringify({ records: 10, applied: 10 })))).toThrow(/replay\.json has no "usage": not a file run's summary\.json/);
    expect(() => readRunSummary(write('zero.json', JSON.stringify({ records: 0, usage: USAGE })))).toThrow(/"records" must be a positive integer, got 0/);
    expect(() => readRunSummary(write('neg.json', JSON.stringify({ records: 10, usage: { ...USAGE, invocations: -1 } })))).toThrow(/usage\.invocations must be a non-negative number, got -1/);
    const { s3Requests: _, ...partial } = USAGE;
    expect(() => readRunSummary(write('partial.json', JSON.stringify({ records: 10, usage: partial })))).toThrow(/usage\.s3Requests must be a non-negative number, got undefined/);
  });
});

describe('cost section and plot', () => {
  it('replaces exactly the text between the markers, and nothing without them', () => {
    const doc = `a\n${COST_BEGIN}\nold\n${COST_END}\nb\n`;
    expect(replaceSection(doc, `${COST_BEGIN}\nnew\n${COST_END}`)).toBe(`a\n${COST_BEGIN}\nnew\n${COST_END}\nb\n`);
    expect(replaceSection('a\nb\n', 'x')).toBe('');
    expect(replaceSection(`${COST_BEGIN}${COST_BEGIN}${COST_END}`, 'x')).toBe('');
  });

  it('draws one line per rate, a dashed Flink line per rate, and one label for windows that share a point', () => {
    const point = (rate: number, windowS: number, freshnessS: number, total: number): CurvePoint =>
      ({ rate, windowS, freshnessS, batchSize: 1, waitS: 1, records: 1, processingS: 0, usage: emptyUsage(), flinkPerMillion: flinkSmallestPerMillion(rate), cost: { totalProvisioned: total } }) as unknown as CurvePoint;
    const svg = curveSvg([point(10, 0, 1.3, 3), point(10, 1, 1.3, 3), point(10, 5, 5.9, 2), point(100, 0, 1.7, 2), point(100, 5, 6.7, 1.4)], { title: 't <1>', note: 'n' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(4); // a Flink line and its legend entry per rate
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg).toContain('>0, 1 s</text>');
    expect(svg).toContain('t &lt;1&gt;');
  });
});
