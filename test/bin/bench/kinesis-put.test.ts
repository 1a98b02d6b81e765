import { describe, expect, it } from 'vitest';
import { formatKinesisPutBench, runKinesisPutBench } from '../../../bin/bench/kinesis-put';

describe('runKinesisPutBench', () => {
  it('times each step of puts into a filling stream and reads every record back', async () => {
    const result = await runKinesisPutBench({ emulator: 'kinesalite', records: 1200, step: 500, recordBytes: 50 });
    expect(result.steps.map((s) => [s.held, s.records])).toEqual([
      [0, 500],
      [500, 500],
      [1000, 200],
    ]);
    for (const s of result.steps) expect(s.ms).toBeGreaterThan(0);
    expect(result.readRecords).toBe(1200);
    const text = formatKinesisPutBench(result).join('\n');
    expect(text).toContain('read back 1,200 records');
    if (process.platform === 'linux') expect(result.usage?.peakRssMb).toBeGreaterThan(10);
  });

  it('refuses a step that is not a positive integer, before starting anything', async () => {
    await expect(runKinesisPutBench({ emulator: 'kinesalite', records: 10, step: 0 })).rejects.toThrow(/step must be a positive integer/);
  });
});
