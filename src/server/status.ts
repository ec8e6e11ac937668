/**
 * `/api/status`: the gateway's state as JSON — what the dashboard draws, `keel status` checks
 * against the thresholds, and `keel analyze` collects — and its recent history.
 *
 * The history is a ring of snapshots taken every MONITORING_INTERVAL (one hour's worth), of the
 * cumulative counters only; rates are the differences between snapshots, computed by the reader.
 * `recent()` ends with a point taken now (not kept), so a reader has a rate and a latency from the
 * first seconds on rather than after two intervals. The request rate of the snapshot is live: the
 * requests of the last RATE_WINDOW_SECONDS, counted once a second.
 */
import type { OptimizedCacheManager, PerformanceStats } from '../cache/index.js';
import type { CacheFigures } from '../observability/index.js';
import { KEEL_VERSION } from '../version.js';
import type { GatewayStats, RouteFigures, TotalFigures } from './gateway-stats.js';
import type { RouteTable } from './route-table.js';

/** How far back the history reaches, whatever its interval. */
const HISTORY_SPAN_MS = 3_600_000;
/** The live request rate is over this many seconds. */
const RATE_WINDOW_SECONDS = 5;

export interface StatusSnapshot {
  /** Keel's version. */
  version: string;
  at: string;
  uptimeSeconds: number;
  origin: { url: string; sample: boolean };
  http: TotalFigures & { requestsPerSecond: number };
  cache: {
    hitRate: number;
    l1HitRate: number;
    l2HitRate: number;
    requests: PerformanceStats['requests'];
    memory: { bytes: number; budgetBytes: number; utilization: number; entries: number };
    evictions: number;
    redis: { state: string; breaker: string; errors: number; busLagP99Ms: number } | null;
  };
  routes: (RouteFigures & { kind: string; path: string; enabledPercent: number })[];
  process: { rssBytes: number; heapUsedBytes: number; heapLimitBytes: number; cpuSeconds: number };
}

/** Counters are cumulative; latency percentiles are of the requests since the previous point. */
export interface HistoryPoint {
  at: number;
  requests: number;
  errors: number;
  cacheHits: number;
  cacheLookups: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  memoryBytes: number;
  budgetBytes: number;
  rssBytes: number;
}

export class StatusReporter {
  private readonly startedAt = Date.now();
  private readonly history: HistoryPoint[] = [];
  private readonly timer: NodeJS.Timeout;
  /** Total requests at each of the last seconds, oldest first. */
  private readonly perSecond: number[] = [];
  private readonly rateTimer: NodeJS.Timeout;
  private readonly historyLength: number;

  constructor(
    private readonly cache: OptimizedCacheManager,
    private readonly stats: GatewayStats,
    private readonly routes: RouteTable,
    private readonly origin: { url: string; sample: boolean },
    intervalMs: number,
  ) {
    this.historyLength = Math.ceil(HISTORY_SPAN_MS / intervalMs);
    this.timer = setInterval(() => this.keep(), intervalMs);
    this.timer.unref();
    this.rateTimer = setInterval(() => {
      this.perSecond.push(this.stats.totals().requests);
      if (this.perSecond.length > RATE_WINDOW_SECONDS + 1) this.perSecond.shift();
    }, 1_000);
    this.rateTimer.unref();
    this.keep();
  }

  snapshot(): StatusSnapshot {
    const perf = this.cache.getPerformanceStats();
    const byRoute = new Map(this.stats.figures().map((figures) => [figures.route, figures]));
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      version: KEEL_VERSION,
      at: new Date().toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      origin: this.origin,
      http: { ...this.stats.totals(), requestsPerSecond: this.requestsPerSecond() },
      cache: {
        hitRate: perf.hitRate.overall,
        l1HitRate: perf.hitRate.l1,
        l2HitRate: perf.hitRate.l2,
        requests: perf.requests,
        memory: {
          bytes: perf.memory.bytes,
          budgetBytes: perf.memory.budgetBytes,
          utilization: perf.memory.utilization,
          entries: perf.memory.entries,
        },
        evictions: perf.eviction.evictions,
        redis:
          perf.l2 === undefined
            ? null
            : {
                state: perf.l2.state,
                breaker: perf.l2.breaker,
                errors: perf.l2.errors,
                busLagP99Ms: perf.l2.bus.lagMs.p99,
              },
      },
      routes: [
        ...this.routes.routes.map((route) => ({
          ...(byRoute.get(route.name) ?? emptyFigures(route.name)),
          kind: route.kind,
          path: route.path,
          enabledPercent: this.routes.enabledPercent(route),
        })),
        ...[...byRoute.values()]
          .filter((figures) => this.routes.route(figures.route) === undefined)
          .map((figures) => ({ ...figures, kind: 'unrouted', path: '*', enabledPercent: 0 })),
      ],
      process: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapLimitBytes: perf.memory.heapLimitBytes,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      },
    };
  }

  /** The kept snapshots, then one taken now. */
  recent(): readonly HistoryPoint[] {
    return [...this.history, this.point(false)];
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.rateTimer);
  }

  private keep(): void {
    this.history.push(this.point(true));
    if (this.history.length > this.historyLength) this.history.shift();
  }

  /** Requests per second over the last seconds (since start-up when younger than the window). */
  private requestsPerSecond(): number {
    const now = this.stats.totals().requests;
    const oldest = this.perSecond[0];
    if (oldest === undefined) return 0;
    return (now - oldest) / Math.max(1, this.perSecond.length);
  }

  /** A snapshot of the counters; `keep` closes the latency window (kept points do). */
  private point(keep: boolean): HistoryPoint {
    const totals = this.stats.totals();
    const recent = keep ? this.stats.takeRecentLatency() : this.stats.peekRecentLatency();
    const perf = this.cache.getPerformanceStats();
    return {
      at: Date.now(),
      requests: totals.requests,
      errors: totals.errors,
      cacheHits: perf.requests.l1Hits + perf.requests.l2Hits,
      cacheLookups: perf.requests.total,
      p50Ms: recent.p50,
      p95Ms: recent.p95,
      p99Ms: recent.p99,
      memoryBytes: perf.memory.bytes,
      budgetBytes: perf.memory.budgetBytes,
      rssBytes: process.memoryUsage.rss(),
    };
  }
}

/** The cache's figures as the Prometheus collectors read them. */
export function cacheFigures(cache: OptimizedCacheManager): CacheFigures {
  const perf = cache.getPerformanceStats();
  const seconds = (ms: number) => ms / 1000;
  return {
    l1Hits: perf.requests.l1Hits,
    l2Hits: perf.requests.l2Hits,
    misses: perf.requests.misses,
    staleServed: perf.requests.staleServed,
    entries: perf.memory.entries,
    bytes: perf.memory.bytes,
    budgetBytes: perf.memory.budgetBytes,
    evictions: perf.eviction.evictions,
    expirations: perf.eviction.expirations,
    compressionRatio: perf.compression.ratio,
    latency: {
      l1_hit: { p50: seconds(perf.latency.l1Hit.p50), p99: seconds(perf.latency.l1Hit.p99) },
      l2_hit: { p50: seconds(perf.latency.l2Hit.p50), p99: seconds(perf.latency.l2Hit.p99) },
      miss: { p50: seconds(perf.latency.miss.p50), p99: seconds(perf.latency.miss.p99) },
    },
    redis:
      perf.l2 === undefined
        ? undefined
        : {
            breaker: perf.l2.breaker,
            connected: perf.l2.state !== 'disconnected',
            errors: perf.l2.errors,
            timeouts: perf.l2.timeouts,
            busPublished: perf.l2.bus.published,
            busReceived: perf.l2.bus.received,
            busLagP99Seconds: seconds(perf.l2.bus.lagMs.p99),
            indexRepairs: perf.l2.indexRepairs,
          },
  };
}

function emptyFigures(route: string): RouteFigures {
  const none = { count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    route,
    requests: 0,
    outcomes: { HIT: 0, MISS: 0, STALE: 0, REVALIDATED: 0, BYPASS: 0 },
    statuses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    hitRate: 0,
    latencyMs: none,
    upstream: { requests: 0, failures: 0, latencyMs: none },
    storeFailures: 0,
  };
}
