/**
 * KeelMetrics: the Prometheus metrics of `keel serve` (prom-client), in one registry.
 *
 * Two kinds, as the house rules want: the HTTP layer observes each request into counters and
 * histograms (a gateway request already costs microseconds; an observation is a few hundred
 * nanoseconds), and the cache's figures are read from the cache's own counters only when
 * Prometheus scrapes (`collect` callbacks), so the cache's hot path carries no metrics code.
 * This module imports nothing of the rest of Keel: the server hands it numbers (`CacheFigures`).
 *
 * Names follow Prometheus' conventions (`promtool check metrics` passes): prefix `keel_`, base
 * units in the name, `_total` on counters; labels only from bounded sets — the route's name from
 * the routes file (or `unrouted`), the method, the status, the cache outcome, the tier.
 */
import { getHeapStatistics } from 'node:v8';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Cache outcome of a gateway request, as the `X-Cache` header says it. */
export type CacheOutcome = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** The cache's figures, read at scrape time. */
export interface CacheFigures {
  l1Hits: number;
  l2Hits: number;
  misses: number;
  staleServed: number;
  entries: number;
  bytes: number;
  budgetBytes: number;
  evictions: number;
  expirations: number;
  compressionRatio: number;
  /** Latency quantiles of the last samples, in seconds, by tier. */
  latency: Record<'l1_hit' | 'l2_hit' | 'miss', { p50: number; p99: number }>;
  /** Undefined without Redis. */
  redis?: {
    breaker: 'closed' | 'open' | 'half-open';
    connected: boolean;
    errors: number;
    timeouts: number;
    busPublished: number;
    busReceived: number;
    busLagP99Seconds: number;
    /** Index keys found holding another type in Redis, deleted and rebuilt. */
    indexRepairs: number;
  };
}

/** The gateway's resources, read at scrape time. */
export interface GatewayFigures {
  clientConnections: number;
  /** Client connections closed to make room for others (idle, or silent since they opened). */
  clientConnectionsShed: number;
  originConnectionsInUse: number;
  originConnectionsQueued: number;
  bufferedBytes: number;
  /** Bodies streamed instead of held because the buffer budget was spent. */
  bufferOverflows: number;
}

export type UpstreamFailure = 'timeout' | 'unavailable' | 'busy' | 'invalid_response' | 'status_5xx';

/** Seconds: from 0.5 ms (a cache hit through the gateway) to 10 s (an upstream timeout). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;
const MISNAMED_DEFAULTS = [
  'keel_nodejs_active_handles_total',
  'keel_nodejs_active_requests_total',
  'keel_nodejs_active_resources_total',
];

export class KeelMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status' | 'cache'>;
  private readonly requestSeconds: Histogram<'route' | 'cache'>;
  private readonly upstreamSeconds: Histogram<'route'>;
  private readonly upstreamErrors: Counter<'route' | 'reason'>;
  private readonly storeFailures: Counter<'route'>;

  constructor(
    readCache: () => CacheFigures,
    readEnablement: () => ReadonlyMap<string, number>,
    readGateway: () => GatewayFigures,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'keel_' });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
    // check metrics refuses them); its keel_nodejs_active_resources{type} gauge says the same.
    for (const misnamed of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(misnamed);
    this.requests = new Counter({
      name: 'keel_http_requests_total',
      help: 'HTTP requests answered by the gateway, by route, method, status and cache outcome.',
      labelNames: ['route', 'method', 'status', 'cache'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'keel_http_request_duration_seconds',
      help: 'Time to answer a gateway request, by route and cache outcome.',
      labelNames: ['route', 'cache'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.upstreamSeconds = new Histogram({
      name: 'keel_upstream_request_duration_seconds',
      help: 'Time the origin took to answer, by route.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'keel_upstream_errors_total',
      help: 'Origin requests that failed, by route and reason (timeout, unavailable, busy, invalid_response, status_5xx).',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.storeFailures = new Counter({
      name: 'keel_gateway_store_failures_total',
      help: 'Origin answers that could not be stored (served uncached), by route.',
      labelNames: ['route'],
      registers,
    });
    cacheCollectors(readCache, registers);
    gatewayCollectors(readGateway, registers);
    new Gauge({
      name: 'keel_nodejs_heap_limit_bytes',
      help: 'The V8 heap size limit (--max-old-space-size), the base of heap usage alerts.',
      registers,
      collect() {
        this.set(getHeapStatistics().heap_size_limit);
      },
    });
    new Gauge({
      name: 'keel_route_enabled_ratio',
      help: "Share of a read route's requests served through the cache (0 to 1).",
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const [route, percent] of readEnablement()) this.set({ route }, percent / 100);
      },
    });
  }

  observeRequest(route: string, method: string, status: number, cache: CacheOutcome, seconds: number): void {
    this.requests.inc({ route, method, status: String(status), cache });
    this.requestSeconds.observe({ route, cache }, seconds);
  }

  observeUpstream(route: string, seconds: number): void {
    this.upstreamSeconds.observe({ route }, seconds);
  }

  upstreamFailed(route: string, reason: UpstreamFailure): void {
    this.upstreamErrors.inc({ route, reason });
  }

  storeFailed(route: string): void {
    this.storeFailures.inc({ route });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The gateway's resource gauges and counters, each reading `readGateway()` when scraped. */
function gatewayCollectors(readGateway: () => GatewayFigures, registers: Registry[]): void {
  const gauge = (name: string, help: string, read: (g: GatewayFigures) => number) =>
    scrapedGauge(name, help, registers, () => read(readGateway()));
  const counter = (name: string, help: string, read: (g: GatewayFigures) => number) =>
    scrapedCounter(name, help, registers, () => read(readGateway()));
  gauge('keel_gateway_client_connections', 'Open client connections.', (g) => g.clientConnections);
  counter(
    'keel_gateway_client_connections_shed_total',
    'Client connections closed at the connection limit to make room (idle or silent ones first).',
    (g) => g.clientConnectionsShed,
  );
  gauge(
    'keel_upstream_connections_in_use',
    'Origin connections held by exchanges in progress.',
    (g) => g.originConnectionsInUse,
  );
  gauge(
    'keel_upstream_queue_length',
    'Requests waiting for a free origin connection.',
    (g) => g.originConnectionsQueued,
  );
  gauge(
    'keel_gateway_buffered_bytes',
    'Bytes of request and response bodies held in memory now.',
    (g) => g.bufferedBytes,
  );
  counter(
    'keel_gateway_buffer_overflows_total',
    'Bodies streamed rather than held because KEEL_MAX_BUFFERED_BYTES was spent.',
    (g) => g.bufferOverflows,
  );
}

/** A gauge whose value is read when Prometheus scrapes. */
function scrapedGauge(name: string, help: string, registers: Registry[], read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose total is read when Prometheus scrapes (from a plain counter kept elsewhere). */
function scrapedCounter(name: string, help: string, registers: Registry[], read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The cache's gauges and counters, each reading `readCache()` when scraped. */
function cacheCollectors(readCache: () => CacheFigures, registers: Registry[]): void {
  new Counter({
    name: 'keel_cache_requests_total',
    help: 'Cache lookups by tier and result: an L1 miss goes on to L2 (when configured), an L2 miss to the origin.',
    labelNames: ['tier', 'result'],
    registers,
    collect() {
      const c = readCache();
      this.reset();
      this.inc({ tier: 'l1', result: 'hit' }, c.l1Hits);
      this.inc({ tier: 'l1', result: 'miss' }, c.l2Hits + c.misses);
      if (c.redis !== undefined) {
        this.inc({ tier: 'l2', result: 'hit' }, c.l2Hits);
        this.inc({ tier: 'l2', result: 'miss' }, c.misses);
      }
    },
  });
  const gauge = (name: string, help: string, read: (c: CacheFigures) => number) =>
    scrapedGauge(name, help, registers, () => read(readCache()));
  const counter = (name: string, help: string, read: (c: CacheFigures) => number) =>
    scrapedCounter(name, help, registers, () => read(readCache()));
  counter(
    'keel_cache_stale_served_total',
    'Stale values served within grace (origin slow or failing).',
    (c) => c.staleServed,
  );
  gauge('keel_cache_entries', 'Entries held in the in-process L1.', (c) => c.entries);
  gauge('keel_cache_memory_bytes', 'Bytes the L1 entries are charged.', (c) => c.bytes);
  gauge('keel_cache_memory_budget_bytes', 'The L1 byte budget.', (c) => c.budgetBytes);
  counter('keel_cache_evictions_total', 'L1 entries evicted to stay within the budget.', (c) => c.evictions);
  counter(
    'keel_cache_expirations_total',
    'L1 entries removed because their TTL passed.',
    (c) => c.expirations,
  );
  gauge(
    'keel_cache_compression_ratio',
    'Stored ÷ raw bytes of the values the codec decided on (1 = none).',
    (c) => c.compressionRatio,
  );
  new Gauge({
    name: 'keel_cache_latency_seconds',
    help: 'Cache latency percentiles by tier, of requests sampled one in eight (a gauge: not a summary).',
    labelNames: ['tier', 'percentile'],
    registers,
    collect() {
      const { latency } = readCache();
      this.reset();
      for (const [tier, q] of Object.entries(latency)) {
        this.set({ tier, percentile: '50' }, q.p50);
        this.set({ tier, percentile: '99' }, q.p99);
      }
    },
  });
  new Gauge({
    name: 'keel_redis_breaker_state',
    help: 'State of the circuit breaker in front of Redis (1 for the current state).',
    labelNames: ['state'],
    registers,
    collect() {
      const redis = readCache().redis;
      this.reset();
      if (redis === undefined) return;
      for (const state of BREAKER_STATES) this.set({ state }, redis.breaker === state ? 1 : 0);
    },
  });
  gauge(
    'keel_redis_connected',
    'Whether the Redis command connection is up (1) or not (0, also without Redis).',
    (c) => (c.redis?.connected ? 1 : 0),
  );
  counter(
    'keel_redis_errors_total',
    'Redis calls that failed (timeouts included).',
    (c) => c.redis?.errors ?? 0,
  );
  counter('keel_redis_timeouts_total', 'Redis calls that timed out.', (c) => c.redis?.timeouts ?? 0);
  counter(
    'keel_redis_index_repairs_total',
    'Tag or dependency indexes found holding another type in Redis, deleted and rebuilt.',
    (c) => c.redis?.indexRepairs ?? 0,
  );
  new Counter({
    name: 'keel_bus_messages_total',
    help: 'Invalidation bus messages, by direction.',
    labelNames: ['direction'],
    registers,
    collect() {
      const redis = readCache().redis;
      this.reset();
      if (redis === undefined) return;
      this.inc({ direction: 'published' }, redis.busPublished);
      this.inc({ direction: 'received' }, redis.busReceived);
    },
  });
  gauge(
    'keel_bus_lag_seconds',
    'p99 delay between a change on another instance and its arrival here.',
    (c) => c.redis?.busLagP99Seconds ?? 0,
  );
}
