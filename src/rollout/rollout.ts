/**
 * `Rollout`: the rollout subsystem of one process, opened in one call — the shared store, this
 * instance's switch board, flags, the controller (guards evaluated by whichever instance holds the
 * lease), the operator actions and the notifier.
 *
 * ```ts
 * const rollout = await Rollout.open({ redisUrl: process.env.REDIS_URL, webhookUrl: process.env.ALERT_WEBHOOK_URL });
 * if (rollout.isEnabled('sync.rest', { key: listing.id })) …
 * await rollout.actions.start(migration({ route: 'listing' }), 'operator:ana');
 * ```
 *
 * The store is Redis when `redisUrl` is set, else PostgreSQL with `databaseUrl`, else a file in
 * `dataDir` (one instance). A gateway passes its figures, its routes and a target check; a library
 * user needs none of them.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type RolloutClock, realClock } from './clock.js';
import { type ControllerLog, RolloutController } from './controller.js';
import { CustomMetrics, RolloutGauges } from './custom-metrics.js';
import type { RolloutFigures } from './figures.js';
import { type FlagContext, RolloutFlags } from './flags.js';
import type { Locale } from './notification-templates.js';
import { Notifier } from './notifier.js';
import { OperatorActions } from './operator-actions.js';
import type { Plan } from './plan.js';
import type { HostFigures } from './readings.js';
import type { GuardStatus, RolloutStore, SwitchKey } from './state.js';
import { openRolloutStore } from './store/index.js';
import { SwitchBoard } from './switch-board.js';
import { Transitions } from './transitions.js';

export interface RolloutOptions {
  /** Separates the rollouts of services sharing one Redis or database (default `keel`). */
  namespace?: string;
  redisUrl?: string;
  databaseUrl?: string;
  dataDir?: string;
  /** A store of your own (tests, or one opened elsewhere); the options above are then ignored. */
  store?: RolloutStore;
  /** This instance's name in leases and logs (default host-pid-random). */
  instance?: string;
  /** ALERT_WEBHOOK_URL: a Slack-compatible incoming webhook for the notifications. */
  webhookUrl?: string;
  locale?: Locale;
  prometheusUrl?: string;
  log?: ControllerLog;
  clock?: RolloutClock;
  /** Real milliseconds between controller ticks (default 1 s). */
  tickMs?: number;
  /** Real milliseconds the guards' lease lasts unrenewed (default 5 s). */
  leaseTtlMs?: number;
  /** false: do not evaluate guards in this process (flags and actions only). */
  controller?: boolean;
  figures?: RolloutFigures;
  host?: HostFigures;
  routesOf?: (key: SwitchKey) => readonly string[];
  candidateOrigin?: (route: string) => string | undefined;
  checkTargets?: (plan: Plan) => void;
}

const SILENT: ControllerLog = { info() {}, warn() {}, error() {} };

export class Rollout {
  private constructor(
    readonly store: RolloutStore,
    readonly board: SwitchBoard,
    readonly flags: RolloutFlags,
    readonly gauges: RolloutGauges,
    readonly controller: RolloutController,
    readonly actions: OperatorActions,
    readonly notifier: Notifier,
    private readonly ownsStore: boolean,
  ) {}

  static async open(options: RolloutOptions = {}): Promise<Rollout> {
    const store =
      options.store ??
      (await openRolloutStore({
        namespace: options.namespace ?? 'keel',
        redisUrl: options.redisUrl,
        databaseUrl: options.databaseUrl,
        dataDir: options.dataDir,
      }));
    const log = options.log ?? SILENT;
    const clock = options.clock ?? realClock;
    const board = await SwitchBoard.open(store);
    const gauges = new RolloutGauges();
    const notifier = new Notifier({ webhookUrl: options.webhookUrl, locale: options.locale, log });
    const transitions = new Transitions(store, board, notifier);
    const metrics = new CustomMetrics({
      prometheusUrl: options.prometheusUrl,
      gauges,
      candidateOrigin: options.candidateOrigin,
      clock,
      log,
    });
    const controller = new RolloutController({
      store,
      board,
      transitions,
      metrics,
      clock,
      log,
      instance: options.instance ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`,
      figures: options.figures,
      host: options.host,
      routesOf: options.routesOf,
      tickMs: options.tickMs,
      leaseTtlMs: options.leaseTtlMs,
    });
    const actions = new OperatorActions({
      store,
      transitions,
      controller,
      clock,
      checkTargets: options.checkTargets,
    });
    if (options.controller !== false) controller.start();
    return new Rollout(
      store,
      board,
      new RolloutFlags(board),
      gauges,
      controller,
      actions,
      notifier,
      options.store === undefined,
    );
  }

  /**
   * The guards' last evaluation of rollout `id`: this instance's own when it evaluates them, else
   * the one the evaluating instance shared through the store.
   */
  async guards(id: string): Promise<GuardStatus | undefined> {
    return this.controller.guards(id) ?? (await this.store.guards(id));
  }

  /** Whether flag `name` is on for `context.key` (flags.ts). */
  isEnabled(name: string, context?: FlagContext, fallback?: boolean): boolean {
    return this.flags.isEnabled(name, context, fallback);
  }

  async close(): Promise<void> {
    await this.controller.stop();
    await this.notifier.idle();
    if (this.ownsStore) await this.store.close();
  }
}
