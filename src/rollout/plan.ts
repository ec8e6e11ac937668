/**
 * Rollout plans: the stages a change goes through, what must hold before each promotes, and what
 * rolls it back. A plan is data (a `rollout.yaml`, or a built-in from builtin-plans.ts), checked
 * here once, so the controller that carries it out meets no malformed plan, and a week-long plan
 * runs in seconds under a scaled clock in tests.
 *
 * ```yaml
 * name: migration-listing
 * evaluationInterval: 30s            # how often the guards are evaluated (default 30s)
 * locale: en                         # notifications: en (default) or ja
 * metrics:                           # custom metrics, beside the built-in ones (BUILTIN_METRICS)
 *   health: { probe: { url: /health, route: listing, interval: 10s, timeout: 5s, expectStatus: 200 } }
 *   sync_success: { gauge: sync.success_rate }              # an in-process gauge
 *   db_load: { promql: 'max(pg_load_ratio)' }               # a PromQL query
 * safe: { traffic:listing: 0 }       # weights on rollback / emergency stop (default: every switch moved → 0)
 * rollback:                          # triggers watched during every stage
 *   - { metric: candidate.error_rate, op: '>', threshold: 0.1, for: 1m, severity: critical }
 *   - { probe: health, consecutive: 3, severity: critical }
 * stages:
 *   - name: canary-10
 *     switches: { traffic:listing: 10 }   # weights this stage sets; the others keep the previous stage's
 *     minDuration: 3d                     # held at least this long
 *     gate: auto                          # promote by itself (auto) or on an operator's word (manual)
 *     success:                            # all must hold at the end of minDuration
 *       - { metric: candidate.error_rate, op: '<', threshold: 0.01, minSamples: 1000 }
 *       - { metric: candidate.p95, op: '<=', threshold: 1, relativeTo: stable.p95 }   # ratio of the two
 *       - compare: { metric: error_rate, test: two-proportion, alpha: 0.05 }         # not worse than stable
 *     rollback:                           # a trigger's condition is the breach
 *       - { metric: candidate.error_rate, op: '>', threshold: 0.05, for: 5m, severity: high }
 * ```
 *
 * Metrics: `stable.*` and `candidate.*` are the gateway's figures of each side (for a cache plan,
 * `candidate` is the cached side and `stable` the bypassed one); ratios are fractions (1 % = 0.01),
 * latencies seconds. A probe's value is the share of its checks that passed. A criterion with
 * `relativeTo` compares `metric ÷ relativeTo` with the threshold. A `compare` criterion holds when
 * the candidate is not significantly worse than stable (two-proportion test on error rates,
 * Mann–Whitney U on latencies, at `alpha`); as a trigger, it fires when the candidate is.
 *
 * A criterion that lacks samples (fewer than `minSamples`, or fewer than its test needs, or a side
 * with no traffic) does not hold yet, so the stage waits; a trigger that lacks them does not fire.
 *
 * Severities (state.ts): critical rolls back at once; high pauses and rolls back after 1 h unless
 * an operator acknowledges; medium pauses and rolls back after 24 h without a decision.
 *
 * Errors name the file, line, column and field, as the routes file's do (src/util/yaml-file.ts):
 * schema errors, then what the schema cannot see: a metric nobody declared, two stages of one
 * name, a ratio threshold written as a percentage (`5` for 5 %), safe weights for a switch no
 * stage moves. A misspelt field is reported before the missing field it explains.
 */
import { readFileSync } from 'node:fs';
import { Document, isScalar, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ROLLOUT_GUARDS } from '../observability/index.js';
import { closest } from '../util/closest.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import {
  durationWithin,
  type Fail,
  parseYamlFile,
  plainMessage,
  shown,
  strictMapping,
  type YamlFileKind,
} from '../util/yaml-file.js';
import type { Locale } from './notification-templates.js';
import type { Severity, SwitchKey, SwitchKind } from './state.js';

export type Gate = 'auto' | 'manual';
export type Op = '<' | '<=' | '>' | '>=';
export type MetricUnit = 'ratio' | 'seconds' | 'count';

/** An HTTP health check; a `url` that is a path is asked of the candidate origin of `route`. */
export interface Probe {
  url: string;
  route?: string;
  timeoutMs: number;
  intervalMs: number;
  expectStatus: number;
}

export type CustomMetric = { promql: string } | { probe: Probe } | { gauge: string };

export interface ThresholdCriterion {
  metric: string;
  op: Op;
  threshold: number;
  /** When set, the value judged is `metric ÷ relativeTo`. */
  relativeTo?: string;
  /** Samples (requests, probe checks) needed before the criterion is judged at all. */
  minSamples?: number;
}

export interface Comparison {
  metric: 'error_rate' | 'latency';
  test: 'two-proportion' | 'mann-whitney';
  alpha: number;
  minSamples?: number;
}

export type Criterion = ThresholdCriterion | { compare: Comparison };

/** A criterion whose breach lasted `forMs`, or a probe that failed `consecutive` times in a row. */
export type Trigger =
  | (Criterion & { forMs: number; severity: Severity })
  | { probe: string; consecutive: number; severity: Severity };

export interface Stage {
  name: string;
  description?: string;
  /** The weights this stage sets; a switch it does not name keeps the previous stage's weight. */
  switches: Partial<Record<SwitchKey, number>>;
  minDurationMs: number;
  gate: Gate;
  success: Criterion[];
  rollback: Trigger[];
}

export interface Plan {
  name: string;
  description?: string;
  evaluationIntervalMs: number;
  locale: Locale;
  metrics: Record<string, CustomMetric>;
  /** Weights on rollback or emergency stop, for every switch the plan moves. */
  safe: Partial<Record<SwitchKey, number>>;
  /** Triggers watched during every stage. */
  rollback: Trigger[];
  stages: Stage[];
}

const SIDE_FIGURES: Readonly<Record<string, MetricUnit>> = {
  error_rate: 'ratio',
  requests: 'count',
  p50: 'seconds',
  p95: 'seconds',
  p99: 'seconds',
};

/** The metrics every plan can name without declaring them, with their units. */
export const BUILTIN_METRICS: Readonly<Record<string, MetricUnit>> = {
  ...Object.fromEntries(
    ['stable', 'candidate'].flatMap((side) =>
      Object.entries(SIDE_FIGURES).map(([figure, unit]) => [`${side}.${figure}`, unit]),
    ),
  ),
  'shadow.match_rate': 'ratio',
  'cache.hit_rate': 'ratio',
  'cache.consistency_mismatch_rate': 'ratio',
  'cache.memory_ratio': 'ratio',
  'process.memory_ratio': 'ratio',
  'process.cpu_ratio': 'ratio',
};

/** The largest weight: the switch on for every request. */
export const MAX_WEIGHT = 100;
const SWITCH_KINDS: readonly SwitchKind[] = ['cache', 'traffic', 'shadow', 'flag'];
const SWITCH_KEY = /^(cache|traffic|shadow|flag):(\S(?:.*\S)?)$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** How often the guards are evaluated when a plan does not say. */
export const DEFAULT_EVALUATION_INTERVAL_MS = 30_000;
const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
const DEFAULT_PROBE_INTERVAL_MS = 10_000;
const SEVERITY_MEANINGS =
  'critical (roll back at once), high (pause; roll back after 1h unless acknowledged) or medium (pause; roll back after 24h without a decision)';

const name = z
  .string()
  .max(100)
  .regex(NAME, 'must be letters, digits, ".", "_" or "-", starting with a letter or digit');
const metricRef = z.string().min(1);
const samples = z.number().int().min(1);
const severity = z.enum(['critical', 'high', 'medium'], {
  error: (issue) =>
    issue.input === undefined ? `a trigger needs a severity: ${SEVERITY_MEANINGS}` : undefined,
});
const weight = z.unknown().transform((value, context): number => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_WEIGHT) return value;
  context.addIssue({
    code: 'custom',
    message: `expected a weight: a whole percentage from 0 to ${MAX_WEIGHT} (got ${shown(value)})`,
  });
  return z.NEVER;
});
const switchKey = z.string().superRefine((key, context) => {
  if (!SWITCH_KEY.test(key)) context.addIssue({ code: 'custom', message: switchKeyMistake(key) });
});
const switches = z.record(switchKey, weight) as unknown as z.ZodType<Partial<Record<SwitchKey, number>>>;

/** A switch key that does not parse, said with the likely one. */
function switchKeyMistake(key: string): string {
  const at = key.indexOf(':');
  const likely = at > 0 ? closest(key.slice(0, at), SWITCH_KINDS) : undefined;
  const guess = likely === undefined ? '' : ` (did you mean "${likely}${key.slice(at)}"?)`;
  return `"${key}" is not a switch key${guess}; a key is cache:<route or group>, traffic:<route>, shadow:<route> or flag:<name>`;
}

/**
 * The schema `choose` picks for a value, run on its own in a configuration file's wording, its
 * issues passed on as the value's own; with `typos: 'first'`, a misspelt field comes first.
 */
function parsedBy<T>(choose: (value: unknown) => z.ZodType<T>, typos: 'first' | 'in place' = 'in place') {
  return z.unknown().transform((value, context): T => {
    const result = choose(value).safeParse(value, { error: plainMessage });
    if (result.success) return result.data;
    const issues = typos === 'first' ? misspeltFirst(result.error.issues) : result.error.issues;
    for (const issue of issues) context.issues.push(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  });
}

/** The issues with an unknown field first when the first issue lies in the same mapping (it likely explains it). */
function misspeltFirst(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const [first] = issues;
  const typo = issues.find(
    (issue) =>
      issue.code === 'unrecognized_keys' &&
      first !== undefined &&
      issue.path.every((part, index) => first.path[index] === part),
  );
  return typo === undefined ? [...issues] : [typo, ...issues.filter((issue) => issue !== typo)];
}

/** One of several mapping shapes, named by a key it holds (`compare:`, `probe:`), else `otherwise`. */
function chosenByKey<T>(shapes: Readonly<Record<string, z.ZodType<T>>>, otherwise: z.ZodType<T>) {
  return parsedBy((value) => {
    const key =
      typeof value === 'object' && value !== null
        ? Object.keys(shapes).find((shape) => shape in value)
        : undefined;
    return key === undefined ? otherwise : (shapes[key] as z.ZodType<T>);
  });
}

/** The significance test each comparison uses. */
export const COMPARISON_TESTS = { error_rate: 'two-proportion', latency: 'mann-whitney' } as const;
const comparison = strictMapping('a comparison', {
  metric: z.enum(['error_rate', 'latency']),
  test: z.enum(['two-proportion', 'mann-whitney']).optional(),
  alpha: z
    .number()
    .gt(0, 'expected a significance level between 0 and 1, like 0.05')
    .lt(1, 'expected a significance level between 0 and 1, like 0.05')
    .default(ROLLOUT_GUARDS.significance),
  minSamples: samples.optional(),
}).transform(({ metric, test, alpha, minSamples }, context): Comparison => {
  const fitting = COMPARISON_TESTS[metric];
  if (test !== undefined && test !== fitting) {
    context.addIssue({
      code: 'custom',
      path: ['test'],
      message: `${metric} is compared with the ${fitting} test (got "${test}")`,
    });
  }
  return minSamples === undefined
    ? { metric, test: fitting, alpha }
    : { metric, test: fitting, alpha, minSamples };
});

const thresholdFields = {
  metric: metricRef,
  op: z.enum(['<', '<=', '>', '>=']),
  threshold: z.number(),
  relativeTo: metricRef.optional(),
  minSamples: samples.optional(),
};
const triggerFields = { for: durationWithin(0, 30 * DAY_MS, '5m'), severity };
const withForMs = <T extends { for: number }>({ for: forMs, ...rest }: T) => ({ ...rest, forMs });

const criterion = chosenByKey<Criterion>(
  { compare: strictMapping('a comparison criterion', { compare: comparison }) },
  strictMapping('a criterion', thresholdFields),
);
const trigger = chosenByKey<Trigger>(
  {
    probe: strictMapping('a probe trigger', { probe: metricRef, consecutive: samples, severity }),
    compare: strictMapping('a comparison trigger', { compare: comparison, ...triggerFields }).transform(
      withForMs,
    ),
  },
  strictMapping('a trigger', { ...thresholdFields, ...triggerFields }).transform(withForMs),
);

const probe = strictMapping('a probe', {
  url: z
    .string()
    .regex(
      /^(https?:\/\/\S+|\/\S*)$/,
      'expected an http(s) URL, or a path ("/health") asked of the candidate origin of "route"',
    ),
  route: z.string().min(1).optional(),
  timeout: durationWithin(1, 10 * 60_000, '5s').default(DEFAULT_PROBE_TIMEOUT_MS),
  interval: durationWithin(100, HOUR_MS, '10s').default(DEFAULT_PROBE_INTERVAL_MS),
  expectStatus: z.number().int().min(100).max(599).default(200),
}).transform(({ timeout, interval, ...rest }, context): Probe => {
  if (rest.url.startsWith('/') && rest.route === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['route'],
      message: `"${rest.url}" is a path: name the route whose candidate origin answers it`,
    });
  }
  return { ...rest, timeoutMs: timeout, intervalMs: interval };
});

const customMetric = strictMapping('a metric', {
  promql: z.string().min(1).optional(),
  probe: probe.optional(),
  gauge: z.string().min(1).optional(),
}).transform((fields, context): CustomMetric => {
  const given = Object.entries(fields).filter(([, value]) => value !== undefined);
  if (given.length !== 1) {
    context.addIssue({
      code: 'custom',
      message: `a metric is one of { promql: <query> }, { probe: { url, … } } or { gauge: <name> } (got ${given.length === 0 ? 'none' : given.map(([key]) => key).join(' and ')})`,
    });
    return z.NEVER;
  }
  return fields as CustomMetric;
});
const metricName = z
  .string()
  .regex(
    METRIC_NAME,
    'a metric name is lower-case letters, digits and "_", starting with a letter (built-in metrics, which have a ".", need no declaration)',
  );

const stage = strictMapping('a stage', {
  name,
  description: z.string().min(1).optional(),
  switches: switches.default(() => ({})),
  minDuration: durationWithin(0, 365 * DAY_MS, '3d'),
  gate: z.enum(['auto', 'manual']).default('auto'),
  success: z.array(criterion).default(() => []),
  rollback: z.array(trigger).default(() => []),
}).transform(({ minDuration, ...rest }): Stage => ({ ...rest, minDurationMs: minDuration }));

const planFields = strictMapping('a plan', {
  name,
  description: z.string().min(1).optional(),
  evaluationInterval: durationWithin(100, HOUR_MS, '30s').default(DEFAULT_EVALUATION_INTERVAL_MS),
  locale: z.enum(['en', 'ja']).default('en'),
  metrics: z.record(metricName, customMetric).default(() => ({})),
  safe: switches.optional(),
  rollback: z.array(trigger).default(() => []),
  stages: z.array(stage).min(1, 'list at least one stage'),
});

type RawPlan = z.infer<typeof planFields>;

const PLAN_FILE: YamlFileKind<RawPlan> = {
  schema: parsedBy(() => planFields, 'first'),
  name: 'a rollout plan',
  topLevel: 'a mapping with "name:" and a "stages:" list',
  whenEmpty:
    'give the plan a "name:" and its "stages:" (keel rollout plans canary --route <route> prints one)',
};

/** Reads and validates a plan file; throws ConfigError naming the file, line and field. */
export function loadPlanFile(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, `cannot read the rollout plan: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parsePlan(text, path);
}

/** Parses a plan from YAML text; `source` names it in errors. */
export function parsePlan(text: string, source: string): Plan {
  const { data, fail } = parseYamlFile(text, source, PLAN_FILE);
  const { evaluationInterval, ...rest } = data;
  checkStageNames(data, fail);
  checkMetrics(data, fail);
  return { ...rest, evaluationIntervalMs: evaluationInterval, safe: safeWeights(data, fail) };
}

function checkStageNames(plan: RawPlan, fail: Fail): void {
  const seen = new Set<string>();
  for (const [index, { name }] of plan.stages.entries()) {
    if (seen.has(name))
      fail(['stages', index, 'name'], `"${name}" names two stages; give each a distinct name`);
    seen.add(name);
  }
}

/** Every metric named exists, probe triggers name probes, and ratio thresholds are fractions. */
function checkMetrics(plan: RawPlan, fail: Fail): void {
  const unitOf = (metric: string): MetricUnit | 'unknown' | undefined => {
    const custom = plan.metrics[metric];
    if (custom !== undefined) return 'probe' in custom ? 'ratio' : 'unknown';
    return BUILTIN_METRICS[metric];
  };
  const exists = (path: readonly PropertyKey[], metric: string) => {
    if (unitOf(metric) === undefined) fail(path, unknownMetric(metric, Object.keys(plan.metrics)));
  };
  for (const [path, rule] of rulesOf(plan)) {
    if ('probe' in rule) {
      exists([...path, 'probe'], rule.probe);
      const declared = plan.metrics[rule.probe];
      if (declared === undefined || !('probe' in declared))
        fail([...path, 'probe'], `${rule.probe} is not a probe; "consecutive" counts failed probe checks`);
    } else if ('metric' in rule) {
      exists([...path, 'metric'], rule.metric);
      if (rule.relativeTo !== undefined) exists([...path, 'relativeTo'], rule.relativeTo);
      checkThreshold(path, rule, unitOf(rule.metric), fail);
    }
  }
}

/** A ratio is judged as a fraction (5 % is 0.05), and a metric relative to itself says nothing. */
function checkThreshold(
  path: readonly PropertyKey[],
  rule: ThresholdCriterion,
  unit: MetricUnit | 'unknown' | undefined,
  fail: Fail,
): void {
  if (rule.relativeTo === rule.metric)
    fail([...path, 'relativeTo'], `${rule.metric} relative to itself is always 1; name the other side`);
  if (rule.relativeTo === undefined && unit === 'ratio' && (rule.threshold < 0 || rule.threshold > 1))
    fail(
      [...path, 'threshold'],
      `${rule.metric} is a ratio from 0 to 1: write 5 % as 0.05 (got ${rule.threshold})`,
    );
}

/** Each criterion and trigger of the plan with its path. */
function* rulesOf(plan: RawPlan): Generator<[PropertyKey[], Criterion | Trigger]> {
  for (const [index, rule] of plan.rollback.entries()) yield [['rollback', index], rule];
  for (const [stageIndex, { success, rollback }] of plan.stages.entries()) {
    for (const [index, rule] of success.entries()) yield [['stages', stageIndex, 'success', index], rule];
    for (const [index, rule] of rollback.entries()) yield [['stages', stageIndex, 'rollback', index], rule];
  }
}

function unknownMetric(metric: string, declared: readonly string[]): string {
  const likely = closest(metric, [...Object.keys(BUILTIN_METRICS), ...declared]);
  const guess = likely === undefined ? '' : ` (did you mean "${likely}"?)`;
  const figures = Object.keys(SIDE_FIGURES).join(', ');
  const others = Object.keys(BUILTIN_METRICS).filter((name) => !/^(stable|candidate)\./.test(name));
  const own = declared.length === 0 ? 'none under "metrics:"' : `${declared.join(', ')} under "metrics:"`;
  return `unknown metric "${metric}"${guess}; the metrics are stable.* and candidate.* (${figures}), ${others.join(', ')}, and this plan's own: ${own}`;
}

/** The safe weights given, for switches the plan moves only, and 0 for the others it moves. */
function safeWeights(plan: RawPlan, fail: Fail): Partial<Record<SwitchKey, number>> {
  const given = plan.safe ?? {};
  const safe = safeWeightsOf(plan.stages, given);
  if (Object.keys(safe).length === 0)
    fail(['stages'], 'no stage moves a switch; give the stages their "switches:"');
  for (const key of Object.keys(given)) {
    if (!(key in safe))
      fail(['safe', key], `no stage moves ${key}; safe weights are for the switches this plan moves`, 'key');
  }
  return safe;
}

/** Every switch the stages move, at its weight in `given`, else off (0). */
export function safeWeightsOf(
  stages: readonly Pick<Stage, 'switches'>[],
  given: Partial<Record<SwitchKey, number>> = {},
): Partial<Record<SwitchKey, number>> {
  const moved = new Set(stages.flatMap((stage) => Object.keys(stage.switches) as SwitchKey[]));
  return Object.fromEntries([...moved].map((key) => [key, given[key] ?? 0]));
}

/** Every switch the plan moves, in any stage. */
export function movedSwitches(plan: Plan): SwitchKey[] {
  return Object.keys(stageWeights(plan, plan.stages.length - 1)) as SwitchKey[];
}

/** The weight of every switch the plan has moved once stage `index` is in force. */
export function stageWeights(plan: Plan, index: number): Partial<Record<SwitchKey, number>> {
  return Object.assign({}, ...plan.stages.slice(0, index + 1).map((stage) => stage.switches));
}

/** A criterion in words: `candidate.p95 / stable.p95 >= 2`, `error_rate not worse than stable (…)`. */
export function criterionText(rule: Criterion): string {
  if ('compare' in rule) {
    const { metric, test, alpha } = rule.compare;
    return `candidate ${metric} not significantly worse than stable (${test}, alpha ${alpha})`;
  }
  const value = rule.relativeTo === undefined ? rule.metric : `${rule.metric} / ${rule.relativeTo}`;
  const samples = rule.minSamples === undefined ? '' : ` (at least ${rule.minSamples} samples)`;
  return `${value} ${rule.op} ${rule.threshold}${samples}`;
}

/** A trigger in words, as audit records and notifications name it: `candidate.error_rate > 0.05 for 5m (high)`. */
export function triggerText(rule: Trigger): string {
  if ('probe' in rule) return `${rule.probe} fails ${rule.consecutive} checks in a row (${rule.severity})`;
  const breach =
    'compare' in rule
      ? `candidate ${rule.compare.metric} significantly worse than stable (${rule.compare.test}, alpha ${rule.compare.alpha})`
      : criterionText(rule);
  return `${breach} for ${formatDuration(rule.forMs)} (${rule.severity})`;
}

/** The plan as YAML that parsePlan reads back to an equal plan; criteria and switches one line each. */
export function planToYaml(plan: Plan): string {
  const doc = new Document(planData(plan), { aliasDuplicateObjects: false });
  visit(doc, {
    Map(_, map) {
      map.flow = map.items.length > 0 && map.items.every((pair) => isScalar(pair.value));
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function planData(plan: Plan): Record<string, unknown> {
  return {
    name: plan.name,
    description: plan.description,
    evaluationInterval: durationText(plan.evaluationIntervalMs),
    locale: plan.locale,
    metrics: Object.keys(plan.metrics).length === 0 ? undefined : mapValues(plan.metrics, metricData),
    safe: plan.safe,
    rollback: plan.rollback.map(triggerData),
    stages: plan.stages.map(({ name, description, switches, minDurationMs, gate, success, rollback }) => ({
      name,
      description,
      switches: Object.keys(switches).length === 0 ? undefined : switches,
      minDuration: durationText(minDurationMs),
      gate,
      success: success.length === 0 ? undefined : success,
      rollback: rollback.length === 0 ? undefined : rollback.map(triggerData),
    })),
  };
}

function metricData(metric: CustomMetric): unknown {
  if (!('probe' in metric)) return metric;
  const { url, route, intervalMs, timeoutMs, expectStatus } = metric.probe;
  return {
    probe: { url, route, interval: durationText(intervalMs), timeout: durationText(timeoutMs), expectStatus },
  };
}

function triggerData(rule: Trigger): unknown {
  if (!('forMs' in rule)) return rule;
  const { forMs, severity, ...rest } = rule;
  return { ...rest, for: durationText(forMs), severity };
}

/** `5m` when that reads back as the same milliseconds, else the milliseconds. */
function durationText(ms: number): string | number {
  const text = formatDuration(ms);
  return parseDuration(text) === ms ? text : ms;
}

function mapValues<T>(record: Record<string, T>, map: (value: T) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}
