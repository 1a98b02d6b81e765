import { describe, expect, it } from 'vitest';
import { FeatureRequestError, type KeyFeatures, featureResponse, parseFeatureRequest } from '../../../lambda/core/feature-request';
import { parseSpec } from '../../../lambda/core/spec';
import { specDoc } from '../../support/engine-harness';

const spec = parseSpec(
  specDoc({
    features: [
      { name: 'cnt', window: { type: 'tumbling', sizeMs: 10 }, aggregate: 'count' },
      { name: 'g', window: { type: 'global', trigger: { count: 5 } }, aggregate: 'max', field: 'amount' },
    ],
  }),
);

/** The field and message a bad request is refused with. */
function refusal(body: unknown): [string, string] {
  try {
    parseFeatureRequest(body, spec);
  } catch (e) {
    expect(e).toBeInstanceOf(FeatureRequestError);
    return [(e as FeatureRequestError).field, (e as FeatureRequestError).message];
  }
  throw new Error('request was accepted');
}

describe('parseFeatureRequest', () => {
  it('reads keys as strings, feature names and a time in either form', () => {
    expect(parseFeatureRequest({ entities: { user: ['u1', 42] }, features: ['g'], at: '2026-11-30T10:00:00Z' }, spec)).toEqual({ keys: ['u1', '42'], features: ['g'], at: Date.UTC(2026, 10, 30, 10) });
    expect(parseFeatureRequest({ entities: { user: ['u1'] }, at: 1700000000000 }, spec)).toEqual({ keys: ['u1'], features: undefined, at: 1700000000000 });
    expect(parseFeatureRequest({ entities: { user: ['u1'] } }, spec).at).toBeUndefined();
  });

  it('names the field of every bad request', () => {
    expect(refusal([])).toEqual(['body', 'body must be a JSON object, got []']);
    expect(refusal({ entities: { user: [] } })).toEqual(['entities.user', 'entities.user holds no keys: give at least one']);
    expect(refusal({ entities: { user: Array.from({ length: 101 }, (_, i) => `u${i}`) } })).toEqual(['entities.user', 'entities.user holds 101 keys: at most 100 a request']);
    expect(refusal({ entities: { user_id: ['u1'] } })).toEqual(['entities.user_id', 'entities.user_id is not this pipeline\'s key field (it is "user")']);
    expect(refusal({})).toEqual(['entities', 'entities must be an object {"user": [keys]}, got undefined']);
    expect(refusal({ entities: { user: 'u1' } })).toEqual(['entities.user', 'entities.user must be an array of keys, got "u1"']);
    expect(refusal({ entities: { user: ['u1', ''] } })).toEqual(['entities.user[1]', 'entities.user[1] must be a non-empty string or a finite number, got ""']);
    expect(refusal({ entities: { user: ['\ud800'] } })[0]).toBe('entities.user[0]');
    expect(refusal({ entities: { user: ['x'.repeat(1025)] } })).toEqual(['entities.user[0]', 'entities.user[0] is over 1024 bytes of UTF-8: no key is']);
    expect(refusal({ entities: { user: ['u1'] }, features: ['cnt', 'txn_count'] })).toEqual(['features[1]', 'features[1] is not a feature of this pipeline: "txn_count" (features: cnt, g)']);
    expect(refusal({ entities: { user: ['u1'] }, features: 'cnt' })).toEqual(['features', 'features must be an array of feature names, got "cnt"']);
    expect(refusal({ entities: { user: ['u1'] }, at: 'yesterday' })).toEqual(['at', 'at must be a time (epoch milliseconds or ISO-8601), got "yesterday"']);
    expect(refusal({ entities: { user: ['u1'] }, at: '2023-02-29' })[0]).toBe('at');
    expect(refusal({ entities: { user: ['u1'] }, full_feature_names: true })).toEqual(['full_feature_names', 'full_feature_names is not a known field (allowed: entities, features, at)']);
  });
});

describe('featureResponse', () => {
  it('has the key column first, then one column per feature, one entry per key, after Feast', () => {
    const row = (key: string, found: boolean, count: number): KeyFeatures => ({
      key,
      found,
      watermark: found ? 5 : null,
      writtenAt: found ? 9 : null,
      features: {
        cnt: { feature: 'cnt', value: count, count, windowStart: 0, windowEnd: 10, newestEventTime: count > 0 ? 7 : null, watermark: found ? 5 : null, writtenAt: found ? 9 : null, status: count > 0 ? 'present' : 'empty' },
      },
    });
    expect(featureResponse(spec, ['cnt'], 8, [row('u1', true, 2), row('nobody', false, 0)])).toEqual({
      metadata: {
        feature_names: ['user', 'cnt'],
        at: '1970-01-01T00:00:00.008Z',
        found: [true, false],
        watermarks: ['1970-01-01T00:00:00.005Z', null],
        written_at: ['1970-01-01T00:00:00.009Z', null],
      },
      results: [
        { values: ['u1', 'nobody'], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: [null, null] },
        {
          values: [2, 0],
          statuses: ['PRESENT', 'EMPTY'],
          event_timestamps: ['1970-01-01T00:00:00.007Z', null],
          counts: [2, 0],
          window_starts: ['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z'],
          window_ends: ['1970-01-01T00:00:00.010Z', '1970-01-01T00:00:00.010Z'],
        },
      ],
    });
  });
});
