/**
 * The CLIs' spec reading checks the model file of a scoring section as `cdk synth` does: relative to the spec, each
 * error naming the file; the model is handed to the caller, and the size warning counts it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { CliFileError } from '../../../bin/cli/files';
import { loadSpecAndModel, loadSpecFile } from '../../../bin/cli/spec-file';
import { LogisticModel } from '../../../lambda/core/model';
import { documentBudgetBytes } from '../../../lib/spec-loader';

const SPECS = join(__dirname, '..', '..', '..', 'bin', 'specs');
const dir = mkdtempSync(join(tmpdir(), 'spec-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fraud = JSON.parse(readFileSync(join(SPECS, 'fraud.json'), 'utf8')) as Record<string, unknown>;

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

it('hands the example spec its model, scoring the way the file says', () => {
  const { spec, model, modelJson } = loadSpecAndModel(join(SPECS, 'fraud.json'));
  expect(spec.scoring?.model).toBe('fraud-model.json');
  expect(model).toBeInstanceOf(LogisticModel);
  expect(model?.version).toBe('fraud-v1');
  expect(JSON.parse(modelJson ?? '')).toEqual(JSON.parse(readFileSync(join(SPECS, 'fraud-model.json'), 'utf8')));
  // The existing callers keep getting the spec alone.
  expect(loadSpecFile(join(SPECS, 'fraud.json'))).toEqual(spec);
});

it('gives no model for a spec without a scoring section', () => {
  const path = join(dir, 'features.json');
  writeFileSync(path, JSON.stringify({ ...fraud, scoring: undefined, evaluation: undefined }));
  expect(loadSpecAndModel(path).model).toBeUndefined();
});

it('names the model file when it is missing, not JSON, or has bad fields', () => {
  const spec = join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({ ...fraud, scoring: { model: 'm.json' } }));
  const missing = errorOf(() => loadSpecFile(spec));
  expect(missing).toBeInstanceOf(CliFileError);
  expect(missing.message).toBe(`scoring.model ${join(dir, 'm.json')}: no such file; give the path of the model file of spec ${spec} (relative to the spec's folder)`);
  writeFileSync(join(dir, 'm.json'), '{"kind":');
  expect(errorOf(() => loadSpecFile(spec)).message).toMatch(new RegExp(`^model ${join(dir, 'm.json')} is not valid JSON: `));
  writeFileSync(join(dir, 'm.json'), JSON.stringify({ kind: 'logistic', version: 'v1', bias: 0, weights: { spend_1h_every_5m: 0.1 }, threshold: 0 }));
  const bad = errorOf(() => loadSpecFile(spec));
  expect(bad).toBeInstanceOf(CliFileError);
  expect(bad.message).toBe(`model ${join(dir, 'm.json')}: invalid model:\n  - model.threshold must be a number between 0 and 1 (a logistic score), got 0`);
});

it('warns when spec and model together are over what the deployed consumer can receive', () => {
  const spec = join(dir, 'big.json');
  const budget = documentBudgetBytes({ scoring: { model: 'big-model.json' } });
  writeFileSync(spec, JSON.stringify({ ...fraud, scoring: { model: 'big-model.json' } }));
  // Weights on the spec's features only: pad with a long version, the one free-form field.
  const model = { kind: 'logistic', version: 'v'.repeat(64), bias: 0, weights: { spend_1h_every_5m: 0.1 }, threshold: 0.5 };
  writeFileSync(join(dir, 'big-model.json'), JSON.stringify(model));
  const quiet: string[] = [];
  loadSpecAndModel(spec, (w) => quiet.push(w));
  expect(quiet).toEqual([]);
  // Over the budget: many features, each weighted.
  const features = Array.from({ length: 12 }, (_, i) => ({ name: `feature_${i}_${'n'.repeat(50)}`, window: { type: 'tumbling', sizeMs: 300_000 }, aggregate: 'count' }));
  writeFileSync(spec, JSON.stringify({ ...fraud, features, scoring: { model: 'big-model.json' } }));
  writeFileSync(join(dir, 'big-model.json'), JSON.stringify({ ...model, weights: Object.fromEntries(features.map((f) => [f.name, 1])) }));
  expect(JSON.stringify({ ...fraud, features }).length).toBeLessThan(budget);
  const warnings: string[] = [];
  expect(loadSpecAndModel(spec, (w) => warnings.push(w)).model?.features).toHaveLength(12);
  expect(warnings).toEqual([expect.stringMatching(new RegExp(`^spec ${spec} and its model are \\d+ bytes once minified, over the ${budget} bytes .* refuse it$`))]);
});
