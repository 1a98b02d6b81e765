/**
 * Scoring on fresh features (the scoring pattern): a record the feature consumer applied is scored with its key's
 * features as of its own arrival, the record itself included (arrival-features.ts): what the serving API answers
 * as of that time, and what a training row at that time holds. The prediction names the model version and, per
 * feature, the value, its status and the newest event time it includes.
 */
import type { Model } from './model';
import type { AppliedRecord } from './results';
import type { FeatureStatus, ServedFeature } from './serving';

export interface PredictionFeature {
  readonly value: number | null;
  /** Newest event time among the records the value includes (null when unknown or none). */
  readonly newestEventTime: number | null;
  readonly status: FeatureStatus;
}

export interface Prediction {
  /** `<modelVersion>:<eventId>`: one prediction per event and model version. */
  readonly predictionId: string;
  readonly key: string;
  readonly eventId: string;
  readonly eventTime: number;
  /** When the event reached the stream; null when the source gave none. */
  readonly arrivalTime: number | null;
  /** The time the features were served as of: the record's arrival (the batch's clock for a record without one). */
  readonly featuresAt: number;
  /** When the prediction was made (wall clock). */
  readonly scoredAt: number;
  readonly score: number;
  /** score ≥ the model's threshold. */
  readonly positive: boolean;
  readonly modelVersion: string;
  readonly features: Readonly<Record<string, PredictionFeature>>;
}

export const predictionIdOf = (modelVersion: string, eventId: string): string => `${modelVersion}:${eventId}`;

/** The model version and event id of a prediction id; undefined when it has no colon. */
export function parsePredictionId(id: string): { modelVersion: string; eventId: string } | undefined {
  const i = id.indexOf(':');
  if (i <= 0 || i === id.length - 1) return undefined;
  return { modelVersion: id.slice(0, i), eventId: id.slice(i + 1) };
}

/** Scores one applied record with its key's served features (those the model reads). */
export function predict(model: Model, rec: AppliedRecord, served: Readonly<Record<string, ServedFeature>>, featuresAt: number, scoredAt: number): Prediction {
  const values: Record<string, number | null> = {};
  const features: Record<string, PredictionFeature> = {};
  for (const name of model.features) {
    const f = served[name];
    values[name] = f?.value ?? null;
    features[name] = { value: f?.value ?? null, newestEventTime: f?.newestEventTime ?? null, status: f?.status ?? 'unavailable' };
  }
  const score = model.score(values);
  return {
    predictionId: predictionIdOf(model.version, rec.eventId),
    key: rec.key,
    eventId: rec.eventId,
    eventTime: rec.eventTime,
    arrivalTime: rec.arrivalTime ?? null,
    featuresAt,
    scoredAt,
    score,
    positive: score >= model.threshold,
    modelVersion: model.version,
    features,
  };
}

/** The features' time − the newest event time among them: how old the freshest information was (null: none known). */
export function featureAgeMs(p: Prediction): number | null {
  let newest = -Infinity;
  for (const f of Object.values(p.features)) if (f.newestEventTime !== null && f.newestEventTime > newest) newest = f.newestEventTime;
  return Number.isFinite(newest) ? p.featuresAt - newest : null;
}

/** Data quality at scoring time: the (prediction, feature) pairs the model read, by status. */
export interface FeatureQuality {
  readonly values: number;
  readonly empty: number;
  /** Stale, or written after the time asked for (serving.ts): a value that may not be what the model should see. */
  readonly stale: number;
  readonly unavailable: number;
}

export function featureQuality(predictions: readonly Prediction[]): FeatureQuality {
  let values = 0;
  let empty = 0;
  let stale = 0;
  let unavailable = 0;
  for (const p of predictions) {
    for (const f of Object.values(p.features)) {
      values++;
      if (f.status === 'empty') empty++;
      else if (f.status === 'stale' || f.status === 'written-after') stale++;
      else if (f.status === 'unavailable') unavailable++;
    }
  }
  return { values, empty, stale, unavailable };
}
