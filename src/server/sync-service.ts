/**
 * `keel sync serve`: the listing sync as a service. It runs the sync at start and then every
 * MONITORING_INTERVAL after the previous run ended (never two at once), and answers the endpoints
 * the deployment guide's procedures call:
 *
 *   GET  /health                                    the process is up
 *   GET  /api/property-listings/health              the database answers (503 when not), the
 *                                                   source's circuit, the emergency stop
 *   GET  /api/property-listings/sync/status         SyncStateManager's state and metrics, with
 *                                                   `system` (which system this is: `jq -r .system`)
 *   GET  /metrics                                   Prometheus (observability/sync-metrics.ts),
 *                                                   when MONITORING_ENABLED
 *   GET  /dashboard                                 the live page (sync-dashboard.ts)
 *   POST /api/property-listings/sync/emergency-stop { reason, by }   (Bearer KEEL_ADMIN_TOKEN)
 *   DELETE the same                                 clears it
 *   POST /api/property-listings/sync/run            a run now, unless one is going on (409)
 *   …/admin/rollouts, /admin/audit, /admin/emergency-stop   with a rollout (KEEL_SYNC_FLAG): the
 *                                                   rollouts, as on the gateway (admin-rollouts.ts),
 *                                                   so `keel rollout start sync-migration
 *                                                   --base-url <this service>` and the other
 *                                                   `keel rollout` commands work here
 *
 * Without KEEL_ADMIN_TOKEN the writing endpoints answer 403 (and /admin is not served): a stop
 * reachable by anyone on the network would be a way to stop the sync. `close()` aborts the run in
 * flight after its batch and waits for it.
 *
 * With a rollout, the service also serves the sync's guard figures (SyncGuardFigures: success
 * rate, pace against the old system, the shadow's match rate and missing rows) as the rollout's
 * gauges, renewed after each run and every FIGURES_REFRESH_MS; its controller, if it holds the
 * lease, evaluates the `sync-migration` plan against them.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { type SyncFigures, SyncMetricsRegistry } from '../observability/sync-metrics.js';
import type { Rollout } from '../rollout/index.js';
import { type OpenSync, type RunResult, SyncGuardFigures } from '../sync/index.js';
import { rolloutAdminRoutes } from './admin-rollouts.js';
import { bearerCheck } from './bearer-token.js';
import { rolloutPanel, storeUnavailable } from './dashboard.js';
import { syncDashboardHtml } from './sync-dashboard.js';

export interface SyncService {
  url: string;
  /** Resolves when the run in flight (if any) has ended. */
  idle(): Promise<void>;
  /** Starts a run now unless one is going on; its result, or undefined when one was. */
  runNow(): Promise<RunResult | undefined>;
  close(): Promise<void>;
}

const API = '/api/property-listings';

/** The dashboard's reload interval (seconds) and the runs it lists. */
const DASHBOARD_REFRESH_S = 10;
const DASHBOARD_RUNS = 10;
/** How often the guard figures are read again between runs. */
const FIGURES_REFRESH_MS = 10_000;

export async function startSyncService(sync: OpenSync, log: Logger, rollout?: Rollout): Promise<SyncService> {
  const { config, engine, state, db } = sync;
  const guards = rollout === undefined ? undefined : await guardFigures(sync, rollout, log);
  const rowsAfterRuns = new RowsAfterRuns();
  const figures = (): Promise<SyncFigures> => readFigures(sync, rowsAfterRuns);
  const metrics = new SyncMetricsRegistry(config.system, figures);
  const stopping = new AbortController();
  let running: Promise<RunResult | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const runNow = (): Promise<RunResult | undefined> => {
    if (running !== undefined) return Promise.resolve(undefined);
    running = sync
      .runOnce({ signal: stopping.signal })
      .then(async (result) => {
        metrics.runEnded({ status: result.status, ...result.counts });
        log.info({ runId: result.runId, status: result.status, counts: result.counts }, 'sync run ended');
        if (result.status === 'completed') await rowsAfterRuns.count(db, config.table).catch(() => undefined);
        await guards?.refresh().catch((error: unknown) => log.warn({ err: error }, 'guard figures not read'));
        return result;
      })
      .catch((error: unknown) => {
        metrics.runEnded({
          status: 'failed',
          inserted: 0,
          updated: 0,
          unchanged: 0,
          deadLettered: 0,
          skipped: 0,
          requests: 0,
          failures: 0,
        });
        log.error({ err: error }, `sync run could not start: ${(error as Error).message}`);
        return undefined;
      })
      .finally(() => {
        running = undefined;
        if (!stopping.signal.aborted) timer = setTimeout(() => void runNow(), config.monitoringInterval);
      });
    return running;
  };

  const app = Fastify({ logger: false });
  app.get('/health', async () => ({ status: 'ok' }));
  app.get(`${API}/health`, async (_request, reply) => {
    const database = await db.query('SELECT 1').then(
      () => 'ok',
      () => 'unreachable',
    );
    const stop = database === 'ok' ? (await state.getCurrentState()).emergencyStop.set : undefined;
    const status = database !== 'ok' ? 'down' : engine.breakerState !== 'closed' || stop ? 'degraded' : 'ok';
    reply.code(database === 'ok' ? 200 : 503);
    return {
      status,
      system: config.system,
      database,
      source: engine.breakerState,
      emergencyStop: stop ?? null,
      state: engine.state,
    };
  });
  app.get(`${API}/sync/status`, async () => ({
    ...(await state.getCurrentState()),
    metrics: await state.getMetrics(),
    figures: await figures(),
  }));
  app.get<{ Querystring: { refresh?: string } }>('/dashboard', async (request, reply) => {
    const refresh = Number(request.query.refresh ?? DASHBOARD_REFRESH_S);
    const [now, current, runs, rollouts] = await Promise.all([
      state.getCurrentState(),
      figures(),
      state.history(DASHBOARD_RUNS),
      rollout === undefined ? undefined : rolloutPanel(rollout).catch(storeUnavailable),
    ]);
    reply.header('content-type', 'text/html; charset=utf-8');
    return syncDashboardHtml({
      state: now,
      figures: current,
      runs,
      rollouts,
      refreshSeconds:
        Number.isFinite(refresh) && refresh >= 1 ? Math.min(refresh, 3_600) : DASHBOARD_REFRESH_S,
    });
  });
  if (config.monitoringEnabled)
    app.get('/metrics', async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  app.post<{ Body: { reason?: string; by?: string } | undefined }>(
    `${API}/sync/emergency-stop`,
    async (request, reply) => {
      if (!authorized(request, reply, config.adminToken)) return reply;
      const reason = request.body?.reason;
      if (typeof reason !== 'string' || reason.trim() === '')
        return reply.code(400).send({ code: 'INVALID_ARGUMENT', message: 'give the stop a `reason`' });
      return state.setEmergencyStop(true, { by: request.body?.by ?? 'api', reason });
    },
  );
  app.delete<{ Body: { by?: string } | undefined }>(`${API}/sync/emergency-stop`, async (request, reply) => {
    if (!authorized(request, reply, config.adminToken)) return reply;
    return state.setEmergencyStop(false, { by: request.body?.by ?? 'api' });
  });
  app.post(`${API}/sync/run`, async (request, reply) => {
    if (!authorized(request, reply, config.adminToken)) return reply;
    if (running !== undefined)
      return reply.code(409).send({ code: 'CONFLICT', message: 'a run is going on' });
    clearTimeout(timer);
    return runNow();
  });

  if (rollout !== undefined && config.adminToken !== undefined) {
    const bearsToken = bearerCheck(config.adminToken);
    await app.register(
      async (admin) => {
        admin.addHook('onRequest', async (request, reply) => {
          if (!bearsToken(request.headers.authorization))
            return reply.code(401).send({
              code: 'UNAUTHORIZED',
              message: 'a Bearer token equal to KEEL_ADMIN_TOKEN is required',
            });
        });
        await rolloutAdminRoutes(admin, { rollout });
      },
      { prefix: '/admin' },
    );
  }

  const url = await app.listen({ host: config.host, port: config.port });
  void runNow();
  return {
    url,
    idle: async () => {
      await running;
    },
    runNow: () => {
      clearTimeout(timer);
      return runNow();
    },
    async close() {
      stopping.abort();
      clearTimeout(timer);
      guards?.stop();
      await running;
      await app.close();
    },
  };
}

/** The listings in the table after each of the last two completed runs. */
class RowsAfterRuns {
  private counts: number[] = [];

  async count(db: OpenSync['db'], table: string): Promise<void> {
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    this.counts = [...this.counts.slice(-1), Number(rows[0]?.n ?? 0)];
  }

  /** After the latest ÷ after the one before, − 1; undefined before two runs, or from none. */
  get change(): number | undefined {
    const [before, latest] = this.counts;
    return before === undefined || latest === undefined || before === 0 ? undefined : latest / before - 1;
  }
}

/** What the metrics, the status endpoint and `keel status` hold against the thresholds table. */
async function readFigures(sync: OpenSync, rowsAfterRuns: RowsAfterRuns): Promise<SyncFigures> {
  const { state, db, engine, config } = sync;
  const [now, metrics, rows, verification] = await Promise.all([
    state.getCurrentState(),
    state.getMetrics(),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM ${config.table}`),
    db.query<{ differences: string }>(
      'SELECT missing + changed AS differences FROM keel_sync_verifications WHERE sync_name = $1 ORDER BY id DESC LIMIT 1',
      [config.name],
    ),
  ]);
  const differences = verification.rows[0]?.differences;
  return {
    successRatio: metrics.successRate,
    secondsPer1000Rows: metrics.msPer1000Rows === null ? undefined : metrics.msPer1000Rows / 1_000,
    apiUsageRatio: metrics.apiUsage ?? undefined,
    breakerOpen: engine.breakerState === 'open',
    emergencyStop: now.emergencyStop.set,
    tableRows: Number(rows.rows[0]?.n ?? 0),
    deadLetters: now.openDeadLetters,
    tableRowsChange: rowsAfterRuns.change,
    verificationDifferences: differences === undefined ? undefined : Number(differences),
  };
}

/** The sync's figures, registered as the rollout's gauges and kept fresh. */
async function guardFigures(sync: OpenSync, rollout: Rollout, log: Logger): Promise<SyncGuardFigures> {
  const figures = new SyncGuardFigures(sync.db, { syncName: sync.config.name });
  for (const [name, read] of figures.gauges()) rollout.gauges.register(name, read);
  await figures.start(FIGURES_REFRESH_MS, (error) => log.warn({ err: error }, 'guard figures not read'));
  return figures;
}

function authorized(request: FastifyRequest, reply: FastifyReply, token: string | undefined): boolean {
  if (token === undefined) {
    void reply
      .code(403)
      .send({ code: 'UNAUTHORIZED', message: 'set KEEL_ADMIN_TOKEN to enable this endpoint' });
    return false;
  }
  if (!bearerCheck(token)(request.headers.authorization)) {
    void reply
      .code(401)
      .send({ code: 'UNAUTHORIZED', message: 'a Bearer token equal to KEEL_ADMIN_TOKEN is required' });
    return false;
  }
  return true;
}
