/**
 * SyncStateManager: what the deployment guide's procedures ask of a sync, read from its tables
 * so any process sees the same answer as the runner:
 *
 *   getCurrentState()        the cursor of each system, the emergency stop, the latest run, the
 *                            open dead letters, and whether a run is going on now
 *   getMetrics()             over the runs of the last hour (MONITORING's window): rows, success
 *                            rate (rows written ÷ rows read), duration per 1,000 rows, failed
 *                            requests; and, from the live engine when given, API usage and the
 *                            breaker's state
 *   setEmergencyStop(on)     sets or clears the stop: runners stop before their next write
 *                            (the sink reads it inside each batch's transaction), and nothing
 *                            starts until it is cleared
 *   history(limit)           the latest runs
 *
 * Counts come from keel_sync_runs, which each batch's transaction updates: a crashed run's counts
 * are those of its committed batches, exactly.
 */
import type { SyncDatabase } from './database.js';
import type { SyncEngine } from './engine.js';
import { type Cursor, cursorOf, WHOLE_SHARE } from './pg-sink.js';
import { openSplit, type Split } from './split.js';

/** The window getMetrics reads. */
const METRICS_WINDOW = '1 hour';

export interface RunRecord {
  id: number;
  system: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  rowsRead: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deadLettered: number;
  skipped: number;
  batches: number;
  requests: number;
  failures: number;
  cursorFrom: Cursor | null;
  cursorTo: Cursor | null;
  error: string | null;
}

export interface EmergencyStopState {
  set: boolean;
  by: string | null;
  reason: string | null;
  changedAt: string;
}

export interface SyncState {
  syncName: string;
  /** The system this process runs as. */
  system: string;
  /** `idle`, `running` or `paused`, of this process's engine; from the runs table otherwise. */
  state: string;
  emergencyStop: EmergencyStopState;
  cursors: {
    system: string;
    cursor: Cursor | null;
    /** The share of the listings (%) the system owned all the way to the cursor. */
    ownedShare: number;
    runId: number | null;
    changedAt: string;
  }[];
  lastRun: RunRecord | null;
  openDeadLetters: number;
  /** The system's open split into key ranges (split.ts): its ranges, and how many are done. */
  split: { id: number; ranges: number; done: number } | null;
}

export interface SyncMetrics {
  windowRuns: number;
  rowsRead: number;
  rowsWritten: number;
  deadLettered: number;
  /** Rows written or found unchanged ÷ rows read and owned (1 when none were). */
  successRate: number;
  /** Duration per 1,000 rows of the latest completed run, in ms. */
  msPer1000Rows: number | null;
  requests: number;
  failedRequests: number;
  /** Requests ÷ the rate limit's allowance over the last minute, of this process's engine. */
  apiUsage: number | null;
  breaker: string | null;
  /** Rows the latest completed run read, and the one before it (the guide's ± 20 % check). */
  lastRunRows: number | null;
  previousRunRows: number | null;
}

export interface SyncStateManagerOptions {
  syncName: string;
  system: string;
  /** This process's engine, for its live state, API usage and breaker. */
  engine?: SyncEngine;
}

export class SyncStateManager {
  constructor(
    private readonly db: SyncDatabase,
    private readonly options: SyncStateManagerOptions,
  ) {}

  async getCurrentState(): Promise<SyncState> {
    const { syncName, system, engine } = this.options;
    const [control, cursors, lastRun, deadLetters] = await Promise.all([
      this.db.query<{
        emergency_stop: boolean;
        stopped_by: string | null;
        reason: string | null;
        changed_at: Date | string;
      }>(
        'SELECT emergency_stop, stopped_by, reason, changed_at FROM keel_sync_control WHERE sync_name = $1',
        [syncName],
      ),
      this.db.query<{
        system: string;
        updated_at: string | null;
        id: string | null;
        run_id: string | null;
        owned_share: number | null;
        changed_at: Date | string;
      }>(
        'SELECT system, updated_at, id, run_id, owned_share, changed_at FROM keel_sync_cursors WHERE sync_name = $1 ORDER BY system',
        [syncName],
      ),
      this.history(1),
      this.db.query<{ open: string }>(
        'SELECT count(*) AS open FROM keel_sync_dead_letters WHERE sync_name = $1 AND redriven_at IS NULL',
        [syncName],
      ),
    ]);
    const stop = control.rows[0];
    const last = lastRun[0] ?? null;
    return {
      syncName,
      system,
      state: engine?.state ?? (last?.status === 'running' ? 'running' : 'idle'),
      emergencyStop: {
        set: stop?.emergency_stop === true,
        by: stop?.stopped_by ?? null,
        reason: stop?.reason ?? null,
        changedAt: iso(stop?.changed_at ?? new Date(0)),
      },
      cursors: cursors.rows.map((row) => ({
        system: row.system,
        cursor: cursorOf(row) ?? null,
        ownedShare: row.owned_share === null ? WHOLE_SHARE : Number(row.owned_share),
        runId: row.run_id === null ? null : Number(row.run_id),
        changedAt: iso(row.changed_at),
      })),
      lastRun: last,
      openDeadLetters: Number(deadLetters.rows[0]?.open ?? 0),
      split: splitFigures(await openSplit(this.db, syncName, system)),
    };
  }

  async getMetrics(): Promise<SyncMetrics> {
    const { rows } = await this.db.query<Record<string, string | null>>(
      `SELECT count(*) AS runs, coalesce(sum(rows_read), 0) AS rows_read,
              coalesce(sum(inserted + updated), 0) AS written,
              coalesce(sum(unchanged), 0) AS unchanged, coalesce(sum(skipped), 0) AS skipped,
              coalesce(sum(dead_lettered), 0) AS dead_lettered, coalesce(sum(requests), 0) AS requests,
              coalesce(sum(failures), 0) AS failures
       FROM keel_sync_runs WHERE sync_name = $1 AND NOT dry_run AND started_at > now() - interval '${METRICS_WINDOW}'`,
      [this.options.syncName],
    );
    const window = rows[0] ?? {};
    const completed = (await this.history(10)).filter((run) => run.status === 'completed');
    const latest = completed[0];
    const rowsRead = Number(window.rows_read ?? 0);
    // Of the rows this sync's runners owned (those left to another system count for neither).
    const owned = rowsRead - Number(window.skipped ?? 0);
    const ok = Number(window.written ?? 0) + Number(window.unchanged ?? 0);
    const { engine } = this.options;
    return {
      windowRuns: Number(window.runs ?? 0),
      rowsRead,
      rowsWritten: Number(window.written ?? 0),
      deadLettered: Number(window.dead_lettered ?? 0),
      successRate: owned === 0 ? 1 : ok / owned,
      msPer1000Rows:
        latest === undefined || latest.durationMs === null || latest.rowsRead === 0
          ? null
          : (latest.durationMs * 1_000) / latest.rowsRead,
      requests: Number(window.requests ?? 0),
      failedRequests: Number(window.failures ?? 0),
      apiUsage: engine?.rate.usage() ?? null,
      breaker: engine?.breakerState ?? null,
      lastRunRows: latest?.rowsRead ?? null,
      previousRunRows: completed[1]?.rowsRead ?? null,
    };
  }

  /** Sets (`true`) or clears the emergency stop of the sync. */
  async setEmergencyStop(
    on: boolean,
    options: { by?: string; reason?: string } = {},
  ): Promise<EmergencyStopState> {
    const { rows } = await this.db.query<{ changed_at: Date | string }>(
      `INSERT INTO keel_sync_control (sync_name, emergency_stop, stopped_by, reason, changed_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (sync_name) DO UPDATE SET emergency_stop = EXCLUDED.emergency_stop,
         stopped_by = EXCLUDED.stopped_by, reason = EXCLUDED.reason, changed_at = now()
       RETURNING changed_at`,
      [this.options.syncName, on, options.by ?? 'api', options.reason ?? null],
    );
    return {
      set: on,
      by: options.by ?? 'api',
      reason: options.reason ?? null,
      changedAt: iso(rows[0]?.changed_at ?? new Date()),
    };
  }

  /** The latest runs, newest first. */
  async history(limit: number): Promise<RunRecord[]> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT id, system, status, started_at, finished_at,
              (extract(epoch FROM (coalesce(finished_at, now()) - started_at)) * 1000)::float8 AS duration_ms,
              rows_read, inserted, updated, unchanged, dead_lettered, skipped, batches, requests, failures,
              cursor_from, cursor_to, error
       FROM keel_sync_runs WHERE sync_name = $1 AND NOT dry_run ORDER BY id DESC LIMIT $2`,
      [this.options.syncName, limit],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      system: String(row.system),
      status: String(row.status),
      startedAt: iso(row.started_at as Date | string),
      finishedAt: row.finished_at == null ? null : iso(row.finished_at as Date | string),
      durationMs: row.finished_at == null ? null : Number(row.duration_ms),
      rowsRead: Number(row.rows_read),
      inserted: Number(row.inserted),
      updated: Number(row.updated),
      unchanged: Number(row.unchanged),
      deadLettered: Number(row.dead_lettered),
      skipped: Number(row.skipped),
      batches: Number(row.batches),
      requests: Number(row.requests),
      failures: Number(row.failures),
      cursorFrom: parseJson(row.cursor_from),
      cursorTo: parseJson(row.cursor_to),
      error: row.error == null ? null : String(row.error),
    }));
  }
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** jsonb arrives parsed from pg and PGlite; text when a driver leaves it so. */
function parseJson(value: unknown): Cursor | null {
  if (value == null) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as Cursor | null;
}

function splitFigures(split: Split | undefined): SyncState['split'] {
  if (split === undefined) return null;
  return {
    id: split.id,
    ranges: split.ranges.length,
    done: split.ranges.filter((range) => range.done).length,
  };
}
