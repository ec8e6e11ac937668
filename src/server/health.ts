/**
 * Health endpoints. `/health/live`: the process answers (for a restart probe). `/health/ready`:
 * the gateway can do its job — Redis is usable when configured, and the origin answers (any status
 * below 500 at KEEL_ORIGIN_HEALTH_PATH, asked at most once every ORIGIN_PROBE_EVERY_MS so a load
 * balancer's probes do not become the origin's load). 200 when ready, 503 with the failing checks.
 */
import type { FastifyInstance } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import type { Upstream } from './upstream.js';

const ORIGIN_PROBE_EVERY_MS = 5_000;
const ORIGIN_PROBE_TIMEOUT_MS = 2_000;

interface Check {
  ok: boolean;
  detail: string;
}

export function healthRoutes(
  app: FastifyInstance,
  cache: OptimizedCacheManager,
  upstream: Upstream,
  healthPath: string,
): void {
  let originCheck: { at: number; result: Promise<Check> } | undefined;
  const probeOrigin = (): Promise<Check> => {
    if (originCheck !== undefined && Date.now() - originCheck.at < ORIGIN_PROBE_EVERY_MS)
      return originCheck.result;
    const result = upstream
      .exchange({ method: 'GET', path: healthPath, headers: {}, timeoutMs: ORIGIN_PROBE_TIMEOUT_MS })
      .then(
        (exchange) => {
          exchange.discard();
          return {
            ok: exchange.status < 500,
            detail: `${upstream.origin.origin}${healthPath} answered ${exchange.status}`,
          };
        },
        (error: Error) => ({ ok: false, detail: error.message }),
      );
    originCheck = { at: Date.now(), result };
    return result;
  };

  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (_request, reply) => {
    const checks: Record<string, Check> = { origin: await probeOrigin() };
    const l2 = cache.getPerformanceStats().l2;
    if (l2 !== undefined)
      checks.redis = { ok: l2.state === 'ready', detail: `Redis tier ${l2.state}, breaker ${l2.breaker}` };
    const ready = Object.values(checks).every((check) => check.ok);
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', checks };
  });
}
