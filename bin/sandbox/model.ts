/**
 * The story's model: a rule a fraud team would start from, read on served features only (as of the time the model
 * asks), so what it sees is what a deployed model would see. Flags a user whose spend in the trailing hour
 * reaches $400 or who paid five times or more in it.
 */
import type { KeyFeatures } from '../../lambda/core/feature-request';

export const MODEL_RULE = 'spend_1h_every_5m ≥ $400 or txn_count_1h_every_5m ≥ 5';

export function flags(k: KeyFeatures): boolean {
  const spend = k.features.spend_1h_every_5m?.value ?? 0;
  const count = k.features.txn_count_1h_every_5m?.value ?? 0;
  return spend >= 400 || count >= 5;
}
