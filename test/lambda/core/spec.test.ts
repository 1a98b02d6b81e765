import { describe, expect, it } from 'vitest';
import { SpecError, longestWindowMs, parseSpec, parseSpecJson, servingRetentionMs } from '../../../lambda/core/spec';
import { specDoc } from '../../support/engine-harness';

/** Runs parseSpec on a document that must be refused and returns its problems. */
function problemsOf(doc: unknown): readonly string[] {
  try {
    parseSpec(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).problems;
  }
  throw new Error('spec was accepted');
}

const tumbling = { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' };

describe('parseSpec: valid documents', () => {
  it('accepts the example of the semantics document and keeps every field', () => {
    const spec = parseSpec({
      source: { keyField: 'user_id', timeField: 'event_time', idField: 'event_id' },
      watermark: { allowedLatenessMs: 30000, maxFutureSkewMs: 300000 },
      latePolicy: 'dlq',
      features: [
        { name: 'txn_count_5m', window: { type: 'tumbling', sizeMs: 300000 }, aggregate: 'count' },
        { name: 'spend_1h_every_5m', window: { type: 'sliding', sizeMs: 3600000, slideMs: 300000 }, aggregate: 'sum', field: 'amount' },
        { name: 'session_spend', window: { type: 'session', gapMs: 1800000 }, aggregate: 'sum', field: 'amount' },
      ],
    });
    expect(spec).toEqual({
      source: { keyField: 'user_id', timeField: 'event_time', idField: 'event_id' },
      watermark: { allowedLatenessMs: 30000, maxFutureSkewMs: 300000 },
      latePolicy: 'dlq',
      features: [
        { name: 'txn_count_5m', window: { type: 'tumbling', sizeMs: 300000 }, aggregate: 'count' },
        { name: 'spend_1h_every_5m', window: { type: 'sliding', sizeMs: 3600000, slideMs: 300000 }, aggregate: 'sum', field: 'amount' },
        { name: 'session_spend', window: { type: 'session', gapMs: 1800000 }, aggregate: 'sum', field: 'amount' },
      ],
    });
    expect(longestWindowMs(spec)).toBe(3600000);
  });

  it('defaults latePolicy to "dlq"', () => {
    const doc = specDoc();
    delete doc.latePolicy;
    expect(parseSpec(doc).latePolicy).toBe('dlq');
  });

  it.each(['dlq', 'drop', 'update'])('accepts latePolicy %s', (p) => {
    expect(parseSpec(specDoc({ latePolicy: p })).latePolicy).toBe(p);
  });

  it('makes idField and maxFutureSkewMs optional, and accepts zero lateness and zero skew', () => {
    const spec = parseSpec(specDoc({ source: { keyField: 'u', timeField: 't' }, watermark: { allowedLatenessMs: 0 } }));
    expect(spec.source).toEqual({ keyField: 'u', timeField: 't' });
    expect(spec.watermark).toEqual({ allowedLatenessMs: 0 });
    expect(parseSpec(specDoc({ watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 0 } })).watermark.maxFutureSkewMs).toBe(0);
  });

  it('accepts slide equal to size and a count with an (ignored) field', () => {
    const spec = parseSpec(
      specDoc({
        features: [
          { name: 'a', window: { type: 'sliding', sizeMs: 10, slideMs: 10 }, aggregate: 'count' },
          { name: 'b', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count', field: 'amount' },
        ],
      }),
    );
    expect(spec.features.map((f) => f.name)).toEqual(['a', 'b']);
  });

  it.each(['min', 'max', 'avg', 'sum'])('accepts aggregate %s with a field', (agg) => {
    const spec = parseSpec(specDoc({ features: [{ name: 'x', window: { type: 'tumbling', sizeMs: 5 }, aggregate: agg, field: 'v' }] }));
    expect(spec.features[0]).toEqual({ name: 'x', window: { type: 'tumbling', sizeMs: 5 }, aggregate: agg, field: 'v' });
  });
});

describe('parseSpec: every rule names the path of the bad field', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['slideMs not an integer', { features: [tumbling, { name: 's', window: { type: 'sliding', sizeMs: 10, slideMs: 2.5 }, aggregate: 'count' }] }, /^features\[1\]\.window\.slideMs must be a positive integer/],
    ['slideMs zero', { features: [{ name: 's', window: { type: 'sliding', sizeMs: 10, slideMs: 0 }, aggregate: 'count' }] }, /^features\[0\]\.window\.slideMs must be a positive integer/],
    ['sizeMs negative', { features: [{ name: 's', window: { type: 'tumbling', sizeMs: -5 }, aggregate: 'count' }] }, /^features\[0\]\.window\.sizeMs must be a positive integer/],
    ['sizeMs a string', { features: [{ name: 's', window: { type: 'tumbling', sizeMs: '10' }, aggregate: 'count' }] }, /^features\[0\]\.window\.sizeMs must be a positive integer/],
    ['gapMs missing', { features: [{ name: 's', window: { type: 'session' }, aggregate: 'count' }] }, /^features\[0\]\.window\.gapMs must be a positive integer/],
    ['sizeMs over ten years', { features: [{ name: 's', window: { type: 'tumbling', sizeMs: 400 * 365 * 86400000 }, aggregate: 'count' }] }, /^features\[0\]\.window\.sizeMs must be at most/],
    ['unknown window type', { features: [{ name: 's', window: { type: 'hopping', sizeMs: 10 }, aggregate: 'count' }] }, /^features\[0\]\.window\.type must be one of "tumbling", "sliding", "session"/],
    ['window not an object', { features: [{ name: 's', window: 10, aggregate: 'count' }] }, /^features\[0\]\.window must be an object/],
    ['unknown aggregate', { features: [{ name: 's', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'median', field: 'v' }] }, /^features\[0\]\.aggregate must be one of "count", "sum", "min", "max", "avg"/],
    ['empty name', { features: [{ name: '  ', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' }] }, /^features\[0\]\.name must be a non-empty string/],
    ['field not a string', { features: [{ name: 's', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'max', field: 3 }] }, /^features\[0\]\.field must be a non-empty string/],
    ['feature not an object', { features: ['cnt'] }, /^features\[0\] must be an object/],
    ['features empty', { features: [] }, /^features must be a non-empty array/],
    ['features missing', { features: undefined }, /^features must be a non-empty array/],
    ['keyField missing', { source: { timeField: 't' } }, /^source\.keyField must be a non-empty string/],
    ['timeField empty', { source: { keyField: 'k', timeField: '' } }, /^source\.timeField must be a non-empty string/],
    ['idField a number', { source: { keyField: 'k', timeField: 't', idField: 7 } }, /^source\.idField must be a non-empty string/],
    ['source missing', { source: undefined }, /^source must be an object/],
    ['watermark missing', { watermark: undefined }, /^watermark must be an object/],
    ['allowedLatenessMs negative', { watermark: { allowedLatenessMs: -1 } }, /^watermark\.allowedLatenessMs must be a non-negative integer/],
    ['allowedLatenessMs missing', { watermark: {} }, /^watermark\.allowedLatenessMs must be a non-negative integer/],
    ['maxFutureSkewMs fractional', { watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 0.5 } }, /^watermark\.maxFutureSkewMs must be a non-negative integer/],
    ['latePolicy unknown', { latePolicy: 'ignore' }, /^latePolicy must be one of "dlq", "drop", "update"/],
    ['correctionHorizonMs without update', { correctionHorizonMs: 1000 }, /^correctionHorizonMs applies to latePolicy "update" only \(latePolicy is "dlq"\)/],
    ['correctionHorizonMs negative', { latePolicy: 'update', correctionHorizonMs: -5 }, /^correctionHorizonMs must be a non-negative integer/],
  ];

  it('counts the final windows of the correction horizon in what a key keeps', () => {
    const problems = problemsOf(specDoc({ latePolicy: 'update', correctionHorizonMs: 100_000, features: [{ name: 'c', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' }] }));
    expect(problems[0]).toMatch(/^features\[0\]\.window keeps up to 10002 open slices of 10 ms and final windows per key/);
  });

  it.each(cases)('%s', (_name, overrides, expected) => {
    const problems = problemsOf(specDoc(overrides));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('requires a field for sum, min, max and avg, naming the feature path', () => {
    for (const agg of ['sum', 'min', 'max', 'avg']) {
      const problems = problemsOf(specDoc({ features: [tumbling, { name: 'x', window: { type: 'tumbling', sizeMs: 10 }, aggregate: agg }] }));
      expect(problems).toEqual([`features[1].field is required for aggregate "${agg}"`]);
    }
  });

  it('refuses duplicate feature names, naming both positions', () => {
    const problems = problemsOf(specDoc({ features: [tumbling, { ...tumbling, window: { type: 'tumbling', sizeMs: 20 } }] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('features[1].name "cnt"');
    expect(problems[0]).toContain('features[0]');
  });

  it('refuses a slide larger than the size', () => {
    const problems = problemsOf(specDoc({ features: [{ name: 's', window: { type: 'sliding', sizeMs: 10, slideMs: 11 }, aggregate: 'count' }] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^features\[0\]\.window\.slideMs must not exceed features\[0\]\.window\.sizeMs/);
    expect(problems[0]).toContain('11 > 10');
  });

  it('refuses unknown keys at every level, naming each', () => {
    const problems = problemsOf({
      ...specDoc(),
      extra: true,
      source: { keyField: 'k', timeField: 't', partition: 'p' },
      watermark: { allowedLatenessMs: 0, idleMs: 5 },
      features: [{ ...tumbling, offsetMs: 3, window: { type: 'tumbling', sizeMs: 10, slideMs: 10 } }],
    });
    expect(problems).toHaveLength(5);
    expect(problems.some((p) => p.startsWith('spec.extra is not a known field'))).toBe(true);
    expect(problems.some((p) => p.startsWith('source.partition is not a known field'))).toBe(true);
    expect(problems.some((p) => p.startsWith('watermark.idleMs is not a known field'))).toBe(true);
    expect(problems.some((p) => p.startsWith('features[0].offsetMs is not a known field'))).toBe(true);
    expect(problems.some((p) => p.startsWith('features[0].window.slideMs is not a known field'))).toBe(true);
  });

  it('reports several problems at once', () => {
    const problems = problemsOf({
      source: { keyField: '', timeField: 't' },
      watermark: { allowedLatenessMs: -5 },
      latePolicy: 'retry',
      features: [
        { name: 'a', window: { type: 'sliding', sizeMs: 10, slideMs: 0 }, aggregate: 'count' },
        { name: 'b', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum' },
        { name: 'a', window: { type: 'session', gapMs: 5 }, aggregate: 'count' },
      ],
    });
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^source\.keyField/);
    expect(problems[1]).toMatch(/^watermark\.allowedLatenessMs/);
    expect(problems[2]).toMatch(/^latePolicy/);
    expect(problems[3]).toMatch(/^features\[0\]\.window\.slideMs/);
    expect(problems[4]).toMatch(/^features\[1\]\.field is required/);
  });

  it('puts every problem in the error message too', () => {
    let message = '';
    try {
      parseSpec(specDoc({ latePolicy: 'x', watermark: { allowedLatenessMs: 'soon' } }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('watermark.allowedLatenessMs');
    expect(message).toContain('latePolicy');
  });

  it('refuses a document that is not an object', () => {
    expect([null, [], 'spec', 42].map(problemsOf)).toEqual([['spec must be an object, got null'], ['spec must be an object, got []'], ['spec must be an object, got "spec"'], ['spec must be an object, got 42']]);
  });

  it('echoes the bad value, clipped, or says that it is missing', () => {
    expect(problemsOf(specDoc({ latePolicy: 'ignore' }))).toEqual(['latePolicy must be one of "dlq", "drop", "update", got "ignore"']);
    expect(problemsOf(specDoc({ watermark: {} }))).toEqual(['watermark.allowedLatenessMs must be a non-negative integer (milliseconds); it is missing']);
    const long = 'x'.repeat(100);
    expect(problemsOf(specDoc({ features: [{ name: 's', window: { type: long, sizeMs: 10 }, aggregate: 'count' }] }))[0]).toBe(`features[0].window.type must be one of "tumbling", "sliding", "session", "global", got "${'x'.repeat(59)}…`);
  });
});

describe('parseSpecJson', () => {
  it('parses JSON text', () => {
    expect(parseSpecJson(JSON.stringify(specDoc())).features[0]!.name).toBe('cnt');
  });

  it('reports a syntax error as a spec problem', () => {
    expect(() => parseSpecJson('{"source": ')).toThrow(SpecError);
    try {
      parseSpecJson('{"source": ');
    } catch (e) {
      expect((e as SpecError).problems).toHaveLength(1);
      expect((e as SpecError).problems[0]).toMatch(/^spec is not valid JSON/);
    }
  });

  it('validates the parsed document', () => {
    expect(() => parseSpecJson(JSON.stringify(specDoc({ latePolicy: 'never' })))).toThrow(/latePolicy must be one of/);
  });
});

describe('state size limits', () => {
  const base = { source: { keyField: 'k', timeField: 't' }, watermark: { allowedLatenessMs: 0 } };

  it('refuses a window whose open slices per key could not fit in the key state item', () => {
    // A day sliding every second: 86,400 one-second slices per key.
    const doc = { ...base, features: [{ name: 'a', window: { type: 'sliding', sizeMs: 86_400_000, slideMs: 1000 }, aggregate: 'count' }] };
    expect(() => parseSpec(doc)).toThrow(/features\[0\]\.window keeps up to 86401 open slices of 1000 ms per key/);
  });

  it('counts allowed lateness, which keeps slices and sessions open longer', () => {
    const doc = {
      source: base.source,
      watermark: { allowedLatenessMs: 30 * 86_400_000 },
      features: [{ name: 's', window: { type: 'session', gapMs: 60_000 }, aggregate: 'count' }],
    };
    expect(() => parseSpec(doc)).toThrow(/features\[0\]\.window keeps up to 43202 open sessions per key/);
  });

  it('refuses features that fit one by one but not together', () => {
    const f = (name: string) => ({ name, window: { type: 'sliding', sizeMs: 1_500_000, slideMs: 1000 }, aggregate: 'count' });
    expect(() => parseSpec({ ...base, features: [f('a'), f('b'), f('c')] })).toThrow(/features together keep up to 4503 open slices/);
  });

  it('accepts the example spec and hour-long windows sliding every minute', () => {
    const doc = { ...base, features: [{ name: 'a', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 60_000 }, aggregate: 'sum', field: 'x' }] };
    expect(parseSpec(doc).features).toHaveLength(1);
  });
});

describe('newer aggregates and global windows', () => {
  const f = (extra: Record<string, unknown>) => specDoc({ features: [{ name: 'x', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'sum', field: 'amount', ...extra }] });

  it('accepts distinct, percentile (relative accuracy defaulting to 0.01 in the sketch), first, last and global windows', () => {
    const spec = parseSpec(
      specDoc({
        features: [
          { name: 'd', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'distinct', field: 'merchant' },
          { name: 'p', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.95 },
          { name: 'l', window: { type: 'session', gapMs: 10 }, aggregate: 'last', field: 'amount' },
          { name: 'g', window: { type: 'global', trigger: { count: 5 } }, aggregate: 'first', field: 'amount' },
        ],
      }),
    );
    expect(spec.features[1]).toEqual({ name: 'p', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'percentile', field: 'amount', percentile: 0.95 });
    expect(spec.features[3]!.window).toEqual({ type: 'global', trigger: { count: 5, purge: false } });
    // A global window bounds no retention.
    expect(longestWindowMs(spec)).toBe(10);
  });

  it('names each bad field', () => {
    expect(problemsOf(f({ aggregate: 'median' }))).toEqual([expect.stringMatching(/^features\[0\]\.aggregate must be one of .*"distinct", "percentile", "first", "last"/)]);
    expect(problemsOf(f({ aggregate: 'percentile' }))).toEqual(['features[0].percentile is required for aggregate "percentile" (for example 0.95)']);
    expect(problemsOf(f({ aggregate: 'percentile', percentile: 95 }))).toEqual(['features[0].percentile must be a number between 0 and 1 (exclusive), got 95']);
    expect(problemsOf(f({ aggregate: 'percentile', percentile: 0.5, relativeAccuracy: 0 }))).toEqual(['features[0].relativeAccuracy must be a number between 0 and 1 (exclusive), got 0']);
    expect(problemsOf(f({ percentile: 0.5 }))).toEqual(['features[0].percentile only applies to aggregate "percentile", not "sum"']);
    expect(problemsOf(f({ aggregate: 'distinct', field: undefined }))).toEqual(['features[0].field is required for aggregate "distinct"']);
    expect(problemsOf(f({ window: { type: 'global', trigger: {} } }))).toEqual([expect.stringMatching(/^features\[0\]\.window\.trigger needs "count"/)]);
    expect(problemsOf(f({ window: { type: 'global', trigger: { everyMs: -1, purge: 'yes' } } }))).toEqual([
      'features[0].window.trigger.everyMs must be a positive integer (milliseconds), got -1',
      'features[0].window.trigger.purge must be true or false, got "yes"',
    ]);
    expect(problemsOf(f({ window: { type: 'global' } }))).toEqual(['features[0].window.trigger must be an object; it is missing']);
  });

  it('bounds the bytes a key can hold with the largest form of each aggregate', () => {
    // 241 open one-minute slices of a distinct count: 241 × (20 + 3,081) bytes, over the 300,000-byte item budget.
    const doc = specDoc({ features: [{ name: 'm', window: { type: 'sliding', sizeMs: 14_400_000, slideMs: 60_000 }, aggregate: 'distinct', field: 'merchant' }] });
    expect(problemsOf(doc)).toEqual([expect.stringMatching(/^features\[0\] could keep up to 747341 bytes of state per key \(241 open slices of 60000 ms of up to 3081 bytes for "distinct"\)/)]);
  });

});

describe('serving fields of the spec', () => {
  const f = (extra: Record<string, unknown>) => specDoc({ features: [{ name: 'x', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count', ...extra }] });

  it('accepts maxStalenessMs on a feature and keeps it', () => {
    expect(parseSpec(f({ maxStalenessMs: 60_000 })).features[0]!.maxStalenessMs).toBe(60_000);
    expect(parseSpec(f({})).features[0]!.maxStalenessMs).toBeUndefined();
  });

  it('names a bad maxStalenessMs, beside other problems of the feature', () => {
    expect(problemsOf(f({ maxStalenessMs: 0 }))).toEqual(['features[0].maxStalenessMs must be a positive integer (milliseconds), got 0']);
    expect(problemsOf(f({ maxStalenessMs: '1m' }))).toEqual(['features[0].maxStalenessMs must be a positive integer (milliseconds), got "1m"']);
    expect(problemsOf(f({ aggregate: 'percentile', field: 'a', maxStalenessMs: -5 }))).toEqual([
      'features[0].maxStalenessMs must be a positive integer (milliseconds), got -5',
      'features[0].percentile is required for aggregate "percentile" (for example 0.95)',
    ]);
  });

  it('keeps final windows for serving as long as records may run ahead of their arrival beyond the lateness', () => {
    expect(servingRetentionMs({ allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 })).toBe(270_000);
    expect(servingRetentionMs({ allowedLatenessMs: 30_000, maxFutureSkewMs: 10_000 })).toBe(0);
    expect(servingRetentionMs({ allowedLatenessMs: 30_000 })).toBe(0);
  });

  it('counts the final windows kept for serving in the bound of a key\'s state', () => {
    const feature = { name: 'm', window: { type: 'sliding', sizeMs: 60_000, slideMs: 1_000 }, aggregate: 'count' };
    // (60 s + 0) / 1 s + 1 = 61 slices; with a retention of 2,000 s, up to 2,001 final windows more.
    expect(() => parseSpec(specDoc({ features: [feature], watermark: { allowedLatenessMs: 0 } }))).not.toThrow();
    expect(problemsOf(specDoc({ features: [feature], watermark: { allowedLatenessMs: 0, maxFutureSkewMs: 2_000_000 } }))).toEqual([
      "features[0].window keeps up to 2062 open slices of 1000 ms and final windows per key (window plus allowed lateness, and final ones kept for serving); at most 2000 fit in a key's state item: use a coarser slide or gap, or less allowed lateness, or maxFutureSkewMs closer to it",
    ]);
  });
});

describe('scoring and evaluation sections', () => {
  const base = { source: { keyField: 'k', timeField: 't' }, watermark: { allowedLatenessMs: 0 }, features: [tumbling] };

  it('applies the evaluation defaults and keeps the model path', () => {
    const s = parseSpec({ ...base, scoring: { model: 'm.json' }, evaluation: { labelWindowMs: 604_800_000 } });
    expect(s.scoring).toEqual({ model: 'm.json' });
    expect(s.evaluation).toEqual({ windowMs: 3_600_000, labelWindowMs: 604_800_000, unlabeled: 'negative', minPrecision: 0.5, minRecall: 0.5, maxPsi: 0.2, maxFeaturePsi: 0.25, maxFeatureEmptyShare: 0.5 });
    expect(parseSpec(base).scoring).toBeUndefined();
  });

  it('names every bad field', () => {
    expect(problemsOf({ ...base, scoring: { model: '', extra: 1 } })).toEqual([
      'scoring.extra is not a known field (allowed: model)',
      'scoring.model must be a non-empty string, got ""',
    ]);
    expect(
      problemsOf({ ...base, scoring: { model: 'm.json' }, evaluation: { windowMs: 0, unlabeled: 'maybe', minPrecision: 2, minRecall: -1, maxPsi: 'x', referenceWindowStart: 5 } }),
    ).toEqual([
      'evaluation.windowMs must be a positive integer (milliseconds), got 0',
      'evaluation.labelWindowMs must be a positive integer (milliseconds); it is missing',
      'evaluation.unlabeled must be one of "negative", "unknown", got "maybe"',
      'evaluation.minPrecision must be a number from 0 to 1, got 2',
      'evaluation.minRecall must be a number from 0 to 1, got -1',
      'evaluation.maxPsi must be a number from 0 to 100, got "x"',
    ]);
    expect(
      problemsOf({ ...base, scoring: { model: 'm.json' }, evaluation: { labelWindowMs: 10, maxFeaturePsi: -0.1, maxFeatureEmptyShare: 1.5, minEstimatedPrecision: 'high', minEstimatedRocAuc: null } }),
    ).toEqual([
      'evaluation.maxFeaturePsi must be a number from 0 to 100, got -0.1',
      'evaluation.maxFeatureEmptyShare must be a number from 0 to 1, got 1.5',
      'evaluation.minEstimatedPrecision must be a number from 0 to 1, got "high"',
      'evaluation.minEstimatedRocAuc must be a number from 0 to 1, got null',
    ]);
    expect(parseSpec({ ...base, scoring: { model: 'm.json' }, evaluation: { labelWindowMs: 10, maxFeaturePsi: 0.3, maxFeatureEmptyShare: 0.1, minEstimatedPrecision: 0.4, minEstimatedRocAuc: 0.7 } }).evaluation).toMatchObject({
      maxFeaturePsi: 0.3,
      maxFeatureEmptyShare: 0.1,
      minEstimatedPrecision: 0.4,
      minEstimatedRocAuc: 0.7,
    });
    expect(problemsOf({ ...base, scoring: { model: 'm.json' }, evaluation: { labelWindowMs: 10, windowMs: 60_000, referenceWindowStart: 5 } })).toEqual([
      'evaluation.referenceWindowStart must be the start of an evaluation window (a multiple of windowMs 60000), got 5',
    ]);
    expect(problemsOf({ ...base, evaluation: { labelWindowMs: 10 } })).toEqual(['evaluation needs a scoring section: it measures the predictions scoring makes']);
  });
});
