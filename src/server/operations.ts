/**
 * The operations endpoints, a Fastify app: /health, /metrics, /api/status, /api/rollouts,
 * /dashboard, and /admin when KEEL_ADMIN_TOKEN is set. @fastify/under-pressure watches the event
 * loop for the gateway (which asks `isUnderPressure()` on every request) but lets these endpoints
 * answer under pressure too: that is when they are needed.
 *
 * On a listener of their own (KEEL_ADMIN_PORT) Fastify creates its server; on the public one,
 * `shared` is that server, and Fastify is given only the requests for its paths (listeners.ts).
 */
import type { Server } from 'node:http';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import { describeConfig, type ServeConfig, settingSource } from '../config.js';
import type { KeelMetrics } from '../observability/index.js';
import type { Rollout } from '../rollout/index.js';
import { adminRoutes } from './admin.js';
import { dashboardHtml, rolloutPanel, storeUnavailable } from './dashboard.js';
import { healthRoutes } from './health.js';
import { MONITORING_PATHS, type RequestHandler, route } from './listeners.js';
import type { RouteTable } from './route-table.js';
import type { ShadowTraffic } from './shadow-traffic.js';
import type { StatusReporter } from './status.js';
import type { Upstream } from './upstream.js';

export interface OperationsParts {
  cache: OptimizedCacheManager;
  routes: RouteTable;
  upstream: Upstream;
  metrics: KeelMetrics;
  status: StatusReporter;
  logger: FastifyBaseLogger;
  rollout: Rollout;
  shadow: ShadowTraffic;
}

/** The operations app; with `shared`, it answers its paths on that server and hands the rest to `gateway`. */
export async function operationsApp(
  config: ServeConfig,
  parts: OperationsParts,
  shared: { server: Server; gateway: RequestHandler } | undefined,
): Promise<FastifyInstance> {
  const admin = config.adminToken !== undefined;
  const app = Fastify({
    loggerInstance: parts.logger,
    // A gateway answers thousands of requests a second: no line per request (metrics count them).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    serverFactory:
      shared === undefined
        ? undefined
        : (operations) => {
            route(shared.server, shared.gateway, operations, admin);
            return shared.server;
          },
  });
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelay,
    pressureHandler: () => undefined,
  });
  const { cache, routes, upstream, metrics, status } = parts;
  healthRoutes(app, cache, upstream, config.originHealthPath);
  if (config.monitoringEnabled) monitoringRoutes(app, metrics, status, parts.rollout);
  else monitoringOff(app, settingSource(config, 'monitoringEnabled'));
  if (config.adminToken !== undefined) {
    await app.register(adminRoutes, {
      prefix: '/admin',
      token: config.adminToken,
      cache,
      routes,
      rollout: parts.rollout,
      shadow: parts.shadow,
      config: () => describeConfig(config),
    });
  }
  return app;
}

/**
 * The figures: Prometheus metrics, the status and its history, the rollouts as the dashboard shows
 * them, the dashboard. A rollout store that cannot be read makes `/api/rollouts` 503
 * STORE_UNAVAILABLE and leaves the dashboard up, its panel saying why.
 */
function monitoringRoutes(
  app: FastifyInstance,
  metrics: KeelMetrics,
  status: StatusReporter,
  rollout: Rollout,
): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  app.get('/api/status', async () => status.snapshot());
  app.get('/api/status/history', async () => status.recent());
  app.get('/api/rollouts', async (_request, reply) => {
    const panel = await rolloutPanel(rollout).catch(storeUnavailable);
    if (panel.unavailable === undefined) return panel;
    return reply.code(503).send({ error: { code: 'STORE_UNAVAILABLE', message: panel.unavailable } });
  });
  app.get('/dashboard', async (_request, reply) => {
    const rollouts = await rolloutPanel(rollout).catch(storeUnavailable);
    return reply
      .type('text/html; charset=utf-8')
      .send(dashboardHtml({ status: status.snapshot(), history: status.recent(), rollouts }));
  });
}

/**
 * With monitoring off the paths stay the gateway's (they never reach the origin, so turning the
 * setting on or off does not change what the origin is asked), answering 404 with the reason.
 */
function monitoringOff(app: FastifyInstance, setting: string): void {
  const body = {
    error: {
      code: 'MONITORING_DISABLED',
      message: `Monitoring is off on this gateway (${setting}=false): no metrics, status or dashboard.`,
    },
  };
  for (const path of MONITORING_PATHS) app.get(path, async (_request, reply) => reply.code(404).send(body));
}
