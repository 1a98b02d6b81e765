import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LogisticModel, ModelError, parseModel } from '../../../lambda/core/model';
import { parseSpecJson } from '../../../lambda/core/spec';

const spec = parseSpecJson(readFileSync('bin/specs/fraud.json', 'utf8'));
const doc = { kind: 'logistic', version: 'fraud-v1', bias: -6, weights: { txn_count_1h_every_5m: 0.5, spend_1h_every_5m: 0.01 }, threshold: 0.5 };

describe('logistic model', () => {
  it('scores 1 / (1 + e^-(bias + Σ weight × value)), a missing value counting 0', () => {
    const m = parseModel(doc, spec);
    expect(m).toBeInstanceOf(LogisticModel);
    expect(m.features).toEqual(['txn_count_1h_every_5m', 'spend_1h_every_5m']);
    expect(m.score({ txn_count_1h_every_5m: 4, spend_1h_every_5m: 500 })).toBeCloseTo(1 / (1 + Math.exp(-(-6 + 2 + 5))), 12);
    expect(m.score({ txn_count_1h_every_5m: null, spend_1h_every_5m: 0 })).toBeCloseTo(1 / (1 + Math.exp(6)), 12);
    expect(m.score({})).toBeCloseTo(1 / (1 + Math.exp(6)), 12);
  });

  it('names every bad field of a model document', () => {
    const bad = { kind: 'forest', version: '', bias: 'x', weights: { txn_count_5m: 'high', nope: 1 }, threshold: 1.5, extra: true };
    let problems: readonly string[] = [];
    try {
      parseModel(bad, spec);
    } catch (e) {
      expect(e).toBeInstanceOf(ModelError);
      problems = (e as ModelError).problems;
    }
    expect(problems).toEqual([
      'model.extra is not a model field (allowed: kind, version, bias, weights, threshold)',
      'model.kind must be "logistic" (the built-in kind), got "forest"',
      'model.version must be 1-64 letters, digits, ".", "_" or "-", got ""',
      'model.bias must be a finite number, got "x"',
      'model.threshold must be a number between 0 and 1 (a logistic score), got 1.5',
      'model.weights.txn_count_5m must be a finite number, got "high"',
      expect.stringMatching(/^model\.weights\.nope is not a feature of the pipeline spec \(it has txn_count_5m, /),
    ]);
    expect(() => parseModel([], spec)).toThrow('model must be a JSON object');
    expect(() => parseModel({ ...doc, weights: {} }, spec)).toThrow('model.weights must be an object with at least one feature name');
  });
});
