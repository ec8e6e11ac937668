/**
 * The sync's figures as a migration's rollout guards read them: gauges the rollout controller
 * calls synchronously at each evaluation (`rollout.gauges.register(name, read)`), served from the
 * last reading of the sync's tables, which `refresh()` renews (every `intervalMs` once started).
 * A figure the tables cannot give yet (no run of a system, no verification) is undefined: the
 * guard cannot judge it, and neither promotes nor rolls back on it.
 *
 *   sync.success_rate     the new system's rows written or unchanged ÷ the rows it owned among
 *                         those read (skipped ones, the other system's, count for neither), over
 *                         the last `windowMs` (an hour)
 *   sync.duration_vs_old  the new system's time per 1,000 rows ÷ the old system's, over the
 *                         completed runs of each in the same window: the guide rolls back at 2×
 *                         (medium) and 3× (high)
 *   sync.match_rate       the latest `verify --against`'s share of rows alike (the shadow phase's
 *                         ≥ 99 % to promote)
 *   sync.missing_rows     rows that verification found missing: data loss, critical above 0
 *
 * The sync hands these over by name; it does not depend on the rollout module (the CLI wires
 * them into a Rollout).
 */
import type { SyncDatabase } from './database.js';

export const SYNC_GAUGES = [
  'sync.success_rate',
  'sync.duration_vs_old',
  'sync.match_rate',
  'sync.missing_rows',
] as const;
export type SyncGaugeName = (typeof SYNC_GAUGES)[number];

export interface SyncGuardFiguresOptions {
  syncName: string;
  newSystem?: string;
  oldSystem?: string;
  /** The runs the success rate is taken over: those started in the last `windowMs` (default 1 h). */
  windowMs?: number;
}

const HOUR_MS = 3_600_000;

export class SyncGuardFigures {
  private values: Partial<Record<SyncGaugeName, number>> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: SyncDatabase,
    private readonly options: SyncGuardFiguresOptions,
  ) {}

  /** The gauges by name, each reading the last refresh. */
  gauges(): [SyncGaugeName, () => number | undefined][] {
    return SYNC_GAUGES.map((name) => [name, () => this.values[name]]);
  }

  /** Reads the figures again from the sync's tables. */
  async refresh(): Promise<void> {
    const { syncName, newSystem = 'new', oldSystem = 'old', windowMs = HOUR_MS } = this.options;
    const [window, paces, verification] = await Promise.all([
      this.db.query<{ read: string | null; ok: string | null }>(
        `SELECT sum(rows_read - skipped) AS read, sum(inserted + updated + unchanged) AS ok FROM keel_sync_runs
         WHERE sync_name = $1 AND system = $2 AND NOT dry_run AND started_at > now() - make_interval(secs => $3)`,
        [syncName, newSystem, windowMs / 1000],
      ),
      this.db.query<{ system: string; ms_per_1000: number }>(
        `SELECT system,
                sum(extract(epoch FROM (finished_at - started_at))) * 1000 * 1000 / sum(rows_read) AS ms_per_1000
         FROM keel_sync_runs
         WHERE sync_name = $1 AND system = ANY($2::text[]) AND status = 'completed' AND NOT dry_run
           AND rows_read > 0 AND started_at > now() - make_interval(secs => $3)
         GROUP BY system`,
        [syncName, [newSystem, oldSystem], windowMs / 1000],
      ),
      this.db.query<{ match_rate: number; missing: string }>(
        'SELECT match_rate, missing FROM keel_sync_verifications WHERE sync_name = $1 ORDER BY id DESC LIMIT 1',
        [syncName],
      ),
    ]);
    const read = Number(window.rows[0]?.read ?? 0);
    const pace = new Map(paces.rows.map((row) => [row.system, Number(row.ms_per_1000)]));
    const [mine, theirs] = [pace.get(newSystem), pace.get(oldSystem)];
    const latest = verification.rows[0];
    this.values = {
      'sync.success_rate': read === 0 ? undefined : Number(window.rows[0]?.ok ?? 0) / read,
      'sync.duration_vs_old':
        mine === undefined || theirs === undefined || theirs === 0 ? undefined : mine / theirs,
      'sync.match_rate': latest === undefined ? undefined : Number(latest.match_rate),
      'sync.missing_rows': latest === undefined ? undefined : Number(latest.missing),
    };
  }

  /** Refreshes now and every `intervalMs` until `stop()`; a failed refresh keeps the last values. */
  async start(intervalMs: number, onError: (error: unknown) => void = () => {}): Promise<void> {
    await this.refresh().catch(onError);
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
