/**
 * The built-in rollout plans, each a function of the route it moves (`migration({ route:
 * 'listing' })`) returning a Plan that planToYaml prints and parsePlan reads back unchanged:
 *
 * - `cache-enable`: the staged cache enablement. Read-only routes through the cache for 10 % of
 *   requests for 24 h (hit rate ≥ 60 %, error rate < 0.1 %, no slower than without the cache), then
 *   read-only at 100 % with write-affected routes at 10 % for 24 h (the cache consistent with the
 *   origin, its memory < 70 % of its budget), then every route for 48 h (the full set of targets).
 *   It moves the route groups `cache:read-only` and `cache:write-affected`, so it needs no route;
 *   its `candidate` side is the cached one.
 * - `migration`: a service moved to a new system in phases: shadow for a week (answers ≥ 99 %
 *   identical), 10 % for 3 days, 50 % for 3 days, 100 % for a week, then complete. Each phase has
 *   its success criteria and its own rollback conditions, severity high (they call for a rollback,
 *   which high does within the hour unless an operator acknowledges); the plan carries the severity
 *   tiers that apply throughout (critical error > 10 %; high and medium on error, latency against
 *   the old system, and resources).
 * - `sync-migration`: the same phases for the listing sync, moving `flag:sync.rest` (which system
 *   writes each listing) and judged on the sync's gauges: success rate, time per 1,000 rows
 *   against the old system, the shadow table's match rate, and rows lost (critical).
 * - `blue-green`: all traffic to the candidate at once; 30 health checks 10 s apart that must all
 *   pass, then 30 minutes of watch; automatic (critical) rollback on 5xx > 5 % or p99 > 10 s for
 *   5 minutes, or 3 failed health checks in a row.
 * - `canary`: 5 % → 25 % → 50 % → 100 %, each stage judged against the stable side with
 *   significance tests (not significantly worse in errors or latency).
 *
 * Every figure (weights, durations, thresholds) is read from ROLLOUT_GUARDS in the thresholds
 * table, the single source of the numbers; this file only arranges them. A criterion comparing
 * the two sides is left out of stages where one side has no traffic (a weight of 100 %).
 *
 * Gates: `migration` and `cache-enable` wait for an operator's word at each stage by default
 * (each phase ends with a person's decision to go on, after checks no metric covers: user reports,
 * logs, the database's load); `blue-green` and `canary` promote by themselves. `gate` changes it.
 */
import type { Level } from '../observability/index.js';
import { ROLLOUT_GUARDS } from '../observability/index.js';
import { parseDuration } from '../util/duration.js';
import {
  COMPARISON_TESTS,
  type Criterion,
  DEFAULT_EVALUATION_INTERVAL_MS,
  type Gate,
  MAX_WEIGHT,
  type Plan,
  type Stage,
  safeWeightsOf,
  type ThresholdCriterion,
  type Trigger,
} from './plan.js';
import type { Severity, SwitchKey } from './state.js';

export interface PlanOptions {
  /** The gateway route whose switches the plan moves (cache-enable moves route groups instead). */
  route: string;
  gate?: Gate;
}

/** A built-in plan as `keel rollout plans` offers it: cache-enable moves route groups, the others a route. */
export type BuiltinPlan = { summary: string } & (
  | { needsRoute: false; build: () => Plan }
  | { needsRoute: true; build: (route: string) => Plan }
);

const ms = (duration: string | number): number => parseDuration(duration) as number;
const rule = (metric: string, op: ThresholdCriterion['op'], threshold: number): ThresholdCriterion => ({
  metric,
  op,
  threshold,
});
const relative = (criterion: ThresholdCriterion, relativeTo: string): ThresholdCriterion => ({
  ...criterion,
  relativeTo,
});
const notWorse = (metric: 'error_rate' | 'latency'): Criterion => ({
  compare: { metric, test: COMPARISON_TESTS[metric], alpha: ROLLOUT_GUARDS.significance },
});
const after = (criterion: Criterion, duration: string, severity: Severity): Trigger => ({
  ...criterion,
  forMs: ms(duration),
  severity,
});
const past = (metric: string, level: Pick<Level, 'threshold' | 'for'>, severity: Severity): Trigger =>
  after(rule(metric, '>', level.threshold), level.for, severity);

interface StageSpec {
  name: string;
  description?: string;
  switches?: Partial<Record<SwitchKey, number>>;
  /** Written (`3d`) or in ms. */
  minDuration: string | number;
  success?: Criterion[];
  rollback?: Trigger[];
}

const stagesOf = (gate: Gate, specs: StageSpec[]): Stage[] =>
  specs.map(({ minDuration, switches = {}, success = [], rollback = [], ...rest }) => ({
    ...rest,
    switches,
    minDurationMs: ms(minDuration),
    gate,
    success,
    rollback,
  }));

/** A plan with the defaults a plan file gets: evaluated every 30 s, notified in English, every switch off when safe. */
function plan(fields: Pick<Plan, 'name' | 'description' | 'stages' | 'rollback'> & Partial<Plan>): Plan {
  return {
    evaluationIntervalMs: DEFAULT_EVALUATION_INTERVAL_MS,
    locale: 'en',
    metrics: {},
    safe: safeWeightsOf(fields.stages),
    ...fields,
  };
}

/** Cache enablement by route group: read-only 10 %, then 100 % and write-affected 10 %, then all. */
export function cacheEnable(options: { gate?: Gate } = {}): Plan {
  const { readOnly, writeAffected, everything, rollback, ...figures } = ROLLOUT_GUARDS.cacheEnable;
  const hitRate = rule('cache.hit_rate', '>=', figures.hitRateMin);
  const errorRate = rule('candidate.error_rate', '<', figures.errorRateMax);
  const memory = rule('cache.memory_ratio', '<', figures.cacheMemoryMax);
  const consistent = rule('cache.consistency_mismatch_rate', '<=', figures.consistencyMismatchMax);
  const stale = rule('cache.consistency_mismatch_rate', '>', figures.consistencyMismatchMax);
  const stages = stagesOf(options.gate ?? 'manual', [
    {
      name: `read-only-${readOnly.readOnlyWeight}`,
      description:
        'read-only routes cached for a share of requests; compare with the baseline and read the logs',
      switches: {
        'cache:read-only': readOnly.readOnlyWeight,
        'cache:write-affected': readOnly.writeAffectedWeight,
      },
      minDuration: readOnly.minDuration,
      success: [
        hitRate,
        errorRate,
        relative(rule('candidate.p95', '<=', figures.latencyVsBypassMax), 'stable.p95'),
      ],
      rollback: [after(notWorse('error_rate'), ROLLOUT_GUARDS.worseFor, 'high')],
    },
    {
      name: `write-affected-${writeAffected.writeAffectedWeight}`,
      description:
        'every read-only request cached, and a share of the routes writes invalidate; watch the Redis load',
      switches: {
        'cache:read-only': writeAffected.readOnlyWeight,
        'cache:write-affected': writeAffected.writeAffectedWeight,
      },
      minDuration: writeAffected.minDuration,
      success: [hitRate, errorRate, consistent, memory],
    },
    {
      name: 'everything',
      description: 'every route cached; run the alert test, the load test and a security scan',
      switches: { 'cache:read-only': everything.weight, 'cache:write-affected': everything.weight },
      minDuration: everything.minDuration,
      success: [hitRate, errorRate, consistent, memory, rule('candidate.p95', '<', figures.p95Max)],
    },
  ]);
  return plan({
    name: 'cache-enable',
    description: 'Cache enablement in stages: read-only routes, then write-affected routes, then every route',
    stages,
    rollback: [
      past('candidate.error_rate', rollback.errorRate, 'critical'),
      past('candidate.p99', rollback.p99, 'critical'),
      past('cache.memory_ratio', rollback.cacheMemory, 'high'),
      after(stale, rollback.consistencyFor, 'high'),
    ],
  });
}

/** CPU and memory of the process, each against `threshold`. */
const resources = (op: ThresholdCriterion['op'], threshold: number): ThresholdCriterion[] => [
  rule('process.cpu_ratio', op, threshold),
  rule('process.memory_ratio', op, threshold),
];

/** The candidate's p95 as a multiple of stable's, against `threshold`. */
const latencyVsStable = (op: ThresholdCriterion['op'], threshold: number): ThresholdCriterion =>
  relative(rule('candidate.p95', op, threshold), 'stable.p95');

/** A service moved to a new system: shadow, 10 %, 50 %, 100 %, complete. */
export function migration({ route, gate = 'manual' }: PlanOptions): Plan {
  const { shadow, smallTraffic, mediumTraffic, fullTraffic, breachFor } = ROLLOUT_GUARDS.migration;
  const errorBelow = (threshold: number) => rule('candidate.error_rate', '<', threshold);
  const high = (criterion: Criterion, duration: string = breachFor) => after(criterion, duration, 'high');
  const errorAbove = (threshold: number) => high(rule('candidate.error_rate', '>', threshold));
  const traffic = `traffic:${route}` as const;
  const stages = stagesOf(gate, [
    {
      name: 'shadow',
      description:
        'the new system answers a copy of every request, compared with the old; none reaches users',
      switches: { [`shadow:${route}`]: shadow.shadowWeight, [traffic]: shadow.trafficWeight },
      minDuration: shadow.minDuration,
      success: [
        rule('shadow.match_rate', '>=', shadow.matchRateMin),
        errorBelow(shadow.errorRateMax),
        rule('candidate.p95', '<', shadow.p95Max),
      ],
      rollback: [high(rule('shadow.match_rate', '<', shadow.matchRateMin), shadow.matchFor)],
    },
    {
      name: `traffic-${smallTraffic.weight}`,
      description: 'a small share of the traffic; go on when users report no problem',
      switches: { [`shadow:${route}`]: smallTraffic.shadowWeight, [traffic]: smallTraffic.weight },
      minDuration: smallTraffic.minDuration,
      success: [
        errorBelow(smallTraffic.errorRateMax),
        latencyVsStable('<=', smallTraffic.latencyVsStableMax),
      ],
      rollback: [
        errorAbove(smallTraffic.rollback.errorRateAbove),
        high(latencyVsStable('>=', smallTraffic.rollback.latencyVsStable)),
      ],
    },
    {
      name: `traffic-${mediumTraffic.weight}`,
      description: 'half the traffic; go on when the database load is acceptable',
      switches: { [traffic]: mediumTraffic.weight },
      minDuration: mediumTraffic.minDuration,
      success: [errorBelow(mediumTraffic.errorRateMax), ...resources('<', mediumTraffic.resourceMax)],
      rollback: [
        errorAbove(mediumTraffic.rollback.errorRateAbove),
        ...resources('>', mediumTraffic.rollback.resourceAbove).map((criterion) => high(criterion)),
      ],
    },
    {
      name: `traffic-${fullTraffic.weight}`,
      description: 'all the traffic, the old system standing by; go on when every function works',
      switches: { [traffic]: fullTraffic.weight },
      minDuration: fullTraffic.minDuration,
      success: [errorBelow(fullTraffic.errorRateMax)],
      rollback: [errorAbove(fullTraffic.rollback.errorRateAbove)],
    },
  ]);
  return plan({
    name: 'migration',
    description: `Migration of ${route} to its new system: shadow, then ${[smallTraffic, mediumTraffic, fullTraffic].map((phase) => `${phase.weight} %`).join(', ')} of the traffic, then complete`,
    stages,
    rollback: severityTiers(),
  });
}

/** The migration's severity tiers, watched in every phase. */
function severityTiers(): Trigger[] {
  const { severities, criticalFor, breachFor } = ROLLOUT_GUARDS.migration;
  const tier = (severity: 'high' | 'medium'): Trigger[] => {
    const figures = severities[severity];
    return [
      rule('candidate.error_rate', '>', figures.errorRateAbove),
      latencyVsStable('>=', figures.latencyVsStable),
      ...resources('>', figures.resourceAbove),
    ].map((criterion) => after(criterion, breachFor, severity));
  };
  return [
    after(rule('candidate.error_rate', '>', severities.critical.errorRateAbove), criticalFor, 'critical'),
    ...tier('high'),
    ...tier('medium'),
  ];
}

/**
 * The listing sync moved to its new system by seed 003's phases: `flag:<flag>` shares the listings
 * out (0 % in the shadow phase, while the new system fills a shadow table that `keel sync verify
 * --against` compares; then 10, 50 and 100 % of the listings written by it). The guards read the
 * sync's gauges (sync/guard-figures.ts), registered in the process that evaluates them.
 */
export function syncMigration(options: { flag?: string; gate?: Gate } = {}): Plan {
  const { shadow, smallTraffic, mediumTraffic, fullTraffic, criticalFor, breachFor } =
    ROLLOUT_GUARDS.migration;
  const figures = ROLLOUT_GUARDS.syncMigration;
  const key: SwitchKey = `flag:${options.flag ?? figures.flag}`;
  const succeeds = (min: number) => rule('sync_success_rate', '>=', min);
  const fails = (below: number, severity: Severity, duration = breachFor) =>
    after(rule('sync_success_rate', '<', below), duration, severity);
  const slower = (ratio: number, severity: Severity) =>
    after(rule('sync_duration_vs_old', '>=', ratio), breachFor, severity);
  const stages = stagesOf(options.gate ?? 'manual', [
    {
      name: 'shadow',
      description: 'the new system syncs into its shadow table; verify compares it with the old one’s',
      switches: { [key]: shadow.trafficWeight },
      minDuration: shadow.minDuration,
      success: [rule('sync_match_rate', '>=', shadow.matchRateMin), succeeds(figures.successRateMin.shadow)],
      rollback: [after(rule('sync_match_rate', '<', shadow.matchRateMin), shadow.matchFor, 'high')],
    },
    {
      name: `sync-${smallTraffic.weight}`,
      description: 'the new system writes a small share of the listings',
      switches: { [key]: smallTraffic.weight },
      minDuration: smallTraffic.minDuration,
      success: [
        succeeds(figures.successRateMin.small),
        rule('sync_duration_vs_old', '<=', smallTraffic.latencyVsStableMax),
      ],
      rollback: [
        fails(figures.rollbackSuccessBelow.small, 'high'),
        slower(smallTraffic.rollback.latencyVsStable, 'high'),
      ],
    },
    {
      name: `sync-${mediumTraffic.weight}`,
      description: 'the new system writes half the listings; watch the database’s load',
      switches: { [key]: mediumTraffic.weight },
      minDuration: mediumTraffic.minDuration,
      success: [succeeds(figures.successRateMin.medium)],
      rollback: [fails(figures.rollbackSuccessBelow.medium, 'high')],
    },
    {
      name: `sync-${fullTraffic.weight}`,
      description: 'the new system writes every listing, the old one standing by',
      switches: { [key]: fullTraffic.weight },
      minDuration: fullTraffic.minDuration,
      success: [succeeds(figures.successRateMin.full)],
      rollback: [fails(figures.rollbackSuccessBelow.full, 'high')],
    },
  ]);
  const { severitySuccessBelow: tiers } = figures;
  const { severities } = ROLLOUT_GUARDS.migration;
  return plan({
    name: 'sync-migration',
    description: `The listing sync moved to its new system by ${key}: shadow, then ${[smallTraffic, mediumTraffic, fullTraffic].map((phase) => `${phase.weight} %`).join(', ')} of the listings`,
    metrics: {
      sync_success_rate: { gauge: 'sync.success_rate' },
      sync_duration_vs_old: { gauge: 'sync.duration_vs_old' },
      sync_match_rate: { gauge: 'sync.match_rate' },
      sync_missing_rows: { gauge: 'sync.missing_rows' },
    },
    stages,
    rollback: [
      after(rule('sync_missing_rows', '>', figures.missingRowsMax), criticalFor, 'critical'),
      fails(tiers.critical, 'critical', criticalFor),
      fails(tiers.high, 'high'),
      slower(severities.high.latencyVsStable, 'high'),
      fails(tiers.medium, 'medium'),
      slower(severities.medium.latencyVsStable, 'medium'),
    ],
  });
}

/** All traffic to the candidate at once, held while its health checks pass. */
export function blueGreen({
  route,
  gate = 'auto',
  healthPath = '/health',
}: PlanOptions & { healthPath?: string }): Plan {
  const guards = ROLLOUT_GUARDS.blueGreen;
  const interval = ms(guards.healthInterval);
  return plan({
    name: 'blue-green',
    description: `Blue-green switch of ${route}: all traffic to the candidate, health-checked, rolled back automatically`,
    // A check answers before the next one starts: its timeout is the interval.
    metrics: {
      health: {
        probe: {
          url: healthPath,
          route,
          intervalMs: interval,
          timeoutMs: interval,
          expectStatus: guards.healthyStatus,
        },
      },
    },
    stages: stagesOf(gate, [
      {
        name: 'switch',
        description: `every request to the candidate; ${guards.healthChecks} health checks ${guards.healthInterval} apart`,
        switches: { [`traffic:${route}`]: guards.weight },
        minDuration: guards.healthChecks * interval,
        success: [
          { ...rule('health', '>=', guards.healthyShareMin), minSamples: guards.healthChecks },
          rule('candidate.error_rate', '<', guards.switchErrorRateMax),
          rule('candidate.p95', '<', guards.switchP95Max),
        ],
      },
      {
        name: 'observe',
        description: 'performance watch; check the functions users rely on',
        minDuration: guards.observeMinDuration,
        success: [rule('candidate.error_rate', '<', guards.observeErrorRateMax)],
      },
    ]),
    rollback: [
      past('candidate.error_rate', guards.rollback.errorRate, 'critical'),
      past('candidate.p99', guards.rollback.p99, 'critical'),
      { probe: 'health', consecutive: guards.failedChecksInARow, severity: 'critical' },
    ],
  });
}

/** A generic canary: a growing share of traffic, each stage judged against stable. */
export function canary({ route, gate = 'auto' }: PlanOptions): Plan {
  const guards = ROLLOUT_GUARDS.canary;
  const errorRate = rule('candidate.error_rate', '<', guards.errorRateMax);
  const stages = stagesOf(
    gate,
    guards.weights.map((weight) => ({
      name: `canary-${weight}`,
      switches: { [`traffic:${route}`]: weight },
      minDuration: guards.minDuration,
      // With every request on the candidate, stable answers nothing to compare with.
      success: weight === MAX_WEIGHT ? [errorRate] : [errorRate, notWorse('error_rate'), notWorse('latency')],
    })),
  );
  return plan({
    name: 'canary',
    description: `Canary of ${route}: ${guards.weights.join(' → ')} % of the traffic, judged against stable`,
    stages,
    rollback: [
      past('candidate.error_rate', guards.rollback.errorRate, 'critical'),
      past('candidate.p99', guards.rollback.p99, 'critical'),
      after(notWorse('error_rate'), ROLLOUT_GUARDS.worseFor, 'high'),
      after(notWorse('latency'), ROLLOUT_GUARDS.worseFor, 'high'),
    ],
  });
}

/** The built-in plans by name, for `keel rollout plans`. */
export const BUILTIN_PLANS: Readonly<Record<string, BuiltinPlan>> = {
  'cache-enable': {
    summary: 'staged cache enablement: read-only routes, then write-affected routes, then every route',
    needsRoute: false,
    build: () => cacheEnable(),
  },
  migration: {
    summary: 'a route moved to a new system: shadow, then growing shares of its traffic, then complete',
    needsRoute: true,
    build: (route) => migration({ route }),
  },
  'sync-migration': {
    summary: 'the listing sync moved to its new system: shadow table, then growing shares of the listings',
    needsRoute: false,
    build: () => syncMigration(),
  },
  'blue-green': {
    summary: 'all traffic to the candidate at once, health-checked, rolled back automatically',
    needsRoute: true,
    build: (route) => blueGreen({ route }),
  },
  canary: {
    summary: 'growing shares of traffic to the candidate, each judged against stable with significance tests',
    needsRoute: true,
    build: (route) => canary({ route }),
  },
};
