/** keel/observability: metrics, thresholds and the generators of alert rules and dashboards. */
export { type CacheFigures, type CacheOutcome, KeelMetrics } from './metrics.js';
