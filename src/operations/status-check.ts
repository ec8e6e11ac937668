/**
 * `keel status`: the gateway's health and its figures held against the thresholds table — a
 * deployment's "check the system status" step, in one table an operator reads at a glance.
 * Figures are cumulative since the gateway started (its /api/status); the alerting rules watch
 * the same rows over sliding windows. With `syncUrl`, the listing sync's service is checked too:
 * its health and the figures its status endpoint serves (those its /metrics exports).
 */
import { type JudgedRow, judgeRow, THRESHOLDS } from '../observability/index.js';
import { type SyncFigures, syncRowValues } from '../observability/sync-metrics.js';
import type { StatusSnapshot } from '../server/index.js';
import { gatewayJson, gatewayRequest } from './gateway-client.js';

/** Below this many requests, rates say too little to be judged. */
const MIN_REQUESTS_FOR_RATES = 100;

/** A row of the report; 'n/a' when there is not enough traffic (or no figure) to judge. */
export type StatusRow = JudgedRow;

export interface StatusReport {
  ready: boolean;
  readiness: Record<string, { ok: boolean; detail: string }>;
  rows: StatusRow[];
  /** True when nothing is at high or critical and the gateway is ready. */
  healthy: boolean;
}

async function json<T>(url: URL): Promise<{ status: number; body: T }> {
  const response = await gatewayRequest(url);
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

export async function checkStatus(baseUrl: URL, syncUrl?: URL): Promise<StatusReport> {
  const [gateway, sync] = await Promise.all([
    checkGateway(baseUrl),
    syncUrl === undefined ? undefined : checkSync(syncUrl),
  ]);
  if (sync === undefined) return gateway;
  return {
    ready: gateway.ready && sync.ready,
    readiness: { ...gateway.readiness, ...sync.readiness },
    rows: [...gateway.rows, ...sync.rows],
    healthy: gateway.healthy && sync.healthy,
  };
}

async function checkGateway(baseUrl: URL): Promise<StatusReport> {
  const [ready, status] = await Promise.all([
    json<{ checks: Record<string, { ok: boolean; detail: string }> }>(new URL('/health/ready', baseUrl)),
    gatewayJson<StatusSnapshot>(new URL('/api/status', baseUrl)),
  ]);
  const s = status;
  const enough = s.http.requests >= MIN_REQUESTS_FOR_RATES;
  const values: Record<string, number | undefined> = {
    KeelErrorRate: enough ? s.http.errors / s.http.requests : undefined,
    KeelCacheHitRate: enough ? s.http.hitRate : undefined,
    KeelLatencyP95: enough ? s.http.latencyMs.p95 / 1000 : undefined,
    KeelLatencyP99: enough ? s.http.latencyMs.p99 / 1000 : undefined,
    KeelCacheMemory: s.cache.memory.utilization,
    KeelHeapUsage: s.process.heapUsedBytes / s.process.heapLimitBytes,
    KeelRedisBreakerOpen: s.cache.redis === null ? undefined : s.cache.redis.breaker === 'open' ? 1 : 0,
  };
  const rows = THRESHOLDS.filter((row) => row.name in values).map((row) => judgeRow(row, values[row.name]));
  const isReady = ready.status === 200;
  return {
    ready: isReady,
    readiness: ready.body.checks,
    rows,
    healthy: isReady && rows.every((row) => row.level !== 'critical' && row.level !== 'high'),
  };
}

/** The listing sync's service: its health, and its figures against the sync's rows. */
export async function checkSync(syncUrl: URL): Promise<StatusReport> {
  const [health, status] = await Promise.all([
    json<{ status: string; database: string }>(new URL('/api/property-listings/health', syncUrl)),
    gatewayJson<{ figures: SyncFigures }>(new URL('/api/property-listings/sync/status', syncUrl)),
  ]);
  const values = syncRowValues(status.figures);
  const rows = THRESHOLDS.filter((row) => row.name in values).map((row) => judgeRow(row, values[row.name]));
  const ready = health.status === 200;
  return {
    ready,
    readiness: { sync: { ok: ready, detail: `${health.body.status} (database ${health.body.database})` } },
    rows,
    healthy: ready && rows.every((row) => row.level !== 'critical' && row.level !== 'high'),
  };
}
