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
  syncMigration,
} from './builtin-plans.js';
export { type RolloutClock, realClock, scaledClock } from './clock.js';
export {
  type AnswerView,
  type CompareOptions,
  type ComparisonResult,
  compareAnswers,
  type Difference,
  MAX_DIFFERENCES,
} from './compare.js';
export {
  GUARDS_LEASE,
  LEASE_TTL_MS,
  PAUSE_DEADLINE_MS,
  RolloutController,
} from './controller.js';
export { RolloutGauges } from './custom-metrics.js';
export { type IntervalFigures, RolloutFigures, type Variant } from './figures.js';
export { type FlagContext, RolloutFlags } from './flags.js';
export { type Locale, type NotificationKind, renderNotification } from './notification-templates.js';
export { Notifier, type NotifierStats } from './notifier.js';
export { KeelFlagProvider } from './openfeature-provider.js';
export { OperatorActions } from './operator-actions.js';
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
  movedSwitches,
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
export { Rollout, type RolloutOptions } from './rollout.js';
export * from './state.js';
export {
  errorRateWorse,
  latencyWorse,
  MIN_EXPECTED,
  MIN_LATENCY_SAMPLES,
  type Verdict,
} from './statistics.js';
export {
  InProcessBackend,
  MemoryRolloutStore,
  openFileRolloutStore,
  openPostgresRolloutStore,
  openRedisRolloutStore,
  openRolloutStore,
  REJOIN_EVERY_MS,
  RejoiningRolloutStore,
  type RolloutStoreOptions,
} from './store/index.js';
export { SwitchBoard } from './switch-board.js';
