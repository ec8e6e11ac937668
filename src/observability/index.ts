/** keel/observability: metrics, thresholds and the generators of alert rules, Alertmanager routing and dashboards. */
export {
  alertName,
  alertRules,
  alertRulesTestYaml,
  alertRulesYaml,
  DEFAULT_RUNBOOK_BASE,
  formatValue,
} from './alert-rules.js';
export { type AlertRouting, alertmanagerConfig, alertmanagerYaml, DEFAULT_CHANNELS } from './alertmanager.js';
export { dailyDashboard, grafanaDashboards, realtimeDashboard, weeklyDashboard } from './grafana.js';
export { type JudgedRow, judgeRow } from './judge.js';
export {
  type CacheFigures,
  type CacheOutcome,
  type GatewayFigures,
  KeelMetrics,
  type UpstreamFailure,
} from './metrics.js';
export { type PrometheusSetup, prometheusYaml } from './prometheus-config.js';
export { errorRateExpr, hitRateExpr, latencyQuantileExpr } from './promql.js';
export { type MonitoringSetup, writeMonitoringSetup } from './setup.js';
export {
  breaches,
  type Level,
  levelOf,
  ROLLOUT_GUARDS,
  SEVERITIES,
  type Severity,
  THRESHOLDS,
  type ThresholdRow,
} from './thresholds.js';
