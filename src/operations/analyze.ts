/**
 * `keel analyze`: "analyse the cache's performance" — collects the gateway's recent history (its
 * /api/status/history, an hour at MONITORING_INTERVAL; or, with a Prometheus URL, Prometheus's
 * own record over any range), and turns it into figures, series for charts, and
 * recommendations, each with the numbers that motivate it (report-html.ts renders them).
 */
import { request } from 'undici';
import { hitRateExpr, latencyQuantileExpr, THRESHOLDS } from '../observability/index.js';
import type { HistoryPoint, StatusSnapshot } from '../server/index.js';
import { gatewayJson } from './gateway-client.js';

export interface SeriesPoint {
  at: number;
  requestsPerSecond: number;
  /** 0–1; undefined when the interval had no cache lookups. */
  hitRate: number | undefined;
  p95Ms: number;
  memoryBytes: number;
  budgetBytes: number;
}

export interface Recommendation {
  topic: 'hit rate' | 'TTL' | 'memory' | 'origin' | 'latency' | 'errors' | 'rollout';
  severity: 'action' | 'consider' | 'info';
  text: string;
}

export interface Analysis {
  source: string;
  collectedAt: string;
  status: StatusSnapshot;
  series: SeriesPoint[];
  recommendations: Recommendation[];
}

/** The target of a row of the thresholds table, the one place targets are set. */
function targetOf(name: string): number {
  const row = THRESHOLDS.find((candidate) => candidate.name === name);
  if (row === undefined) throw new Error(`no threshold named ${name}`);
  return row.target;
}
/** Targets the recommendations judge by: the thresholds table's. */
const HIT_RATE_TARGET = targetOf('KeelCacheHitRate');
const MEMORY_TARGET = targetOf('KeelCacheMemory');
const ERROR_RATE_TARGET = targetOf('KeelErrorRate');
const P95_TARGET_MS = targetOf('KeelLatencyP95') * 1000;
const STALE_SHARE_WORRY = 0.01;
const REVALIDATED_SHARE_HINT = 0.3;
const EVICTION_SHARE_WORRY = 0.1;
const MIN_ROUTE_REQUESTS = 50;

/** JSON from the gateway (`gateway`: an unreachable one is GATEWAY_UNREACHABLE) or from Prometheus. */
async function getJson<T>(url: URL, from: 'gateway' | 'prometheus' = 'gateway'): Promise<T> {
  if (from === 'gateway') return gatewayJson<T>(url);
  const response = await request(url);
  if (response.statusCode !== 200) throw new Error(`${url.href} answered ${response.statusCode}`);
  return (await response.body.json()) as T;
}

/** Series from the gateway's own history (the differences between its snapshots). */
export function seriesFromHistory(history: readonly HistoryPoint[]): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1] as HistoryPoint;
    const b = history[i] as HistoryPoint;
    const seconds = Math.max(1e-3, (b.at - a.at) / 1000);
    const lookups = b.cacheLookups - a.cacheLookups;
    points.push({
      at: b.at,
      requestsPerSecond: (b.requests - a.requests) / seconds,
      hitRate: lookups > 0 ? (b.cacheHits - a.cacheHits) / lookups : undefined,
      p95Ms: b.p95Ms,
      memoryBytes: b.memoryBytes,
      budgetBytes: b.budgetBytes,
    });
  }
  return points;
}

/** Series from Prometheus (query_range), over the last `rangeSeconds`, one point a `stepSeconds`. */
async function seriesFromPrometheus(
  prometheus: URL,
  rangeSeconds: number,
  stepSeconds: number,
): Promise<SeriesPoint[]> {
  const end = Math.floor(Date.now() / 1000);
  const query = async (expr: string): Promise<Map<number, number>> => {
    const url = new URL('/api/v1/query_range', prometheus);
    url.search = new URLSearchParams({
      query: expr,
      start: String(end - rangeSeconds),
      end: String(end),
      step: String(stepSeconds),
    }).toString();
    const body = await getJson<{ data: { result: { values: [number, string][] }[] } }>(url, 'prometheus');
    return new Map((body.data.result[0]?.values ?? []).map(([at, value]) => [at, Number(value)]));
  };
  const window = `${Math.max(60, stepSeconds * 2)}s`;
  const [rates, hits, p95, memory, budget] = await Promise.all([
    query(`sum(rate(keel_http_requests_total[${window}]))`),
    query(hitRateExpr(window)),
    query(latencyQuantileExpr(0.95, window)),
    query('sum(keel_cache_memory_bytes)'),
    query('sum(keel_cache_memory_budget_bytes)'),
  ]);
  return [...rates.keys()].map((at) => ({
    at: at * 1000,
    requestsPerSecond: rates.get(at) ?? 0,
    hitRate: hits.has(at) && Number.isFinite(hits.get(at)) ? hits.get(at) : undefined,
    p95Ms: (p95.get(at) ?? 0) * 1000,
    memoryBytes: memory.get(at) ?? 0,
    budgetBytes: budget.get(at) ?? 0,
  }));
}

export interface AnalyzeOptions {
  gateway: URL;
  /** Read the series from Prometheus instead of the gateway's history. */
  prometheus?: URL;
  rangeSeconds?: number;
}

export async function analyze(options: AnalyzeOptions): Promise<Analysis> {
  const status = await getJson<StatusSnapshot>(new URL('/api/status', options.gateway));
  const rangeSeconds = options.rangeSeconds ?? 3_600;
  const series =
    options.prometheus === undefined
      ? seriesFromHistory(await getJson<HistoryPoint[]>(new URL('/api/status/history', options.gateway)))
      : await seriesFromPrometheus(
          options.prometheus,
          rangeSeconds,
          Math.max(15, Math.round(rangeSeconds / 240)),
        );
  return {
    source:
      options.prometheus === undefined
        ? `${options.gateway.origin}/api/status/history`
        : `${options.prometheus.origin} (Prometheus)`,
    collectedAt: new Date().toISOString(),
    status,
    series,
    recommendations: recommend(status),
  };
}

const pct = (share: number) => `${(share * 100).toFixed(1)} %`;

/** Recommendations from the gateway's figures, each with the numbers behind it. */
export function recommend(status: StatusSnapshot): Recommendation[] {
  const advice: Recommendation[] = [];
  const { http, cache } = status;
  const reads = status.routes.filter(
    (route) => route.kind === 'read' && route.requests >= MIN_ROUTE_REQUESTS,
  );
  if (http.requests > 0 && http.hitRate < HIT_RATE_TARGET) {
    advice.push({
      topic: 'hit rate',
      severity: 'action',
      text: `The hit rate is ${pct(http.hitRate)}, under the ${pct(HIT_RATE_TARGET)} target.`,
    });
  }
  for (const route of reads) {
    const cacheable = route.requests - route.outcomes.BYPASS;
    if (cacheable <= 0) {
      advice.push({
        topic: 'hit rate',
        severity: 'consider',
        text: `Route ${route.route}: all ${route.requests} requests bypassed the cache. Either its origin forbids a shared cache to keep the answers (private, no-store, Set-Cookie: nothing to change in Keel), or the requests carry Authorization or Cookie (if the answers do not depend on the caller, set cacheAuthenticated: true), or the route is enabled for ${route.enabledPercent} %.`,
      });
      continue;
    }
    if (route.hitRate < HIT_RATE_TARGET && route.outcomes.MISS > route.outcomes.HIT) {
      advice.push({
        topic: 'TTL',
        severity: 'action',
        text: `Route ${route.route} (${route.path}): hit rate ${pct(route.hitRate)} over ${cacheable} cacheable requests. Lengthen its ttl, or use ttl: adaptive; if its URLs carry per-request query parameters, they split the cache.`,
      });
    }
    const revalidated = route.outcomes.REVALIDATED / cacheable;
    if (revalidated > REVALIDATED_SHARE_HINT) {
      advice.push({
        topic: 'TTL',
        severity: 'consider',
        text: `Route ${route.route}: ${pct(revalidated)} of its answers were revalidated with the origin (short origin max-age). A Keel ttl (e.g. 5m) would answer them without a round trip, at the price of freshness.`,
      });
    }
    const stale = route.outcomes.STALE / cacheable;
    if (stale > STALE_SHARE_WORRY) {
      advice.push({
        topic: 'origin',
        severity: 'action',
        text: `Route ${route.route}: ${pct(stale)} of its answers were stale, served because the origin failed (${route.upstream.failures} origin failures). Check the origin.`,
      });
    }
    if (route.enabledPercent < 100 && route.statuses['5xx'] === 0 && route.hitRate >= HIT_RATE_TARGET) {
      advice.push({
        topic: 'rollout',
        severity: 'info',
        text: `Route ${route.route} is enabled for ${route.enabledPercent} % with a ${pct(route.hitRate)} hit rate and no 5xx: it looks ready for the next stage.`,
      });
    }
  }
  if (cache.memory.utilization > MEMORY_TARGET) {
    advice.push({
      topic: 'memory',
      severity: 'action',
      text: `The L1 uses ${pct(cache.memory.utilization)} of its budget (target under ${pct(MEMORY_TARGET)}). Raise KEEL_MEMORY_MAX_BYTES, or shorten the TTLs of the largest routes.`,
    });
  }
  const lookups = cache.requests.total;
  if (lookups > 0 && cache.evictions / lookups > EVICTION_SHARE_WORRY) {
    advice.push({
      topic: 'memory',
      severity: 'action',
      text: `${cache.evictions} evictions for ${lookups} lookups: entries leave before they are reused. A larger L1 budget would raise the hit rate.`,
    });
  }
  if (http.requests > 0 && http.errors / http.requests > ERROR_RATE_TARGET) {
    advice.push({
      topic: 'errors',
      severity: 'action',
      text: `${pct(http.errors / http.requests)} of the answers were 5xx (target under ${pct(ERROR_RATE_TARGET)}).`,
    });
  }
  if (http.latencyMs.p95 > P95_TARGET_MS) {
    advice.push({
      topic: 'latency',
      severity: 'action',
      text: `p95 is ${http.latencyMs.p95.toFixed(0)} ms (target under ${P95_TARGET_MS} ms): most of it is origin time on misses; raise the hit rate or the origin's speed.`,
    });
  }
  if (advice.length === 0)
    advice.push({
      topic: 'hit rate',
      severity: 'info',
      text: 'Every figure is within its target: no change needed.',
    });
  return advice;
}
