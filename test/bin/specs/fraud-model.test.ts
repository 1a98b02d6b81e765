/**
 * The example model (bin/specs/fraud-model.json, named by fraud.json's scoring section) flags what the sandbox
 * story's rule flags at its edges — $400 spent or five payments in the trailing hour — and leaves an ordinary
 * customer (one or two payments of $5 to $80) far below its threshold.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModel } from '../../../lambda/core/model';
import { parseSpecJson } from '../../../lambda/core/spec';

const SPECS = join(__dirname, '..', '..', '..', 'bin', 'specs');
const spec = parseSpecJson(readFileSync(join(SPECS, 'fraud.json'), 'utf8'));
const model = parseModel(JSON.parse(readFileSync(join(SPECS, spec.scoring?.model ?? 'missing'), 'utf8')), spec);
const score = (spend: number, count: number): number => model.score({ spend_1h_every_5m: spend, txn_count_1h_every_5m: count });

describe('example fraud model', () => {
  it('is the one the example spec names, reading the two hourly features', () => {
    expect(spec.scoring).toEqual({ model: 'fraud-model.json' });
    expect([...model.features].sort()).toEqual(['spend_1h_every_5m', 'txn_count_1h_every_5m']);
    expect(model.threshold).toBe(0.5);
    expect(model.version).toBe('fraud-v1');
  });

  it('flags $400 or more in the last hour, whatever the number of payments', () => {
    for (const count of [1, 2, 3, 4]) {
      for (const spend of [400, 401, 650, 5_000]) expect(score(spend, count), `${spend} $ in ${count}`).toBeGreaterThanOrEqual(model.threshold);
    }
  });

  it('flags five payments or more in the last hour, however small', () => {
    for (const count of [5, 6, 12, 22]) expect(score(count * 0.5, count), `${count} payments`).toBeGreaterThanOrEqual(model.threshold);
  });

  it('scores an ordinary customer well below the threshold', () => {
    let highest = 0;
    for (const count of [1, 2]) {
      for (const amount of [5, 20, 45, 80]) highest = Math.max(highest, score(count * amount, count));
    }
    expect(highest).toBeLessThan(0.1);
    expect(score(25, 1)).toBeLessThan(0.01);
  });

  it('scores just below both edges under the threshold (the edges are where the story puts them)', () => {
    expect(score(390, 1)).toBeLessThan(model.threshold);
    expect(score(90, 4)).toBeLessThan(model.threshold);
  });
});
