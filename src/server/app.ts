/**
 * `keel serve`: assembles the gateway from a configuration and starts it.
 *
 * Parts, in order: the origin (KEEL_ORIGIN, or the bundled sample origin, in a child process, when
 * none is given), the routes (KEEL_ROUTES, the sample routes with the sample origin, or none:
 * everything passes through), the OptimizedCacheManager (L1, plus Redis when REDIS_URL is set), the origin's
 * connections (upstream.ts), the metrics, and two request handlers:
 *   - the gateway (gateway.ts), on the raw Node requests of the public listener (listeners.ts),
 *     so no framework sits between the origin's answer and the client;
 *   - the operations endpoints (operations.ts), a Fastify app: on the public listener for their
 *     own paths, or on a listener of their own with KEEL_ADMIN_PORT.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyAddress from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { OptimizedCacheManager } from '../cache/index.js';
import { type ServeConfig, settingSource } from '../config.js';
import { KeelMetrics } from '../observability/index.js';
import type { RolloutClock } from '../rollout/index.js';
import { type SampleOriginProcess, spawnSampleOrigin } from '../sample-origin/child.js';
import { SAMPLE_ROUTES_YAML } from '../sample-origin/routes.js';
import { ByteBudget } from './byte-budget.js';
import { CandidateOrigins } from './candidate-origins.js';
import type { ClientConnections } from './client-connections.js';
import { ConsistencyProbe } from './consistency-probe.js';
import { parseStickyKey } from './enablement.js';
import { basicAuthorization } from './forwarding.js';
import { Gateway, type TrustProxy } from './gateway.js';
import { type GatewayRollout, openGatewayRollout } from './gateway-rollout.js';
import { GatewayStats } from './gateway-stats.js';
import { closeServer, listen, publicListener, route } from './listeners.js';
import { gatewayLog } from './log.js';
import { operationsApp } from './operations.js';
import { RouteTable } from './route-table.js';
import { loadRoutesFile, parseRoutes, type RouteRule } from './routes-file.js';
import { ShadowTraffic } from './shadow-traffic.js';
import { cacheFigures, StatusReporter } from './status.js';
import { Upstream } from './upstream.js';

export interface RunningServer {
  /** The gateway's public URL (the API). */
  url: string;
  /** Where the operations endpoints answer: `url`, or the KEEL_ADMIN_PORT listener's URL. */
  adminUrl: string;
  originUrl: string;
  /** The sample origin's process, when it was started here. */
  sampleOrigin?: SampleOriginProcess;
  app: FastifyInstance;
  cache: OptimizedCacheManager;
  routes: RouteTable;
  /** The rollouts, their switches and where they are kept. */
  rollout: GatewayRollout;
  /** Compares hot cached answers with the origin's while a rollout is evaluated here. */
  consistency: ConsistencyProbe;
  /** Copies of requests to the routes' candidate origins, compared (shadow-traffic.ts). */
  shadow: ShadowTraffic;
  /**
   * Reads the routes file again and swaps its rules in, requests in progress untouched; returns
   * how many routes it has. A file that cannot be used throws its ConfigError and changes nothing.
   */
  reloadRoutes(): number;
  /** Opens LOG_FILE_PATH again under its name, after a log rotation moved it away. */
  reopenLog(): void;
  close(): Promise<void>;
}

/** How often the consistency probe compares hot cached answers with the origin. */
const CONSISTENCY_PROBE_INTERVAL_MS = 30_000;

export interface ServerOverrides {
  /** Told each step of the start-up that can take a while ("starting the sample origin"). */
  onProgress?: (step: string) => void;
  /** The rollouts' clock: a scaled one runs plans faster (the rollout demo). */
  rolloutClock?: RolloutClock;
}

export async function startServer(
  config: ServeConfig,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  // Configuration errors first, before anything starts.
  const sticky = parseStickyKey(config.stickyKey, 'KEEL_STICKY_KEY');
  const rules = routeRules(config, config.origin === undefined);
  const log = gatewayLog(
    config.logLevel,
    config.logFile === undefined
      ? undefined
      : { path: config.logFile, setting: settingSource(config, 'logFile') },
  );
  const { originUrl, sampleOrigin, cache } = await openOriginAndCache(
    config,
    log.logger,
    overrides.onProgress ?? (() => {}),
  ).catch((error: unknown) => {
    log.close();
    throw error;
  });
  let consistency: ConsistencyProbe | undefined;
  let stats: GatewayStats | undefined;
  const late = {
    hitRate: () => stats?.cacheableHitRate(),
    consistencyMismatchRate: () => consistency?.mismatchRate(),
  };
  const gatewayRollout: GatewayRollout = await openGatewayRollout(
    config,
    cache,
    () => routes,
    log.logger,
    late,
    overrides.rolloutClock,
  ).catch(async (error: unknown) => {
    await cache.close();
    await sampleOrigin?.close();
    log.close();
    throw error;
  });
  const { rollout } = gatewayRollout;
  const routes: RouteTable = new RouteTable(rules, rollout.board);
  const pools = { connections: config.upstreamConnections, queueTimeoutMs: config.upstreamQueueTimeout };
  const upstream = new Upstream(originUrl, pools);
  const budget = new ByteBudget(config.maxBufferedBytes);
  const candidates = new CandidateOrigins(pools);
  const shadow = new ShadowTraffic({
    figures: gatewayRollout.figures,
    budget,
    maxInFlight: config.shadowConcurrency,
    perSecond: config.shadowRate,
    shadowPercent: (rule) => routes.shadowPercent(rule),
    candidate: (rule) => candidates.of(rule),
  });
  consistency = new ConsistencyProbe({
    cache,
    upstream,
    budget,
    maxBodyBytes: config.maxBodyBytes,
    originAuthorization: basicAuthorization(originUrl),
    log: log.logger.child({ component: 'consistency-probe' }),
    wanted: () => rollout.controller.evaluating,
    routes: () => routes,
    intervalMs: CONSISTENCY_PROBE_INTERVAL_MS,
  });
  consistency.start();
  const { server, connections } = publicListener(config);
  const metrics = gatewayMetrics(cache, routes, connections, upstream, budget);
  stats = new GatewayStats(metrics);
  const status = new StatusReporter(
    cache,
    stats,
    routes,
    { url: originUrl.origin, sample: sampleOrigin !== undefined },
    config.monitoringInterval,
  );
  let gateway: Gateway | undefined;
  const toGateway = (request: IncomingMessage, response: ServerResponse) =>
    void (gateway as Gateway).handle(request, response);
  const separate = config.adminPort !== undefined;
  const app = await operationsApp(
    config,
    { cache, routes, upstream, metrics, status, logger: log.logger, rollout, shadow },
    separate ? undefined : { server, gateway: toGateway },
  );
  if (separate) route(server, toGateway, undefined, false);
  gateway = new Gateway({
    cache,
    routes,
    upstream,
    sticky,
    stats,
    log: app.log.child({ component: 'gateway' }),
    forwarding: { publicUrl: config.publicUrl, originAuthorization: basicAuthorization(originUrl) },
    trustProxy: trustFunction(config.trustProxy),
    budget,
    maxBodyBytes: config.maxBodyBytes,
    stripHeaders: new Set(config.stripHeaders ?? []),
    defaultTimeoutMs: config.upstreamTimeout,
    underPressure: () => config.maxEventLoopDelay > 0 && app.isUnderPressure(),
    rolloutFigures: gatewayRollout.figures,
    candidates,
    shadow,
  });

  const close = async () => {
    status.close();
    consistency?.stop();
    if (separate) await closeServer(server);
    await app.close();
    await rollout.close();
    await upstream.close();
    await candidates.close();
    await cache.close();
    await sampleOrigin?.close();
    log.close();
  };
  try {
    const urls = await listen(app, server, config);
    const reloadRoutes = () => {
      const rules = routeRules(config, sampleOrigin !== undefined);
      routes.replace(rules);
      return rules.length;
    };
    return {
      ...urls,
      originUrl: originUrl.origin,
      sampleOrigin,
      app,
      cache,
      routes,
      rollout: gatewayRollout,
      consistency,
      shadow,
      reloadRoutes,
      reopenLog: log.reopen,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The origin (the sample one when none is configured) and the cache. */
async function openOriginAndCache(
  config: ServeConfig,
  logger: Logger,
  progress: (step: string) => void,
): Promise<{ originUrl: URL; sampleOrigin?: SampleOriginProcess; cache: OptimizedCacheManager }> {
  if (config.origin === undefined)
    progress('starting the bundled sample origin (embedded PostgreSQL, a few seconds)');
  const sampleOrigin =
    config.origin === undefined ? await spawnSampleOrigin({ latencyMs: config.sampleLatency }) : undefined;
  const originUrl = new URL(config.origin?.href ?? (sampleOrigin as SampleOriginProcess).url);
  if (config.redisUrl !== undefined) progress(`connecting to Redis at ${redisHost(config.redisUrl)}`);
  try {
    const cache = await OptimizedCacheManager.create({
      namespace: config.namespace,
      memory: { maxBytes: config.memory },
      redis: config.redisUrl === undefined ? false : { url: config.redisUrl, required: config.redisRequired },
      logger: { warn: (message) => logger.warn({ component: 'cache' }, message) },
    });
    return { originUrl, sampleOrigin, cache };
  } catch (error) {
    await sampleOrigin?.close();
    throw error;
  }
}

/** host:port of a Redis URL, for messages (never its credentials). */
function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'REDIS_URL';
  }
}

/** The metrics, reading the cache, the enablement and the gateway's resources when scraped. */
function gatewayMetrics(
  cache: OptimizedCacheManager,
  routes: RouteTable,
  connections: ClientConnections,
  upstream: Upstream,
  budget: ByteBudget,
): KeelMetrics {
  return new KeelMetrics(
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
}

/** KEEL_TRUST_PROXY as the trust function proxy-addr takes. */
function trustFunction(setting: boolean | string[]): TrustProxy {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  return proxyAddress.compile(setting);
}

function routeRules(config: ServeConfig, sample: boolean): RouteRule[] {
  if (config.routes !== undefined) return loadRoutesFile(config.routes);
  if (sample) return parseRoutes(SAMPLE_ROUTES_YAML, 'sample routes');
  return [];
}
