/**
 * `keel serve`: assembles the gateway from a configuration and starts it.
 *
 * Parts, in order: the origin (KEEL_ORIGIN, or the bundled sample origin when none is given), the
 * routes (KEEL_ROUTES, the sample routes with the sample origin, or none: everything passes
 * through), the OptimizedCacheManager (L1, plus Redis when REDIS_URL is set), the origin's
 * connections, the metrics, and two request handlers:
 *   - the gateway (gateway.ts), on the raw Node request of the public listener, so no framework
 *     sits between the origin's answer and the client;
 *   - the operations endpoints (/health, /metrics, /api/status, /dashboard, and /admin when
 *     KEEL_ADMIN_TOKEN is set), a Fastify app. With KEEL_ADMIN_PORT they get a listener of their
 *     own (on KEEL_ADMIN_HOST, loopback by default) and the public listener serves only the API;
 *     without it the public listener hands their paths to Fastify and every other path to the
 *     gateway.
 * The public listener's connections and timeouts are bounded (client-connections.ts, Node's
 * headers, request and keep-alive timeouts); @fastify/under-pressure watches the event loop, and
 * the gateway sheds requests with 503 while it is saturated.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import proxyAddress from '@fastify/proxy-addr';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { OptimizedCacheManager } from '../cache/index.js';
import { describeConfig, type ServeConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { KeelMetrics } from '../observability/index.js';
import type { SampleOrigin } from '../sample-origin/index.js';
import { SAMPLE_ROUTES_YAML } from '../sample-origin/routes.js';
import { adminRoutes } from './admin.js';
import { ByteBudget } from './byte-budget.js';
import { automaticConnectionLimit, ClientConnections } from './client-connections.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { parseStickyKey } from './enablement.js';
import { basicAuthorization } from './forwarding.js';
import { Gateway } from './gateway.js';
import { GatewayStats } from './gateway-stats.js';
import { healthRoutes } from './health.js';
import { RouteTable } from './route-table.js';
import { loadRoutesFile, parseRoutes, type RouteRule } from './routes-file.js';
import { cacheFigures, StatusReporter } from './status.js';
import { Upstream } from './upstream.js';

/** How often Node looks for connections past their headers or request timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Paths of the operations endpoints (and `/admin/…` when the admin API is on). */
const OPERATIONS_PATHS = new Set([
  '/metrics',
  '/health/live',
  '/health/ready',
  '/api/status',
  '/api/status/history',
  '/dashboard',
]);

export interface RunningServer {
  /** The gateway's public URL (the API). */
  url: string;
  /** Where the operations endpoints answer: `url`, or the KEEL_ADMIN_PORT listener's URL. */
  adminUrl: string;
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
  let cache: OptimizedCacheManager;
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
  const upstream = new Upstream(originUrl, {
    connections: config.upstreamConnections,
    queueTimeoutMs: config.upstreamQueueTimeout,
  });
  const budget = new ByteBudget(config.maxBufferedBytes);
  const publicServer = createServer({
    headersTimeout: config.headersTimeout,
    requestTimeout: Math.max(config.requestTimeout, config.headersTimeout),
    keepAliveTimeout: config.idleTimeout,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  });
  const connections = new ClientConnections(publicServer, {
    maxConnections:
      config.maxConnections === 'auto'
        ? automaticConnectionLimit(config.upstreamConnections)
        : config.maxConnections,
    headersTimeoutMs: config.headersTimeout,
  });
  const metrics = new KeelMetrics(
    () => cacheFigures(cache),
    () =>
      new Map(
        routes.routes
          .filter((route) => route.kind === 'read')
          .map((route) => [route.name, routes.enabledPercent(route)]),
      ),
    () => ({
      clientConnections: connections.count,
      clientConnectionsShed: connections.shed,
      originConnectionsInUse: upstream.slots.inUse,
      originConnectionsQueued: upstream.slots.queued,
      bufferedBytes: budget.heldBytes,
      bufferOverflows: budget.overflows,
    }),
  );
  const stats = new GatewayStats(metrics);
  const status = new StatusReporter(
    cache,
    stats,
    routes,
    { url: originUrl.origin, sample: sampleOrigin !== undefined },
    overrides.historyIntervalMs,
  );
  const separate = config.adminPort !== undefined;
  const trust = trustFunction(config.trustProxy);
  let gateway: Gateway | undefined;
  const toGateway = (request: IncomingMessage, response: ServerResponse) =>
    void (gateway as Gateway).handle(request, response);
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    // A gateway answers thousands of requests a second: no line per request (metrics count them).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    serverFactory: separate
      ? undefined
      : (operations) => {
          publicServer.on('request', (request, response) =>
            isOperationsPath(request.url, config.adminToken !== undefined)
              ? operations(request, response)
              : toGateway(request, response),
          );
          return publicServer;
        },
  });
  if (separate) publicServer.on('request', toGateway);

  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelay,
    // The operations endpoints answer under pressure too: that is when they are needed.
    pressureHandler: () => undefined,
  });
  healthRoutes(app, cache, upstream, config.originHealthPath);
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
      cache,
      routes,
      config: () => describeConfig(config),
    });
  }
  gateway = new Gateway({
    cache,
    routes,
    upstream,
    sticky,
    stats,
    log: app.log.child({ component: 'gateway' }),
    forwarding: { publicUrl: config.publicUrl, originAuthorization: basicAuthorization(originUrl) },
    trustProxy: trust,
    budget,
    maxBodyBytes: config.maxBodyBytes,
    stripHeaders: new Set(config.stripHeaders ?? []),
    defaultTimeoutMs: config.upstreamTimeout,
    underPressure: () => config.maxEventLoopDelay > 0 && app.isUnderPressure(),
  });

  const close = async () => {
    status.close();
    if (separate) await closeServer(publicServer);
    await app.close();
    await upstream.close();
    await cache.close();
    await sampleOrigin?.close();
  };
  try {
    const urls = await listen(app, publicServer, config);
    return { ...urls, originUrl: originUrl.origin, sampleOrigin, app, cache, routes, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Starts the listeners; a port that cannot be taken is a ConfigError naming its setting. */
async function listen(
  app: FastifyInstance,
  publicServer: Server,
  config: ServeConfig,
): Promise<{ url: string; adminUrl: string }> {
  if (config.adminPort === undefined) {
    const url = await listenOn('KEEL_PORT', config.host, config.port, () =>
      app.listen({ host: config.host, port: config.port }),
    );
    return { url, adminUrl: url };
  }
  await app.ready();
  const url = await listenOn('KEEL_PORT', config.host, config.port, async () => {
    await new Promise<void>((resolve, reject) => {
      publicServer.once('error', reject);
      publicServer.listen(config.port, config.host, () => {
        publicServer.off('error', reject);
        resolve();
      });
    });
    return urlOf(publicServer);
  });
  const adminPort = config.adminPort;
  const adminUrl = await listenOn('KEEL_ADMIN_PORT', config.adminHost, adminPort, () =>
    app.listen({ host: config.adminHost, port: adminPort }),
  );
  return { url, adminUrl };
}

async function listenOn(
  setting: string,
  host: string,
  port: number,
  start: () => Promise<string>,
): Promise<string> {
  try {
    return await start();
  } catch (error) {
    throw new ConfigError(setting, `cannot listen on ${host}:${port} (${(error as Error).message})`, {
      cause: error,
    });
  }
}

function urlOf(server: Server): string {
  const { address, port, family } = server.address() as AddressInfo;
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Whether a request path is one of the operations endpoints on a shared listener. */
function isOperationsPath(url: string | undefined, admin: boolean): boolean {
  if (url === undefined) return false;
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  return OPERATIONS_PATHS.has(path) || (admin && (path === '/admin' || path.startsWith('/admin/')));
}

/** KEEL_TRUST_PROXY as the trust function proxy-addr takes. */
function trustFunction(setting: boolean | string[]): (address: string, hop: number) => boolean {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  return proxyAddress.compile(setting);
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
