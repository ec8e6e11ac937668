/**
 * GatewayStats: what the gateway counts per route, for `/api/status` and the dashboard, and the
 * same observations forwarded to the Prometheus metrics.
 *
 * Per route: requests by cache outcome, responses by status class, latency (a fixed-memory
 * histogram of every request), origin latency and origin failures. Plain counters mutated in
 * place; a snapshot is computed only when asked.
 */
import { LatencyHistogram, type LatencySnapshot } from '../cache/index.js';
import type { CacheOutcome, KeelMetrics, UpstreamFailure } from '../observability/index.js';

class RouteCounters {
  requests = 0;
  readonly outcomes: Record<CacheOutcome, number> = { HIT: 0, MISS: 0, STALE: 0, REVALIDATED: 0, BYPASS: 0 };
  readonly statuses = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  readonly latency = new LatencyHistogram();
  readonly upstreamLatency = new LatencyHistogram();
  upstreamRequests = 0;
  upstreamFailures = 0;
  storeFailures = 0;
}

export interface RouteFigures {
  route: string;
  requests: number;
  outcomes: Record<CacheOutcome, number>;
  statuses: Record<'2xx' | '3xx' | '4xx' | '5xx', number>;
  /** Requests answered from the cache (HIT, REVALIDATED, STALE) ÷ requests that could be (all but BYPASS). */
  hitRate: number;
  latencyMs: LatencySnapshot;
  upstream: { requests: number; failures: number; latencyMs: LatencySnapshot };
  /** Answers the cache refused to store (served uncached). */
  storeFailures: number;
}

export interface TotalFigures {
  requests: number;
  /** Answers with a 5xx status. */
  errors: number;
  /** Answered from the cache (HIT, REVALIDATED, STALE) ÷ requests that could be. */
  hitRate: number;
  latencyMs: LatencySnapshot;
}

export class GatewayStats {
  private readonly routes = new Map<string, RouteCounters>();
  private readonly total = new RouteCounters();
  /** Latency of the requests since the last `takeRecentLatency`, for windowed percentiles. */
  private readonly recentLatency = new LatencyHistogram();

  constructor(private readonly metrics: KeelMetrics | undefined) {}

  /** The hit rate of every answer so far that could come from the cache; undefined before any. */
  cacheableHitRate(): number | undefined {
    return this.total.requests - this.total.outcomes.BYPASS === 0 ? undefined : hitRate(this.total);
  }

  request(route: string, method: string, status: number, outcome: CacheOutcome, seconds: number): void {
    const counters = this.counters(route);
    counters.requests++;
    counters.outcomes[outcome]++;
    const statusClass = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
    counters.statuses[statusClass]++;
    counters.latency.record(seconds * 1000);
    this.total.requests++;
    this.total.outcomes[outcome]++;
    this.total.statuses[statusClass]++;
    this.total.latency.record(seconds * 1000);
    this.recentLatency.record(seconds * 1000);
    this.metrics?.observeRequest(route, method, status, outcome, seconds);
  }

  upstream(route: string, seconds: number): void {
    const counters = this.counters(route);
    counters.upstreamRequests++;
    counters.upstreamLatency.record(seconds * 1000);
    this.metrics?.observeUpstream(route, seconds);
  }

  upstreamFailed(route: string, reason: UpstreamFailure): void {
    this.counters(route).upstreamFailures++;
    this.metrics?.upstreamFailed(route, reason);
  }

  /** An answer that could have been stored was not (the cache refused it): served uncached. */
  storeFailed(route: string): void {
    this.counters(route).storeFailures++;
    this.metrics?.storeFailed(route);
  }

  totals(): TotalFigures {
    const t = this.total;
    return {
      requests: t.requests,
      errors: t.statuses['5xx'],
      hitRate: hitRate(t),
      latencyMs: t.latency.snapshot(),
    };
  }

  /** The latency of the requests since the previous call (then forgotten). */
  takeRecentLatency(): LatencySnapshot {
    const snapshot = this.recentLatency.snapshot();
    this.recentLatency.reset();
    return snapshot;
  }

  /** The latency of the requests since the last `takeRecentLatency`, which are kept. */
  peekRecentLatency(): LatencySnapshot {
    return this.recentLatency.snapshot();
  }

  figures(): RouteFigures[] {
    return [...this.routes].map(([route, c]) => {
      return {
        route,
        requests: c.requests,
        outcomes: { ...c.outcomes },
        statuses: { ...c.statuses },
        hitRate: hitRate(c),
        latencyMs: c.latency.snapshot(),
        upstream: {
          requests: c.upstreamRequests,
          failures: c.upstreamFailures,
          latencyMs: c.upstreamLatency.snapshot(),
        },
        storeFailures: c.storeFailures,
      };
    });
  }

  private counters(route: string): RouteCounters {
    let counters = this.routes.get(route);
    if (counters === undefined) {
      counters = new RouteCounters();
      this.routes.set(route, counters);
    }
    return counters;
  }
}

function hitRate(c: RouteCounters): number {
  const cacheable = c.requests - c.outcomes.BYPASS;
  const served = c.outcomes.HIT + c.outcomes.REVALIDATED + c.outcomes.STALE;
  return cacheable === 0 ? 0 : served / cacheable;
}
