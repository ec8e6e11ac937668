/**
 * The rollout subsystem of a gateway: where its switches live, what its guards read, and what a
 * plan may name.
 *
 * The state is shared by every instance through Redis (REDIS_URL), else PostgreSQL (DATABASE_URL),
 * else kept for this instance alone in a file in KEEL_DATA_DIR, so a route's enablement, a rollout
 * and its audit survive restarts. When that store cannot be opened — the data folder is used by
 * another gateway on this machine, Redis is down at start (and not required) — the gateway still
 * starts, with its switches in memory only, and says so in its log and banner (`storeWarning`):
 * switches set then reach this instance alone and last until it stops.
 *
 * The guards read the gateway's own figures (rollout/figures.ts, recorded per route and side), the
 * cache's hit rate and memory, and the process's CPU and memory. A plan may name routes and the
 * groups `read-only` and `write-affected` (route-groups.ts); a traffic or shadow switch needs a
 * candidate origin, which routes cannot name yet, so such a plan is refused at start.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Logger } from 'pino';
import type { OptimizedCacheManager } from '../cache/index.js';
import type { ServeConfig } from '../config.js';
import { ConfigError, isKeelError } from '../errors.js';
import {
  MemoryRolloutStore,
  openRolloutStore,
  type Plan,
  Rollout,
  RolloutFigures,
  type RolloutStore,
  type SwitchKey,
  stageWeights,
} from '../rollout/index.js';
import type { RouteTable } from './route-table.js';

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
  consistencyMismatchRate: () => number | undefined,
): Promise<GatewayRollout> {
  const log = logger.child({ component: 'rollout' });
  const { store, name, warning } = await openStore(config);
  if (warning !== undefined) log.warn({}, warning);
  const figures = new RolloutFigures();
  const rollout = await Rollout.open({
    store,
    namespace: config.namespace,
    webhookUrl: config.alertWebhookUrl,
    prometheusUrl: config.prometheusUrl,
    log,
    figures,
    host: hostFigures(cache, consistencyMismatchRate),
    routesOf: (key) =>
      routes()
        .routesOf(targetOf(key))
        .map((route) => route.name),
    checkTargets: (plan) => checkTargets(plan, routes()),
  });
  return { rollout, figures, storeWarning: warning, storeName: name };
}

async function openStore(
  config: ServeConfig,
): Promise<{ store: RolloutStore; name: string; warning?: string }> {
  const name =
    config.redisUrl !== undefined
      ? 'Redis (shared)'
      : config.databaseUrl !== undefined
        ? 'PostgreSQL (shared)'
        : `${config.dataDir} (this instance)`;
  try {
    const store = await openRolloutStore({
      namespace: config.namespace,
      redisUrl: config.redisUrl,
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
    });
    return { store, name };
  } catch (error) {
    if (!isKeelError(error, 'STORE_UNAVAILABLE') || (config.redisUrl !== undefined && config.redisRequired))
      throw error;
    const warning = `rollout switches kept in memory for this instance only: ${(error as Error).message}`;
    return { store: new MemoryRolloutStore(), name: 'memory (this instance, until it stops)', warning };
  }
}

function targetOf(key: SwitchKey): string {
  return key.slice(key.indexOf(':') + 1);
}

/** Refuses a plan naming a route or group the gateway lacks, or a switch it cannot move yet. */
function checkTargets(plan: Plan, routes: RouteTable): void {
  for (const key of Object.keys(stageWeights(plan, plan.stages.length - 1)) as SwitchKey[]) {
    const kind = key.slice(0, key.indexOf(':'));
    const target = targetOf(key);
    if (kind === 'flag') continue;
    if (kind === 'traffic' || kind === 'shadow')
      throw new ConfigError(
        'plan',
        `${key}: route ${target} has no candidate origin; this gateway can roll out cache switches and flags`,
      );
    const group = target === 'read-only' || target === 'write-affected';
    if (!group && routes.route(target)?.kind !== 'read')
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
function hostFigures(
  cache: OptimizedCacheManager,
  consistencyMismatchRate: () => number | undefined,
): (name: string) => number | undefined {
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const memoryLimit =
    (process.constrainedMemory?.() || 0) > 0 ? (process.constrainedMemory?.() as number) : totalmem();
  return (name) => {
    switch (name) {
      case 'cache.hit_rate':
        return cache.getPerformanceStats().hitRate.overall;
      case 'cache.memory_ratio':
        return cache.getPerformanceStats().memory.utilization;
      case 'cache.consistency_mismatch_rate':
        return consistencyMismatchRate();
      case 'process.memory_ratio':
        return process.memoryUsage.rss() / memoryLimit;
      case 'process.cpu_ratio': {
        const cpu = process.cpuUsage(lastCpu);
        const now = performance.now();
        const ratio = (cpu.user + cpu.system) / 1_000 / Math.max(1, now - lastAt) / availableParallelism();
        lastCpu = process.cpuUsage();
        lastAt = now;
        return ratio;
      }
      default:
        return undefined;
    }
  };
}
