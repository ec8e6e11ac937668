/**
 * The PromQL of the figures Keel is judged by, written once: the alerting rules (thresholds.ts),
 * the Grafana dashboards and `keel analyze` all read the same definition of a hit rate, an error
 * rate and a latency quantile. `by` groups the result by a label (`route`).
 */

/** Answers from the cache (HIT, REVALIDATED, STALE) ÷ requests that could be (all but BYPASS). */
export function hitRateExpr(window: string, by?: string): string {
  const sum = by === undefined ? 'sum' : `sum by (${by}) `;
  return `${sum}(rate(keel_http_requests_total{cache=~"HIT|REVALIDATED|STALE"}[${window}])) / ${sum}(rate(keel_http_requests_total{cache!="BYPASS"}[${window}]))`;
}

/** Share of the gateway's answers that are 5xx. */
export function errorRateExpr(window: string): string {
  return `sum(rate(keel_http_requests_total{status=~"5.."}[${window}])) / sum(rate(keel_http_requests_total[${window}]))`;
}

/** The q-quantile of the time to answer, in seconds. */
export function latencyQuantileExpr(q: number, window: string, by?: string): string {
  const labels = by === undefined ? 'le' : `le, ${by}`;
  return `histogram_quantile(${q}, sum by (${labels}) (rate(keel_http_request_duration_seconds_bucket[${window}])))`;
}
