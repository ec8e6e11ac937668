/**
 * The thresholds table: one row per thing Keel is watched for, with the target to stay within and
 * the levels past which it alerts, by severity. It is the single source of the figures: the
 * Prometheus alerting rules (alert-rules.ts), their unit tests, `keel status`'s colours and the
 * rollout guards all read it, so a threshold is changed in one place.
 *
 * Figures come from the project's source documents: error rate (target 0.1 %, alerts at 1 % and
 * 5 %, critical as an automatic-rollback trigger over 5 minutes), response time (p95 < 500 ms;
 * p99 > 10 s over 5 minutes is critical), resource use (CPU, memory, disk: target < 70 %, then
 * low / medium / high at 70 / 80 / 90 %), cache hit rate ≥ 60 %, cache memory < 70 % of its budget,
 * the Redis tier's own health (the breaker, the invalidation bus's 50 ms lag target), and the
 * listing sync's (success rate > 99 %, time per 1,000 rows < 5 minutes, API usage < 80 %, the
 * listings synced within ±20 % of the previous run, no verification mismatch).
 *
 * Severities and what they ask of people: critical — act now (15 minutes); high — within the
 * hour; medium — within 4 hours; low — within a day (Alertmanager routes them: alertmanager.ts).
 *
 * Each row has `fixture`: the Prometheus series that make its expression read a given value, so
 * the generated `promtool test rules` file can fire every alert from synthetic data and check that
 * it stays silent just below its threshold.
 */

import { errorRateExpr, hitRateExpr, latencyQuantileExpr } from './promql.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/** A series for `promtool test rules`: its selector and its values in expanding notation (`0+10x20`). */
export interface FixtureSeries {
  series: string;
  values: string;
}

export interface Level {
  severity: Severity;
  /** The value past which the alert fires (above it, or below it for `direction: 'below'`). */
  threshold: number;
  /** How long it must hold first (Prometheus `for`). */
  for: string;
}

export interface ThresholdRow {
  /** CamelCase name, the stem of the alerts' names (`KeelErrorRate` + `Critical`). */
  name: string;
  title: string;
  unit: 'ratio' | 'seconds' | 'count';
  /** `above`: larger is worse; `below`: smaller is worse. */
  direction: 'above' | 'below';
  /** The value healthy operation stays within (on the good side of it). */
  target: number;
  levels: readonly Level[];
  /** PromQL giving the watched value. */
  expr: string;
  /** Input series (one sample a minute) under which `expr` reads `value`. */
  fixture: (value: number) => FixtureSeries[];
  /** Anchor in docs/monitoring.md with what to do. */
  runbook: string;
}

/** Samples in a fixture series: enough for the longest `for` (1 h) plus a rate window. */
const FIXTURE_MINUTES = 120;
const RATE = '5m';

/** A counter increasing by `perMinute` each minute for the fixture's length. */
function counter(series: string, perMinute: number): FixtureSeries {
  return { series, values: `0+${round(perMinute)}x${FIXTURE_MINUTES}` };
}

function gauge(series: string, value: number): FixtureSeries {
  return { series, values: `${round(value)}x${FIXTURE_MINUTES}` };
}

function round(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** Requests a minute in the fixtures of ratio rows (large, so rates resolve fine differences). */
const REQUESTS = 100_000;

/**
 * Fixture under which the q-quantile of the request latency is `seconds`: no request up to half of
 * it, all of them in the next bucket, whose bound is placed so that histogram_quantile's linear
 * interpolation inside it lands on `seconds`.
 */
function latencyFixture(q: number) {
  return (seconds: number): FixtureSeries[] => {
    const low = seconds / 2;
    const high = low + (seconds - low) / q;
    const bucket = (le: string, perMinute: number) =>
      counter(
        `keel_http_request_duration_seconds_bucket{job="keel",instance="a",route="r",cache="MISS",le="${le}"}`,
        perMinute,
      );
    return [bucket(round(low), 0), bucket(round(high), REQUESTS), bucket('+Inf', REQUESTS)];
  };
}

export const THRESHOLDS: readonly ThresholdRow[] = [
  {
    name: 'KeelDown',
    title: 'Gateway instances Prometheus can scrape (up)',
    unit: 'count',
    direction: 'below',
    target: 1,
    levels: [{ severity: 'critical', threshold: 1, for: '1m' }],
    expr: 'up{job="keel"}',
    fixture: (value) => [gauge('up{job="keel",instance="a"}', value)],
    runbook: 'instance-down',
  },
  {
    name: 'KeelErrorRate',
    title: 'Share of gateway answers that are 5xx errors',
    unit: 'ratio',
    direction: 'above',
    target: 0.001,
    levels: [
      { severity: 'critical', threshold: 0.05, for: '5m' },
      { severity: 'high', threshold: 0.01, for: '5m' },
      { severity: 'medium', threshold: 0.005, for: '15m' },
    ],
    expr: errorRateExpr(RATE),
    fixture: (value) => [
      counter(
        'keel_http_requests_total{job="keel",instance="a",route="r",method="GET",status="502",cache="MISS"}',
        REQUESTS * value,
      ),
      counter(
        'keel_http_requests_total{job="keel",instance="a",route="r",method="GET",status="200",cache="HIT"}',
        REQUESTS * (1 - value),
      ),
    ],
    runbook: 'error-rate',
  },
  {
    name: 'KeelLatencyP95',
    title: '95th percentile of the time to answer',
    unit: 'seconds',
    direction: 'above',
    target: 0.5,
    levels: [
      { severity: 'high', threshold: 1, for: '10m' },
      { severity: 'medium', threshold: 0.5, for: '10m' },
    ],
    expr: latencyQuantileExpr(0.95, RATE),
    fixture: latencyFixture(0.95),
    runbook: 'latency',
  },
  {
    name: 'KeelLatencyP99',
    title: '99th percentile of the time to answer',
    unit: 'seconds',
    direction: 'above',
    target: 1,
    levels: [
      { severity: 'critical', threshold: 10, for: '5m' },
      { severity: 'high', threshold: 2.5, for: '10m' },
    ],
    expr: latencyQuantileExpr(0.99, RATE),
    fixture: latencyFixture(0.99),
    runbook: 'latency',
  },
  {
    name: 'KeelCacheHitRate',
    title: 'Share of cacheable requests answered from the cache',
    unit: 'ratio',
    direction: 'below',
    target: 0.6,
    levels: [
      { severity: 'high', threshold: 0.3, for: '30m' },
      { severity: 'medium', threshold: 0.6, for: '30m' },
    ],
    expr: hitRateExpr('15m'),
    fixture: (value) => [
      counter(
        'keel_http_requests_total{job="keel",instance="a",route="r",method="GET",status="200",cache="HIT"}',
        REQUESTS * value,
      ),
      counter(
        'keel_http_requests_total{job="keel",instance="a",route="r",method="GET",status="200",cache="MISS"}',
        REQUESTS * (1 - value),
      ),
    ],
    runbook: 'hit-rate',
  },
  {
    name: 'KeelCacheMemory',
    title: 'L1 memory used, as a share of its budget',
    unit: 'ratio',
    direction: 'above',
    target: 0.7,
    levels: [
      { severity: 'high', threshold: 0.9, for: '10m' },
      { severity: 'medium', threshold: 0.8, for: '10m' },
      { severity: 'low', threshold: 0.7, for: '30m' },
    ],
    expr: 'max(keel_cache_memory_bytes / keel_cache_memory_budget_bytes)',
    fixture: (value) => [
      gauge('keel_cache_memory_bytes{job="keel",instance="a"}', 1e9 * value),
      gauge('keel_cache_memory_budget_bytes{job="keel",instance="a"}', 1e9),
    ],
    runbook: 'memory',
  },
  {
    name: 'KeelHeapUsage',
    title: 'V8 heap used, as a share of its limit',
    unit: 'ratio',
    direction: 'above',
    target: 0.7,
    levels: [
      { severity: 'high', threshold: 0.9, for: '5m' },
      { severity: 'medium', threshold: 0.8, for: '10m' },
      { severity: 'low', threshold: 0.7, for: '30m' },
    ],
    expr: 'max(keel_nodejs_heap_size_used_bytes / keel_nodejs_heap_limit_bytes)',
    fixture: (value) => [
      gauge('keel_nodejs_heap_size_used_bytes{job="keel",instance="a"}', 1e9 * value),
      gauge('keel_nodejs_heap_limit_bytes{job="keel",instance="a"}', 1e9),
    ],
    runbook: 'memory',
  },
  {
    name: 'KeelCpuUsage',
    title: 'CPU time used by a gateway process, as a share of one core',
    unit: 'ratio',
    direction: 'above',
    target: 0.7,
    levels: [
      { severity: 'high', threshold: 0.9, for: '10m' },
      { severity: 'medium', threshold: 0.8, for: '15m' },
      { severity: 'low', threshold: 0.7, for: '30m' },
    ],
    expr: `max(rate(keel_process_cpu_seconds_total[${RATE}]))`,
    fixture: (value) => [counter('keel_process_cpu_seconds_total{job="keel",instance="a"}', 60 * value)],
    runbook: 'cpu',
  },
  {
    name: 'KeelDiskUsage',
    title: 'Disk space used on the gateway hosts (node_exporter)',
    unit: 'ratio',
    direction: 'above',
    target: 0.7,
    levels: [
      { severity: 'high', threshold: 0.9, for: '10m' },
      { severity: 'medium', threshold: 0.8, for: '30m' },
      { severity: 'low', threshold: 0.7, for: '1h' },
    ],
    expr: 'max(1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"})',
    fixture: (value) => [
      gauge('node_filesystem_avail_bytes{job="node",instance="a",mountpoint="/"}', 1e12 * (1 - value)),
      gauge('node_filesystem_size_bytes{job="node",instance="a",mountpoint="/"}', 1e12),
    ],
    runbook: 'disk',
  },
  {
    name: 'KeelUpstreamErrors',
    title: 'Share of origin requests that fail (timeouts, refused connections, 5xx)',
    unit: 'ratio',
    direction: 'above',
    target: 0.005,
    levels: [
      { severity: 'high', threshold: 0.05, for: '5m' },
      { severity: 'medium', threshold: 0.01, for: '15m' },
    ],
    expr: `sum(rate(keel_upstream_errors_total[${RATE}])) / (sum(rate(keel_upstream_request_duration_seconds_count[${RATE}])) + sum(rate(keel_upstream_errors_total[${RATE}])))`,
    fixture: (value) => [
      counter(
        'keel_upstream_errors_total{job="keel",instance="a",route="r",reason="timeout"}',
        REQUESTS * value,
      ),
      counter(
        'keel_upstream_request_duration_seconds_count{job="keel",instance="a",route="r"}',
        REQUESTS * (1 - value),
      ),
    ],
    runbook: 'origin-errors',
  },
  {
    name: 'KeelRedisBreakerOpen',
    title: 'Circuit breaker in front of Redis is open (instances serve from L1 only)',
    unit: 'count',
    direction: 'above',
    target: 0,
    levels: [{ severity: 'high', threshold: 0.5, for: '2m' }],
    expr: 'max(keel_redis_breaker_state{state="open"})',
    fixture: (value) => [gauge('keel_redis_breaker_state{job="keel",instance="a",state="open"}', value)],
    runbook: 'redis',
  },
  {
    name: 'KeelBusLag',
    title: 'p99 delay of invalidations between instances',
    unit: 'seconds',
    direction: 'above',
    target: 0.05,
    levels: [{ severity: 'medium', threshold: 0.05, for: '10m' }],
    expr: 'max(keel_bus_lag_seconds)',
    fixture: (value) => [gauge('keel_bus_lag_seconds{job="keel",instance="a"}', value)],
    runbook: 'redis',
  },
  {
    name: 'KeelSyncSuccessRate',
    title: 'Share of the rows the listing sync read and owned that it wrote (not dead-lettered), last hour',
    unit: 'ratio',
    direction: 'below',
    target: 0.99,
    levels: [
      { severity: 'critical', threshold: 0.95, for: '5m' },
      { severity: 'high', threshold: 0.98, for: '5m' },
    ],
    expr: 'min(keel_sync_success_ratio)',
    fixture: (value) => [gauge('keel_sync_success_ratio{job="keel-sync",instance="a"}', value)],
    runbook: 'sync-rows',
  },
  {
    name: 'KeelSyncDuration',
    title: 'Time the latest listing sync run took per 1,000 rows',
    unit: 'seconds',
    direction: 'above',
    target: 300,
    levels: [
      { severity: 'high', threshold: 600, for: '1m' },
      { severity: 'medium', threshold: 420, for: '1m' },
      { severity: 'low', threshold: 300, for: '1m' },
    ],
    expr: 'max(keel_sync_seconds_per_1000_rows)',
    fixture: (value) => [gauge('keel_sync_seconds_per_1000_rows{job="keel-sync",instance="a"}', value)],
    runbook: 'sync-slow',
  },
  {
    name: 'KeelSyncApiUsage',
    title: "The listing sync's requests against its rate limit (last minute)",
    unit: 'ratio',
    direction: 'above',
    target: 0.8,
    levels: [
      { severity: 'high', threshold: 0.95, for: '5m' },
      { severity: 'medium', threshold: 0.9, for: '5m' },
      { severity: 'low', threshold: 0.8, for: '15m' },
    ],
    expr: 'max(keel_sync_api_usage_ratio)',
    fixture: (value) => [gauge('keel_sync_api_usage_ratio{job="keel-sync",instance="a"}', value)],
    runbook: 'sync-slow',
  },
  {
    name: 'KeelSyncPaused',
    title: 'The listing sync is paused: the circuit in front of its source is open',
    unit: 'count',
    direction: 'above',
    target: 0,
    levels: [{ severity: 'high', threshold: 0.5, for: '10m' }],
    expr: 'max(keel_sync_breaker_open)',
    fixture: (value) => [gauge('keel_sync_breaker_open{job="keel-sync",instance="a"}', value)],
    runbook: 'sync-source',
  },
  {
    name: 'KeelSyncCountChange',
    title: 'Change in the listings synced since the previous run, either way',
    unit: 'ratio',
    direction: 'above',
    target: 0.2,
    levels: [{ severity: 'medium', threshold: 0.2, for: '1m' }],
    expr: 'max(abs(keel_sync_table_rows_change_ratio))',
    fixture: (value) => [gauge('keel_sync_table_rows_change_ratio{job="keel-sync",instance="a"}', -value)],
    runbook: 'sync-count',
  },
  {
    name: 'KeelSyncMismatch',
    title: 'Listings the latest verification found missing or different',
    unit: 'count',
    direction: 'above',
    target: 0,
    levels: [{ severity: 'high', threshold: 0.5, for: '1m' }],
    expr: 'max(keel_sync_verification_differences)',
    fixture: (value) => [gauge('keel_sync_verification_differences{job="keel-sync",instance="a"}', value)],
    runbook: 'sync-verify',
  },
];

/** Whether `value` is past `threshold` in the row's bad direction. */
export function breaches(row: Pick<ThresholdRow, 'direction'>, value: number, threshold: number): boolean {
  return row.direction === 'above' ? value > threshold : value < threshold;
}

/** The most severe level `value` is past, or undefined when it is within all of them. */
export function levelOf(row: ThresholdRow, value: number): Level | undefined {
  return row.levels.find((level) => breaches(row, value, level.threshold));
}

/**
 * The rollout guards' figures: how far and how long each stage of the built-in rollout plans
 * (src/rollout/builtin-plans.ts) goes, what must hold before it promotes, and what rolls it back,
 * per plan and stage. Ratios are fractions (0.01 = 1 %), latencies seconds, weights percentages of
 * requests, durations as written in a plan (`24h`).
 *
 * - `cacheEnable`, the staged cache enablement: read-only routes at 10 % for 24 h (hit rate ≥ 60 %,
 *   error rate < 0.1 %), then read-only at 100 % and write-affected routes at 10 % for 24 h (the
 *   cache stays consistent with the origin, cache memory < 70 % of its budget), then every route at
 *   100 % for 48 h (the full set of targets). These are the targets of the rows above, read from them.
 * - `migration`, the move of a service to a new system in five phases: shadow (0 %) for a week
 *   (answers ≥ 99 % identical), 10 % for 3 days, 50 % for 3 days, 100 % for a week, then complete;
 *   success error rate < 1 % / < 1 % / < 0.5 %; the phases' own rollback conditions error > 5 % /
 *   > 3 % / > 2 %, latency ≥ 2× the old system's, resources > 90 %; and the severity tiers that apply
 *   throughout: critical error > 10 %; high error > 5 %, latency ≥ 3×, resources > 95 %; medium
 *   error > 2 %, latency ≥ 2×, resources > 85 %.
 * - `blueGreen`, the blue-green switch: 30 health checks 10 s apart once traffic moves (with error
 *   rate < 0.1 % and p95 < 500 ms), then 30 minutes at error rate < 1 %; automatic rollback on 5xx
 *   > 5 % for 5 minutes, p99 > 10 s for 5 minutes, or 3 failed health checks in a row. The rollback
 *   figures are the critical levels of KeelErrorRate and KeelLatencyP99, read from those rows.
 * - `canary`, a generic canary (no source document): 5 % → 25 % → 50 % → 100 %, each stage held
 *   for 30 minutes and judged against the stable side.
 */
/** Seed 003's migration of a service to a new system (ROLLOUT_GUARDS.migration). */
const MIGRATION_GUARDS = {
  /** Phase 1, shadow: the new system answers a copy of every request; nothing of it reaches users. */
  shadow: {
    /** Every request copied to the new system; none answered by it. */
    shadowWeight: 100,
    trafficWeight: 0,
    minDuration: '7d',
    matchRateMin: 0.99,
    /** "Runs without errors", read as the monitoring target for the error rate. */
    errorRateMax: 0.005,
    /** "Performance meets the requirements": the p95 target. */
    p95Max: target('KeelLatencyP95'),
    /** The data-consistency check runs hourly: a match rate below matchRateMin for this long rolls back. */
    matchFor: '1h',
  },
  /** Phases 2–4: the new system answers this share of the requests; `rollback` is the phase's own conditions. */
  smallTraffic: {
    weight: 10,
    /** The comparison of phase 1 ends once users are answered by the new system. */
    shadowWeight: 0,
    minDuration: '3d',
    errorRateMax: 0.01,
    /** "Sync time no longer than the old system's": p95 at most 1× stable's. */
    latencyVsStableMax: 1,
    rollback: { errorRateAbove: 0.05, latencyVsStable: 2 },
  },
  mediumTraffic: {
    weight: 50,
    minDuration: '3d',
    errorRateMax: 0.01,
    resourceMax: 0.8,
    rollback: { errorRateAbove: 0.03, resourceAbove: 0.9 },
  },
  fullTraffic: { weight: 100, minDuration: '7d', errorRateMax: 0.005, rollback: { errorRateAbove: 0.02 } },
  /** The severity tiers, throughout: critical rolls back at once, high within the hour, medium is decided within a day. */
  severities: {
    critical: { errorRateAbove: 0.1 },
    high: { errorRateAbove: 0.05, latencyVsStable: 3, resourceAbove: 0.95 },
    medium: { errorRateAbove: 0.02, latencyVsStable: 2, resourceAbove: 0.85 },
  },
  /** A critical breach must last one check of the error rate (checked every minute). */
  criticalFor: '1m',
  /** Other breaches must last as long as the error-rate alert's (KeelErrorRate critical). */
  breachFor: level('KeelErrorRate', 'critical').for,
} as const;

export const ROLLOUT_GUARDS = {
  /** Significance level of the relative judgements (candidate significantly worse than stable?). */
  significance: 0.05,
  /** How long the candidate must stay significantly worse than stable before a trigger fires. */
  worseFor: level('KeelErrorRate', 'high').for,
  cacheEnable: {
    /** Write-affected routes stay uncached (0 %) until read-only ones have proven themselves. */
    readOnly: { readOnlyWeight: 10, writeAffectedWeight: 0, minDuration: '24h' },
    writeAffected: { readOnlyWeight: 100, writeAffectedWeight: 10, minDuration: '24h' },
    everything: { weight: 100, minDuration: '48h' },
    /** Share of cacheable requests answered from the cache, at least. */
    hitRateMin: target('KeelCacheHitRate'),
    /** Share of 5xx answers on the cached side, below. */
    errorRateMax: target('KeelErrorRate'),
    /** L1 memory as a share of its budget, below. */
    cacheMemoryMax: target('KeelCacheMemory'),
    /** p95 of the cached side, below (phase 3's "compare with the targets"). */
    p95Max: target('KeelLatencyP95'),
    /**
     * Share of sampled cached answers that differ from the origin's fresh answer, at most: none,
     * as a data-consistency check counts a single mismatch as an anomaly.
     */
    consistencyMismatchMax: 0,
    /** The cached side's p95 as a multiple of the bypassed side's, at most: never slower than no cache. */
    latencyVsBypassMax: 1,
    rollback: {
      errorRate: level('KeelErrorRate', 'critical'),
      p99: level('KeelLatencyP99', 'critical'),
      cacheMemory: level('KeelCacheMemory', 'high'),
      /**
       * A stale-serving cache: mismatches past consistencyMismatchMax for this long roll back. No
       * source gives a window; 15 minutes lets a sampling probe see several rounds first.
       */
      consistencyFor: '15m',
    },
  },
  migration: MIGRATION_GUARDS,
  /**
   * The listing sync's migration (seed 003's phases applied to the sync): the new system syncs
   * the share of listings inside the flag, the old one the rest. The guide's error rates are read
   * as the sync's success rate (1 − error rate), its "sync time against the old system" as the
   * new system's time per 1,000 rows over the old one's, and any listing lost as critical.
   */
  syncMigration: {
    flag: 'sync.rest',
    /** Rows a verification may find missing: none (data loss is critical). */
    missingRowsMax: 0,
    successRateMin: {
      shadow: 1 - MIGRATION_GUARDS.shadow.errorRateMax,
      small: 1 - MIGRATION_GUARDS.smallTraffic.errorRateMax,
      medium: 1 - MIGRATION_GUARDS.mediumTraffic.errorRateMax,
      full: 1 - MIGRATION_GUARDS.fullTraffic.errorRateMax,
    },
    /** Below these, a phase's own rollback condition (high). */
    rollbackSuccessBelow: {
      small: 1 - MIGRATION_GUARDS.smallTraffic.rollback.errorRateAbove,
      medium: 1 - MIGRATION_GUARDS.mediumTraffic.rollback.errorRateAbove,
      full: 1 - MIGRATION_GUARDS.fullTraffic.rollback.errorRateAbove,
    },
    /** The severity tiers, throughout, on the success rate. */
    severitySuccessBelow: {
      critical: 1 - MIGRATION_GUARDS.severities.critical.errorRateAbove,
      high: 1 - MIGRATION_GUARDS.severities.high.errorRateAbove,
      medium: 1 - MIGRATION_GUARDS.severities.medium.errorRateAbove,
    },
  },
  blueGreen: {
    /** All traffic moves at once. */
    weight: 100,
    /** Right after the switch, held as long as these checks take: every one of them passes. */
    healthChecks: 30,
    healthInterval: '10s',
    healthyShareMin: 1,
    /** The answer a health check expects. */
    healthyStatus: 200,
    failedChecksInARow: 3,
    switchErrorRateMax: target('KeelErrorRate'),
    switchP95Max: target('KeelLatencyP95'),
    /** Then the performance watch: 30 minutes at an error rate below 1 %. */
    observeMinDuration: '30m',
    observeErrorRateMax: level('KeelErrorRate', 'high').threshold,
    rollback: {
      errorRate: level('KeelErrorRate', 'critical'),
      p99: level('KeelLatencyP99', 'critical'),
    },
  },
  canary: {
    weights: [5, 25, 50, 100],
    minDuration: '30m',
    errorRateMax: level('KeelErrorRate', 'high').threshold,
    rollback: {
      errorRate: level('KeelErrorRate', 'critical'),
      p99: level('KeelLatencyP99', 'critical'),
    },
  },
} as const;

function rowNamed(name: string): ThresholdRow {
  const row = THRESHOLDS.find((candidate) => candidate.name === name);
  if (row === undefined) throw new Error(`no thresholds row ${name}`);
  return row;
}

function target(name: string): number {
  return rowNamed(name).target;
}

function level(name: string, severity: Severity): Level {
  const found = rowNamed(name).levels.find((candidate) => candidate.severity === severity);
  if (found === undefined) throw new Error(`thresholds row ${name} has no ${severity} level`);
  return found;
}
