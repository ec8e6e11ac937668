/** keel/rollout: switches, bucketing, plans, guards and the controller of progressive delivery. */
export { isInRollout, murmur3, normalizedValue, variantOf, type WeightedVariant } from './bucketing.js';
export * from './state.js';
