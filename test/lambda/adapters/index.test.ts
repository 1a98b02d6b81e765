import { describe, expect, it } from 'vitest';
import * as direct from '../../../lambda/adapters/index';

describe("the package's entry point", () => {
  it('resolves by the package name to the features client and its types', async () => {
    // By name, as a model server imports it (through package.json "exports"; this project compiles with the older module resolution, which cannot name itself).
    const name = 'event-time-feature-pipeline';
    const pkg = (await import(name)) as typeof direct;
    expect(Object.keys(pkg).sort()).toEqual(['FeatureClient', 'FeatureRequestError', 'MAX_KEYS_PER_REQUEST', 'SpecError', 'UnknownFeatureError', 'featureClientFromEnv', 'getFeatures', 'parseSpec', 'parseSpecJson']);
    expect(pkg.FeatureClient).toBe(direct.FeatureClient);
  });
});
