/** `npm run cost -- --backfill N`: requests counted from the state machine's design, priced at the list. */
import { describe, expect, it } from 'vitest';
import { backfillCost, defaultPartitions } from '../../../bin/cost/backfill';
import { PRICES } from '../../../bin/cost/prices';
import { runCli } from '../../support/run-cli';

describe('backfill cost', () => {
  const input = { records: 7_200_000, rate: 1000, partitions: 4, segmentRate: 100_000, partitionRate: 50_000 };

  it('counts segments by archive hour, and each step\'s requests', () => {
    const c = backfillCost(input);
    expect(c.segments).toBe(2);
    expect(c.lambdaRequests).toBe(3 + 2 + 4);
    expect(c.transitions).toBe(7 + 3 * 6);
    // 14,400 archive objects of 500 records: 2 folder listings, 8 LIST pages per hour; 2 segments × (4 parts +
    // summary); 5 per partition.
    expect(c.s3Puts).toBe(1 + 2 + 16 + 2 * 5 + 1 + 20 + 1);
    expect(c.lambdaGbSeconds).toBeCloseTo((72 + 144) * (3008 / 1024), 6);
    expect(c.usd.lambda).toBeCloseTo(9 * PRICES.lambdaRequest.usd + c.lambdaGbSeconds * PRICES.lambdaGbSecond.usd, 12);
    expect(c.usd.total).toBeCloseTo(c.usd.lambda + c.usd.stepFunctions + c.usd.s3, 12);
    // Both segments at once, then the four partitions at once.
    expect(c.wallSeconds).toBeCloseTo(36 + 36, 6);
  });

  it('partitions so that a worker finishes in about five minutes, and says when a worker would pass 15', () => {
    expect(defaultPartitions(7_800_000_000, 50_000)).toBe(520);
    expect(backfillCost({ ...input, partitions: defaultPartitions(input.records, 50_000) }).partitionSeconds).toBeLessThanOrEqual(300);
    expect(backfillCost({ ...input, partitions: 1 }).partitionSeconds).toBe(144);
  });

  it('prints the estimate, and refuses a bad count by name', async () => {
    const ok = await runCli('bin/cost.ts', ['--backfill', '1000000', '--rates', '1000', '--partitions', '2']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Backfill of 1,000,000 archived records \(archive written at 1,000 events\/s: 1 hour segments\), 2 partitions/);
    expect(ok.stdout).toMatch(/Step Functions: 16 state transitions/);
    const bad = await runCli('bin/cost.ts', ['--backfill', '0']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--backfill must be a positive integer of records, got 0/);
  });
});
