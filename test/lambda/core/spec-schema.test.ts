/**
 * The shipped JSON Schema is the one built from the validator's definitions, and it agrees with the validator:
 * what the validator accepts the schema accepts, and the rule breaks a schema can express it refuses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATH, schemaText } from '../../../bin/schema';
import { BENCH_SPEC, SKETCH_SPEC } from '../../../bin/bench/workload';
import { pipelineSpecSchema } from '../../../lambda/core/spec-schema';
import { parseSpec } from '../../../lambda/core/spec';
import { specDoc } from '../../support/engine-harness';

const validate = new Ajv({ strict: true, strictRequired: false, allErrors: true }).compile(pipelineSpecSchema());

const accepted = (doc: unknown): boolean => {
  try {
    parseSpec(doc);
    return true;
  } catch {
    return false;
  }
};

describe('pipeline spec JSON Schema', () => {
  it('is the file shipped beside the example specs (run `npm run schema` after changing the spec)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(schemaText());
  });

  it('accepts the example spec, which names it, and every spec the benchmarks use', () => {
    const fraud = JSON.parse(readFileSync(join(__dirname, '../../../bin/specs/fraud.json'), 'utf8')) as Record<string, unknown>;
    expect(fraud.$schema).toBe('./pipeline-spec.schema.json');
    for (const doc of [fraud, BENCH_SPEC, SKETCH_SPEC]) {
      expect(accepted(doc)).toBe(true);
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('refuses what the validator refuses, field by field', () => {
    const feature = (extra: Record<string, unknown>) => specDoc({ features: [{ name: 'x', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount', ...extra }] });
    const bad: unknown[] = [
      feature({ aggregate: 'median' }),
      feature({ field: undefined }),
      feature({ aggregate: 'percentile' }),
      feature({ aggregate: 'percentile', percentile: 1 }),
      feature({ percentile: 0.5 }),
      feature({ window: { type: 'tumbling', sizeMs: 0 } }),
      feature({ window: { type: 'tumbling', sizeMs: 10, slideMs: 5 } }),
      feature({ window: { type: 'hopping', sizeMs: 10 } }),
      feature({ window: { type: 'global', trigger: {} } }),
      feature({ window: { type: 'global', trigger: { count: 1.5 } } }),
      feature({ colour: 'blue' }),
      specDoc({ latePolicy: 'ignore' }),
      specDoc({ features: [] }),
      specDoc({ watermark: {} }),
      specDoc({ source: { keyField: '', timeField: 't' } }),
      { ...specDoc(), extra: 1 },
    ];
    for (const doc of bad) {
      expect(accepted(doc), JSON.stringify(doc)).toBe(false);
      expect(validate(doc), JSON.stringify(doc)).toBe(false);
    }
  });
});
