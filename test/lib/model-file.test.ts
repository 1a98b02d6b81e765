/**
 * The model file a spec's scoring section names: read next to the spec, checked at synth with the same parser the
 * consumer uses, each error naming the file (and for a bad document, each bad field), by the library, by the stack
 * and by `cdk synth` (bin/app.ts), which prints it without a stack trace.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../lambda/core/model';
import { PipelinePropsError } from '../../lib/errors';
import { PipelineStack, type PipelineStackProps } from '../../lib/pipeline-stack';
import { ModelFileError, SpecFileError, readSpecFiles } from '../../lib/spec-loader';
import { runCli } from '../support/run-cli';
import { FEATURES_ONLY_SPEC_JSON, FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING } from './fixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'model-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A spec in its own folder whose scoring section names `modelName`, and that model file's text (if any). */
function specWithModel(name: string, modelName: string, modelText?: string): string {
  const folder = path.join(dir, name);
  mkdirSync(path.join(folder, 'models'), { recursive: true });
  const spec = { ...(JSON.parse(FRAUD_SPEC_JSON) as object), scoring: { model: modelName } };
  writeFileSync(path.join(folder, 'spec.json'), JSON.stringify(spec));
  if (modelText !== undefined) writeFileSync(path.join(folder, modelName), modelText);
  return path.join(folder, 'spec.json');
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const BAD_MODEL = JSON.stringify({ kind: 'logistic', version: 'v:1', bias: -1, weights: { amount_sum: 1, txn_count_5m: 'x' }, threshold: 0.5 });
const BAD_MODEL_PROBLEMS = [
  'model.version must be 1-64 letters, digits, ".", "_" or "-", got "v:1"',
  'model.weights.amount_sum is not a feature of the pipeline spec (it has txn_count_5m, txn_count_1h_every_5m, spend_1h_every_5m, max_amount_10m, session_spend)',
  'model.weights.txn_count_5m must be a finite number, got "x"',
];

describe('readSpecFiles', () => {
  it('reads the model relative to the spec file, not to the working directory', () => {
    const spec = specWithModel('good', 'models/m.json', FRAUD_MODEL_JSON);
    const files = readSpecFiles(path.relative(dir, spec), dir);
    expect(files.modelPath).toBe(path.join('good', 'models', 'm.json'));
    expect(files.modelJson).toBe(FRAUD_MODEL_JSON);
  });

  it('reads no model for a spec without a scoring section', () => {
    writeFileSync(path.join(dir, 'features.json'), FEATURES_ONLY_SPEC_JSON);
    expect(readSpecFiles('features.json', dir)).toEqual({ specJson: FEATURES_ONLY_SPEC_JSON });
  });

  it('names a missing model file and the spec naming it', () => {
    const spec = specWithModel('missing', 'models/absent.json');
    const err = thrown(() => readSpecFiles(spec));
    expect(err).toBeInstanceOf(SpecFileError);
    expect(err.message).toMatch(new RegExp(`^model file ${path.join(dir, 'missing', 'models', 'absent.json')} \\(scoring.model of spec ${spec}\\) cannot be read: ENOENT`));
  });

  it('names a model file that is not JSON', () => {
    const spec = specWithModel('syntax', 'models/m.json', '{ "kind": ');
    const err = thrown(() => readSpecFiles(spec));
    expect(err).toBeInstanceOf(SpecFileError);
    expect(err.message).toMatch(new RegExp(`^model ${path.join(dir, 'syntax', 'models', 'm.json')} is not valid JSON: `));
  });

  it('lists every bad field of the model, naming the file', () => {
    const spec = specWithModel('fields', 'models/m.json', BAD_MODEL);
    const err = thrown(() => readSpecFiles(spec));
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.name).toBe('ModelError');
    expect((err as ModelError).problems).toEqual(BAD_MODEL_PROBLEMS);
    expect(err.message).toBe(`model ${path.join(dir, 'fields', 'models', 'm.json')}: invalid model:\n  - ${BAD_MODEL_PROBLEMS.join('\n  - ')}`);
  });
});

describe('the stack', () => {
  const construct = (overrides: Partial<PipelineStackProps>) =>
    new PipelineStack(new App({ context: NO_BUNDLING }), 'Model', { specJson: FRAUD_SPEC_JSON, pipelineName: 'fraud', ...overrides });

  it('refuses a spec with a scoring section but no model, naming the prop and the file', () => {
    const err = thrown(() => construct({}));
    expect(err).toBeInstanceOf(PipelinePropsError);
    expect(err.message).toBe('PipelineStack: modelJson is required: the spec has a scoring section (scoring.model "fraud-model.json"); pass that file\'s text');
  });

  it('refuses a model, predictions or labels options for a spec without those sections', () => {
    const features = { specJson: FEATURES_ONLY_SPEC_JSON };
    expect(thrown(() => construct({ ...features, modelJson: FRAUD_MODEL_JSON })).message).toContain('modelJson is given but the spec has no scoring section');
    expect(thrown(() => construct({ ...features, predictions: {} })).message).toContain('predictions options need a scoring section');
    expect(thrown(() => construct({ ...features, labels: {} })).message).toContain('labels options need an evaluation section');
  });

  it('checks the model document it is given, naming the prop', () => {
    const notJson = thrown(() => construct({ modelJson: 'nope' }));
    expect(notJson).toBeInstanceOf(SpecFileError);
    expect(notJson.message).toMatch(/^model modelJson is not valid JSON: /);
    const bad = thrown(() => construct({ modelJson: BAD_MODEL }));
    expect(bad).toBeInstanceOf(ModelError);
    expect((bad as ModelError).problems).toEqual(BAD_MODEL_PROBLEMS);
    expect(bad.message.startsWith('model modelJson: invalid model:\n  - model.version')).toBe(true);
  });
});

describe('cdk synth (bin/app.ts)', () => {
  const synth = (spec: string) =>
    runCli('bin/app.ts', [], { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ spec, 'aws:cdk:bundling-stacks': [] }), CDK_OUTDIR: path.join(dir, 'out') });

  it('prints a bad model\'s fields and its file, without a stack trace, and exits 1', async () => {
    const spec = specWithModel('app', 'models/m.json', BAD_MODEL);
    const missing = specWithModel('app-missing', 'm.json');
    const [bad, absent] = await Promise.all([synth(spec), synth(missing)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`model ${path.join(dir, 'app', 'models', 'm.json')}: invalid model:\n  - ${BAD_MODEL_PROBLEMS.join('\n  - ')}\n`);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(new RegExp(`^model file ${path.join(dir, 'app-missing', 'm.json')} \\(scoring.model of spec ${missing}\\) cannot be read: ENOENT[^\\n]*\\n$`));
  }, 60_000);
});
