/**
 * The package's entry point for Node model servers: features as of a time, read from the pipeline's key items
 * (docs/serving.md).
 */
export { FeatureClient, type FeatureClientOptions, type GetFeaturesOptions, featureClientFromEnv, getFeatures } from './feature-client';
export { FeatureRequestError, type KeyFeatures, MAX_KEYS_PER_REQUEST } from '../core/feature-request';
export { type FeatureStatus, type ServedFeature, UnknownFeatureError } from '../core/serving';
export { type PipelineSpec, SpecError, parseSpec, parseSpecJson } from '../core/spec';
