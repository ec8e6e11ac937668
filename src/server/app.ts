/**
 * `keel serve`: assembles the gateway from a configuration and starts it.
 *
 * Parts, in order: the origin (KEEL_ORIGIN, or the bundled sample origin when none is given), the
 * routes (KEEL_ROUTES, the sample routes with the sample origin, or none: everything passes
 * through), the OptimizedCacheManager (L1, plus Redis when REDIS_URL is set), the metrics, and
 * one Fastify server holding the operations endpoints (/health, /metrics, /api/status, /dashboard,
 * /admin when KEEL_ADMIN_TOKEN is set) next to the gateway's catch-all route, which lives in its
 * own encapsulated plugin so its raw-body parsing does not reach the others. The router prefers
 * static paths to the catch-all, so Keel's endpoints are never forwarded to the origin.
 */
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { OptimizedCacheManager } from '../cache/index.js';
import { describeConfig, type ServeConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { KeelMetrics } from '../observability/index.js';
import type { SampleOrigin } from '../sample-origin/index.js';
import { SAMPLE_ROUTES_YAML } from '../sample-origin/routes.js';
import { adminRoutes } from './admin.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { parseStickyKey } from './enablement.js';
import { Gateway } from './gateway.js';
import { GatewayStats } from './gateway-stats.js';
import { healthRoutes } from './health.js';
import { RouteTable } from './route-table.js';
import { loadRoutesFile, parseRoutes, type RouteRule } from './routes-file.js';
import { cacheFigures, StatusReporter } from './status.js';
import { Upstream } from './upstream.js';

export interface RunningServer {
  /** The gateway's base URL. */
  url: string;
  originUrl: string;
  /** The sample origin, when it was started here. */
  sampleOrigin?: SampleOrigin;
  app: FastifyInstance;
  cache: OptimizedCacheManager;
  routes: RouteTable;
  close(): Promise<void>;
}

export interface ServerOverrides {
  /** Interval of /api/status/history's snapshots (default 10 s). */
  historyIntervalMs?: number;
}

export async function startServer(
  config: ServeConfig,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  // Configuration errors first, before anything starts.
  const sticky = parseStickyKey(config.stickyKey, 'KEEL_STICKY_KEY');
  const routes = new RouteTable(routeRules(config, config.origin === undefined));
  // Loaded only when used: embedded PostgreSQL is a large module a production gateway never needs.
  const sampleOrigin =
    config.origin === undefined
      ? await (await import('../sample-origin/index.js')).startSampleOrigin({
          latencyMs: config.sampleLatency,
        })
      : undefined;
  const originUrl = new URL(config.origin?.href ?? (sampleOrigin as SampleOrigin).url);
  let cache: OptimizedCacheManager | undefined;
  try {
    cache = await OptimizedCacheManager.create({
      namespace: config.namespace,
      memory: { maxBytes: config.memory },
      redis: config.redisUrl === undefined ? false : { url: config.redisUrl, required: config.redisRequired },
    });
  } catch (error) {
    await sampleOrigin?.close();
    throw error;
  }
  const ready = cache;
  const metrics = new KeelMetrics(
    () => cacheFigures(ready),
    () =>
      new Map(
        routes.routes
          .filter((route) => route.kind === 'read')
          .map((route) => [route.name, routes.enabledPercent(route)]),
      ),
  );
  const stats = new GatewayStats(metrics);
  const upstream = new Upstream(originUrl, {
    connections: config.upstreamConnections,
    maxBodyBytes: config.maxBodyBytes,
  });
  const status = new StatusReporter(
    ready,
    stats,
    routes,
    { url: originUrl.origin, sample: sampleOrigin !== undefined },
    overrides.historyIntervalMs,
  );
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    // A gateway answers thousands of requests a second: no line per request (metrics count them).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    bodyLimit: config.maxBodyBytes,
  });

  healthRoutes(app, ready, upstream, config.originHealthPath);
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  app.get('/api/status', async () => status.snapshot());
  app.get('/api/status/history', async () => status.recent());
  app.get('/dashboard', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML),
  );
  if (config.adminToken !== undefined) {
    await app.register(adminRoutes, {
      prefix: '/admin',
      token: config.adminToken,
      cache: ready,
      routes,
      config: () => describeConfig(config),
    });
  }
  const gateway = new Gateway({
    cache: ready,
    routes,
    upstream,
    sticky,
    stats,
    defaultTimeoutMs: config.upstreamTimeout,
  });
  await app.register(async (scope) => gateway.register(scope));

  const close = async () => {
    status.close();
    await app.close();
    await upstream.close();
    await ready.close();
    await sampleOrigin?.close();
  };
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await close();
    throw new ConfigError(
      'KEEL_PORT',
      `cannot listen on ${config.host}:${config.port} (${(error as Error).message})`,
      { cause: error },
    );
  }
  return {
    url,
    originUrl: originUrl.origin,
    sampleOrigin,
    app,
    cache: ready,
    routes,
    close,
  };
}

function routeRules(config: ServeConfig, sample: boolean): RouteRule[] {
  if (config.routes !== undefined) return loadRoutesFile(config.routes);
  if (sample) return parseRoutes(SAMPLE_ROUTES_YAML, 'sample routes');
  return [];
}

function loggerOptions(level: string) {
  const base = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'config.REDIS_URL',
        'config.KEEL_ADMIN_TOKEN',
      ],
      censor: '***',
    },
  };
  return process.stdout.isTTY
    ? {
        ...base,
        transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } },
      }
    : base;
}
