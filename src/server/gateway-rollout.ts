/**
 * The rollout subsystem of a gateway: where its switches live, what its guards read, and what a
 * plan may name.
 *
 * The state is shared by every instance through Redis (REDIS_URL), else PostgreSQL (DATABASE_URL),
 * else kept for this instance alone in a file in KEEL_DATA_DIR, so a route's enablement, a rollout
 * and its audit survive restarts. When that store cannot be opened, the gateway still starts and
 * says so in its log and banner (`storeWarning`): with Redis or PostgreSQL down at start (and
 * not required), it tries again every few seconds and joins the others once it answers
 * (rollout/store/rejoining-store.ts), changing no switch meanwhile; with its data folder used by
 * another gateway on this machine, it keeps its switches in memory, for this instance alone,
 * until it stops.
 *
 * The guards read the gateway's own figures (rollout/figures.ts), the cache's hit rate and memory,
 * and the process's CPU and memory. The gateway records figures per route and switch kind
 * (route-table.ts): a `cache:` switch's guards read the bypassed and cached sides of its routes; a
 * `traffic:` or `shadow:` switch's read the route's stable and candidate origins, the shadow
 * comparisons included. A plan may move the cache switches of read routes and of the groups
 * `read-only` and `write-affected` (route-groups.ts), and the traffic and shadow switches of routes
 * with a candidate origin; anything else is refused at start. A probe given as a path is sent to
 * its route's candidate origin.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Logger } from 'pino';
import type { OptimizedCacheManager } from '../cache/index.js';
import type { ServeConfig } from '../config.js';
import { ConfigError, isKeelError } from '../errors.js';
import {
  MemoryRolloutStore,
  movedSwitches,
  openRolloutStore,
  type Plan,
  REJOIN_EVERY_MS,
  RejoiningRolloutStore,
  Rollout,
  type RolloutClock,
  RolloutFigures,
  type RolloutStore,
  type SwitchKey,
  splitSwitchKey,
} from '../rollout/index.js';
import { isRouteGroup } from './route-groups.js';
import { cacheFiguresTarget, originFiguresTarget, type RouteTable } from './route-table.js';

/** Figures of parts made after the rollout (the gateway's counters, the consistency probe). */
export interface LateFigures {
  /**
   * The gateway's hit rate: answered from the cache ÷ answers that could be (private and
   * uncacheable answers left out, as the dashboard's card shows it); undefined before any.
   */
  hitRate: () => number | undefined;
  consistencyMismatchRate: () => number | undefined;
}

export interface GatewayRollout {
  rollout: Rollout;
  figures: RolloutFigures;
  /** Why the switches are in memory only, when they are. */
  storeWarning?: string;
  /** Where the switches live, for the banner. */
  storeName: string;
}

export async function openGatewayRollout(
  config: ServeConfig,
  cache: OptimizedCacheManager,
  routes: () => RouteTable,
  logger: Logger,
  late: LateFigures,
  clock?: RolloutClock,
): Promise<GatewayRollout> {
  const log = logger.child({ component: 'rollout' });
  const { store, name, warning } = await openStore(config, log);
  if (warning !== undefined) log.warn({}, warning);
  const figures = new RolloutFigures();
  const rollout = await Rollout.open({
    store,
    namespace: config.namespace,
    clock,
    webhookUrl: config.alertWebhookUrl,
    prometheusUrl: config.prometheusUrl,
    log,
    figures,
    host: hostFigures(cache, late),
    routesOf: (key) => figuresTargets(key, routes()),
    candidateOrigin: (route) => routes().route(route)?.candidate?.origin.origin,
    checkTargets: (plan) => checkTargets(plan, routes()),
  });
  return { rollout, figures, storeWarning: warning, storeName: name };
}

async function openStore(
  config: ServeConfig,
  log: Logger,
): Promise<{ store: RolloutStore; name: string; warning?: string }> {
  const name =
    config.redisUrl !== undefined
      ? 'Redis (shared)'
      : config.databaseUrl !== undefined
        ? 'PostgreSQL (shared)'
        : `${config.dataDir} (this instance)`;
  const open = () =>
    openRolloutStore({
      namespace: config.namespace,
      redisUrl: config.redisUrl,
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
    });
  try {
    return { store: await open(), name };
  } catch (error) {
    if (!isKeelError(error, 'STORE_UNAVAILABLE') || (config.redisUrl !== undefined && config.redisRequired))
      throw error;
    const reason = (error as Error).message;
    if (config.redisUrl === undefined && config.databaseUrl === undefined) {
      const warning = `rollout switches kept in memory for this instance only: ${reason}`;
      return { store: new MemoryRolloutStore(), name: 'memory (this instance, until it stops)', warning };
    }
    const store = new RejoiningRolloutStore({
      open,
      reason,
      onRejoin: () =>
        log.info({ store: name }, 'rollout store reached: this instance now shares its switches'),
    });
    const warning = `rollout store not reached (${reason}): tried again every ${REJOIN_EVERY_MS / 1000} s; until then the routes file's enablement holds and no switch can change`;
    return { store, name: `${name}, not reached yet (tried every ${REJOIN_EVERY_MS / 1000} s)`, warning };
  }
}

/** Where the figures a switch's guards read are recorded (route-table.ts). */
function figuresTargets(key: SwitchKey, routes: RouteTable): string[] {
  const { kind, target } = splitSwitchKey(key);
  if (kind === 'cache') return routes.routesOf(target).map((route) => cacheFiguresTarget(route.name));
  if (kind === 'traffic' || kind === 'shadow') return [originFiguresTarget(target)];
  return [target];
}

/**
 * Refuses a plan naming a route or group the gateway lacks, a traffic or shadow switch of a route
 * without a candidate origin, or a probe given as a path whose route has none.
 */
function checkTargets(plan: Plan, routes: RouteTable): void {
  for (const [name, metric] of Object.entries(plan.metrics)) {
    const { url, route } = 'probe' in metric ? metric.probe : {};
    if (url === undefined || /^https?:\/\//.test(url)) continue;
    if (route === undefined || routes.route(route)?.candidate === undefined)
      throw new ConfigError(
        'plan',
        `probe ${name}: a path is sent to a route's candidate origin; name a route with a candidate (route: …) or give a full URL (http://…)`,
      );
  }
  for (const key of movedSwitches(plan)) {
    const { kind, target } = splitSwitchKey(key);
    if (kind === 'flag') continue;
    if (kind === 'traffic' || kind === 'shadow') {
      const route = routes.route(target);
      if (route === undefined)
        throw new ConfigError('plan', `${key}: the gateway has no route named ${target} (keel routes list)`);
      if (route.candidate === undefined)
        throw new ConfigError(
          'plan',
          `${key}: route ${target} has no candidate origin; name one in the routes file (candidate: http://…)`,
        );
      continue;
    }
    if (!isRouteGroup(target) && routes.route(target)?.kind !== 'read')
      throw new ConfigError(
        'plan',
        `${key}: the gateway has no read route named ${target} (keel routes list)`,
      );
  }
}

/**
 * The host figures guards may name: the cache's hit rate, memory and consistency with the origin
 * (consistency-probe.ts), the process's CPU and memory.
 */
function hostFigures(cache: OptimizedCacheManager, late: LateFigures): (name: string) => number | undefined {
  const cpu = cpuRatio();
  const memoryLimit =
    (process.constrainedMemory?.() || 0) > 0 ? (process.constrainedMemory?.() as number) : totalmem();
  return (name) => {
    switch (name) {
      case 'cache.hit_rate':
        return late.hitRate();
      case 'cache.memory_ratio':
        return cache.getPerformanceStats().memory.utilization;
      case 'cache.consistency_mismatch_rate':
        return late.consistencyMismatchRate();
      case 'process.memory_ratio':
        return process.memoryUsage.rss() / memoryLimit;
      case 'process.cpu_ratio':
        return cpu();
      default:
        return undefined;
    }
  };
}

/** Minimum span of a CPU reading: reads in between return the last one, so several in one evaluation agree. */
const CPU_WINDOW_MS = 1_000;

/** The process's CPU time as a share of the machine's cores, over the last CPU_WINDOW_MS or more. */
function cpuRatio(): () => number | undefined {
  let since = process.cpuUsage();
  let sinceAt = performance.now();
  let last: number | undefined;
  return () => {
    const now = performance.now();
    if (now - sinceAt < CPU_WINDOW_MS) return last;
    const used = process.cpuUsage(since);
    last = (used.user + used.system) / 1_000 / (now - sinceAt) / availableParallelism();
    since = process.cpuUsage();
    sinceAt = now;
    return last;
  };
}
