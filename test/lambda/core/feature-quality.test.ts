/** Data quality at scoring time: the values a model read, counted by their status. */
import { describe, expect, it } from 'vitest';
import { type Prediction, type PredictionFeature, featureQuality } from '../../../lambda/core/scoring';

const f = (status: PredictionFeature['status'], value: number | null = status === 'present' ? 1 : null): PredictionFeature => ({ value, newestEventTime: null, status });

function prediction(features: Record<string, PredictionFeature>): Prediction {
  return { predictionId: 'm:e', key: 'k', eventId: 'e', eventTime: 0, arrivalTime: 0, featuresAt: 0, scoredAt: 0, score: 0.1, positive: false, modelVersion: 'm', features };
}

describe('feature quality at scoring time', () => {
  it('counts every value read, and the empty, stale (written-after too) and unavailable ones', () => {
    const q = featureQuality([
      prediction({ a: f('present'), b: f('empty'), c: f('stale', 3) }),
      prediction({ a: f('unavailable'), b: f('written-after', 2), c: f('present') }),
      prediction({}),
    ]);
    expect(q).toEqual({ values: 6, empty: 1, stale: 2, unavailable: 1 });
    expect(featureQuality([])).toEqual({ values: 0, empty: 0, stale: 0, unavailable: 0 });
  });
});
