/**
 * Grafana dashboards (`keel monitoring dashboards`): real-time (last hour, refreshed every 10 s),
 * daily (last 24 h) and weekly (last 7 days) for the gateway, and the listing sync's (last 6 h),
 * as JSON models to import or provision. Panels read
 * Keel's metrics through a `DS_PROMETHEUS` data-source variable, and the panels of watched values
 * draw the thresholds table's levels as coloured steps, so a dashboard and the alerts agree.
 */
import { formatValue } from './alert-rules.js';
import { errorRateExpr, hitRateExpr, latencyQuantileExpr } from './promql.js';
import { THRESHOLDS, type ThresholdRow } from './thresholds.js';

type Unit = 'reqps' | 'percentunit' | 's' | 'bytes' | 'short';

interface Target {
  expr: string;
  legend: string;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, not a JS template.
const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
const SEVERITY_COLOURS = { critical: 'dark-red', high: 'red', medium: 'orange', low: 'yellow' } as const;
const PANEL_WIDTH = 12;
const PANEL_HEIGHT = 8;

function row(name: string): ThresholdRow {
  const found = THRESHOLDS.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no thresholds row ${name}`);
  return found;
}

/** Grafana threshold steps from a row's levels (green on the good side). */
function steps(watched: ThresholdRow | undefined) {
  if (watched === undefined) return { mode: 'absolute', steps: [{ color: 'green', value: null }] };
  const levels = [...watched.levels].sort((a, b) => a.threshold - b.threshold);
  if (watched.direction === 'above') {
    return {
      mode: 'absolute',
      steps: [
        { color: 'green', value: null },
        ...levels.map((level) => ({ color: SEVERITY_COLOURS[level.severity], value: level.threshold })),
      ],
    };
  }
  return {
    mode: 'absolute',
    steps: [
      { color: SEVERITY_COLOURS[levels[0]?.severity ?? 'high'], value: null },
      ...levels
        .slice(1)
        .map((level, i) => ({ color: SEVERITY_COLOURS[level.severity], value: levels[i]?.threshold })),
      { color: 'green', value: levels.at(-1)?.threshold },
    ],
  };
}

function timeseries(title: string, targets: Target[], unit: Unit, watched?: ThresholdRow) {
  return {
    type: 'timeseries',
    title,
    description:
      watched === undefined
        ? undefined
        : `${watched.title}. Target: ${formatValue(watched, watched.target)}.`,
    datasource: DATASOURCE,
    fieldConfig: {
      defaults: {
        unit,
        thresholds: steps(watched),
        custom: { thresholdsStyle: { mode: watched === undefined ? 'off' : 'line+area' } },
      },
      overrides: [],
    },
    targets: targets.map((target, i) => ({
      datasource: DATASOURCE,
      expr: target.expr,
      legendFormat: target.legend,
      refId: String.fromCharCode(65 + i),
    })),
  };
}

function stat(title: string, expr: string, unit: Unit, watched?: ThresholdRow) {
  return {
    type: 'stat',
    title,
    datasource: DATASOURCE,
    fieldConfig: { defaults: { unit, thresholds: steps(watched) }, overrides: [] },
    options: { colorMode: 'background', reduceOptions: { calcs: ['lastNotNull'] } },
    targets: [{ datasource: DATASOURCE, expr, refId: 'A' }],
  };
}

/** Lays panels out two a row; stats take a quarter of the width. */
function laidOut(panels: ({ type: string } & Record<string, unknown>)[]) {
  let x = 0;
  let y = 0;
  return panels.map((panel, id) => {
    const w = panel.type === 'stat' ? PANEL_WIDTH / 2 : PANEL_WIDTH;
    const h = panel.type === 'stat' ? PANEL_HEIGHT / 2 : PANEL_HEIGHT;
    if (x + w > 2 * PANEL_WIDTH) {
      x = 0;
      y += PANEL_HEIGHT;
    }
    const placed = { ...panel, id: id + 1, gridPos: { x, y, w, h } };
    x += w;
    return placed;
  });
}

function dashboard(
  uid: string,
  title: string,
  range: string,
  refresh: string,
  panels: ({ type: string } & Record<string, unknown>)[],
) {
  return {
    __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus' }],
    uid,
    title,
    tags: ['keel'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh,
    time: { from: `now-${range}`, to: 'now' },
    templating: {
      list: [{ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus', label: 'Prometheus' }],
    },
    panels: laidOut(panels),
  };
}

export function realtimeDashboard() {
  return dashboard('keel-realtime', 'Keel — real time', '1h', '10s', [
    stat('Hit rate (5m)', hitRateExpr('5m'), 'percentunit', row('KeelCacheHitRate')),
    stat('Error rate (5m)', errorRateExpr('5m'), 'percentunit', row('KeelErrorRate')),
    stat('p95 (5m)', latencyQuantileExpr(0.95, '5m'), 's', row('KeelLatencyP95')),
    stat(
      'L1 memory / budget',
      'max(keel_cache_memory_bytes / keel_cache_memory_budget_bytes)',
      'percentunit',
      row('KeelCacheMemory'),
    ),
    timeseries(
      'Requests per second by route',
      [{ expr: 'sum by (route) (rate(keel_http_requests_total[1m]))', legend: '{{route}}' }],
      'reqps',
    ),
    timeseries(
      'Answers by cache outcome',
      [{ expr: 'sum by (cache) (rate(keel_http_requests_total[1m]))', legend: '{{cache}}' }],
      'reqps',
    ),
    timeseries(
      'Latency p50 / p95 / p99',
      [
        { expr: latencyQuantileExpr(0.5, '1m'), legend: 'p50' },
        { expr: latencyQuantileExpr(0.95, '1m'), legend: 'p95' },
        { expr: latencyQuantileExpr(0.99, '1m'), legend: 'p99' },
      ],
      's',
      row('KeelLatencyP95'),
    ),
    timeseries(
      'Error rate',
      [{ expr: errorRateExpr('1m'), legend: '5xx share' }],
      'percentunit',
      row('KeelErrorRate'),
    ),
    timeseries(
      'Cache hit rate',
      [{ expr: hitRateExpr('1m'), legend: 'hit rate' }],
      'percentunit',
      row('KeelCacheHitRate'),
    ),
    timeseries(
      'L1 memory',
      [
        { expr: 'sum(keel_cache_memory_bytes)', legend: 'used' },
        { expr: 'sum(keel_cache_memory_budget_bytes)', legend: 'budget' },
      ],
      'bytes',
    ),
    timeseries(
      'Origin latency p95 and failures',
      [
        {
          expr: 'histogram_quantile(0.95, sum by (le) (rate(keel_upstream_request_duration_seconds_bucket[1m])))',
          legend: 'p95',
        },
        { expr: 'sum by (reason) (rate(keel_upstream_errors_total[1m]))', legend: 'failures {{reason}}' },
      ],
      's',
    ),
    timeseries(
      'Redis: breaker open, bus lag p99',
      [
        { expr: 'max(keel_redis_breaker_state{state="open"})', legend: 'breaker open' },
        { expr: 'max(keel_bus_lag_seconds)', legend: 'bus lag p99 (s)' },
      ],
      'short',
      row('KeelRedisBreakerOpen'),
    ),
    timeseries(
      'Route enablement',
      [{ expr: 'keel_route_enabled_ratio', legend: '{{route}}' }],
      'percentunit',
    ),
    timeseries(
      'CPU and heap',
      [
        { expr: 'max(rate(keel_process_cpu_seconds_total[1m]))', legend: 'CPU (cores)' },
        {
          expr: 'max(keel_nodejs_heap_size_used_bytes / keel_nodejs_heap_limit_bytes)',
          legend: 'heap / limit',
        },
      ],
      'percentunit',
      row('KeelCpuUsage'),
    ),
  ]);
}

export function dailyDashboard() {
  return dashboard('keel-daily', 'Keel — daily', '24h', '5m', [
    stat('Requests (24h)', 'sum(increase(keel_http_requests_total[24h]))', 'short'),
    stat('Hit rate (24h)', hitRateExpr('24h'), 'percentunit', row('KeelCacheHitRate')),
    stat('Error rate (24h)', errorRateExpr('24h'), 'percentunit', row('KeelErrorRate')),
    stat('p95 (24h)', latencyQuantileExpr(0.95, '24h'), 's', row('KeelLatencyP95')),
    timeseries(
      'Hit rate by route (15m)',
      [
        {
          expr: hitRateExpr('15m', 'route'),
          legend: '{{route}}',
        },
      ],
      'percentunit',
      row('KeelCacheHitRate'),
    ),
    timeseries(
      'p95 by route (15m)',
      [{ expr: latencyQuantileExpr(0.95, '15m', 'route'), legend: '{{route}}' }],
      's',
      row('KeelLatencyP95'),
    ),
    timeseries(
      'Error rate (15m)',
      [{ expr: errorRateExpr('15m'), legend: '5xx share' }],
      'percentunit',
      row('KeelErrorRate'),
    ),
    timeseries(
      'Evictions and expirations per second',
      [
        { expr: 'sum(rate(keel_cache_evictions_total[15m]))', legend: 'evictions' },
        { expr: 'sum(rate(keel_cache_expirations_total[15m]))', legend: 'expirations' },
      ],
      'reqps',
    ),
    timeseries(
      'L1 memory / budget',
      [{ expr: 'max(keel_cache_memory_bytes / keel_cache_memory_budget_bytes)', legend: 'used / budget' }],
      'percentunit',
      row('KeelCacheMemory'),
    ),
    timeseries(
      'Origin requests saved per second',
      [{ expr: 'sum(rate(keel_http_requests_total{cache="HIT"}[15m]))', legend: 'answered from the cache' }],
      'reqps',
    ),
  ]);
}

export function weeklyDashboard() {
  return dashboard('keel-weekly', 'Keel — weekly', '7d', '1h', [
    stat('Requests (7d)', 'sum(increase(keel_http_requests_total[7d]))', 'short'),
    stat('Hit rate (7d)', hitRateExpr('7d'), 'percentunit', row('KeelCacheHitRate')),
    stat('Error rate (7d)', errorRateExpr('7d'), 'percentunit', row('KeelErrorRate')),
    stat('p99 (7d)', latencyQuantileExpr(0.99, '7d'), 's', row('KeelLatencyP99')),
    timeseries(
      'Requests per day',
      [{ expr: 'sum(increase(keel_http_requests_total[1d]))', legend: 'requests' }],
      'short',
    ),
    timeseries(
      'Hit rate per day',
      [{ expr: hitRateExpr('1d'), legend: 'hit rate' }],
      'percentunit',
      row('KeelCacheHitRate'),
    ),
    timeseries(
      'p95 and p99 per day',
      [
        { expr: latencyQuantileExpr(0.95, '1d'), legend: 'p95' },
        { expr: latencyQuantileExpr(0.99, '1d'), legend: 'p99' },
      ],
      's',
      row('KeelLatencyP95'),
    ),
    timeseries(
      'Error rate per day',
      [{ expr: errorRateExpr('1d'), legend: '5xx share' }],
      'percentunit',
      row('KeelErrorRate'),
    ),
  ]);
}

/** `keel sync serve`'s figures: the listing sync's rows of the thresholds table, and its flow. */
export function syncDashboard() {
  return dashboard('keel-sync', 'Keel — listing sync', '6h', '30s', [
    stat('Success rate (1h)', 'min(keel_sync_success_ratio)', 'percentunit', row('KeelSyncSuccessRate')),
    stat('Seconds per 1,000 rows', 'max(keel_sync_seconds_per_1000_rows)', 's', row('KeelSyncDuration')),
    stat('API usage', 'max(keel_sync_api_usage_ratio)', 'percentunit', row('KeelSyncApiUsage')),
    stat(
      'Verification mismatches',
      'max(keel_sync_verification_differences)',
      'short',
      row('KeelSyncMismatch'),
    ),
    timeseries(
      'Rows per minute by result',
      [{ expr: 'sum by (result) (rate(keel_sync_rows_total[5m])) * 60', legend: '{{result}}' }],
      'short',
    ),
    timeseries(
      'Runs per hour by status',
      [{ expr: 'sum by (status) (increase(keel_sync_runs_total[1h]))', legend: '{{status}}' }],
      'short',
    ),
    timeseries(
      'Listings in the table, change since the previous run',
      [
        { expr: 'max(keel_sync_table_rows)', legend: 'listings' },
        { expr: 'max(keel_sync_table_rows_change_ratio)', legend: 'change (ratio)' },
      ],
      'short',
      row('KeelSyncCountChange'),
    ),
    timeseries(
      'Paused, stopped, dead letters',
      [
        { expr: 'max(keel_sync_breaker_open)', legend: 'circuit open' },
        { expr: 'max(keel_sync_emergency_stop)', legend: 'emergency stop' },
        { expr: 'max(keel_sync_dead_letters)', legend: 'open dead letters' },
      ],
      'short',
    ),
  ]);
}

/** The dashboards by file name. */
export function grafanaDashboards(): Record<string, unknown> {
  return {
    'keel-realtime.json': realtimeDashboard(),
    'keel-daily.json': dailyDashboard(),
    'keel-weekly.json': weeklyDashboard(),
    'keel-sync.json': syncDashboard(),
  };
}
