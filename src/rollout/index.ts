/** keel/rollout: switches, bucketing, plans, guards and the controller of progressive delivery. */
export { isInRollout, murmur3, normalizedValue, variantOf, type WeightedVariant } from './bucketing.js';
export {
  BUILTIN_PLANS,
  type BuiltinPlan,
  blueGreen,
  cacheEnable,
  canary,
  migration,
  type PlanOptions,
} from './builtin-plans.js';
export {
  BUILTIN_METRICS,
  COMPARISON_TESTS,
  type Comparison,
  type Criterion,
  type CustomMetric,
  criterionText,
  DEFAULT_EVALUATION_INTERVAL_MS,
  type Gate,
  loadPlanFile,
  MAX_WEIGHT,
  type MetricUnit,
  type Op,
  type Plan,
  type Probe,
  parsePlan,
  planToYaml,
  type Stage,
  safeWeightsOf,
  stageWeights,
  type ThresholdCriterion,
  type Trigger,
  triggerText,
} from './plan.js';
export * from './state.js';
