/** The installable features client (package `event-time-feature-client`, built by `npm run build:client`; docs/serving.md). */
export {
  FeatureEndpointClient,
  type FeatureEndpointClientOptions,
  FeatureEndpointError,
  type FeatureRequestBody,
  type FeatureResponse,
  type FeatureStatus,
  type FeatureValue,
  type GetFeaturesOptions,
  type KeyFeatures,
  MAX_KEYS_PER_REQUEST,
  keyFeatures,
} from './feature-endpoint-client';
export { type Credentials, type CredentialsSource, Sha256, sigV4Signer } from './sign';
