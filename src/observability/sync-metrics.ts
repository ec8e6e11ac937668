/**
 * SyncMetricsRegistry: the Prometheus metrics of `keel sync serve` (prom-client), what the sync
 * rows of the thresholds table (thresholds.ts) alert on and the dashboards draw.
 *
 * Counters grow as this process's runs end (`runEnded`); gauges are read when Prometheus scrapes,
 * from the figures the sync hands over (`SyncFigures`, read from its tables, so they are the same
 * whichever instance is scraped). This module imports nothing of the sync: it is handed numbers.
 *
 *   keel_sync_rows_total{system,result}        rows read, by what became of them (inserted,
 *                                              updated, unchanged, dead_lettered, skipped: left
 *                                              to the other system)
 *   keel_sync_runs_total{system,status}        runs ended (completed, stopped, failed)
 *   keel_sync_requests_total{system,result}    requests to the source (ok, failed)
 *   keel_sync_success_ratio                    rows written or unchanged ÷ rows read, last hour
 *   keel_sync_seconds_per_1000_rows            the latest completed run's pace
 *   keel_sync_api_usage_ratio                  requests of the last minute ÷ the rate limit's allowance
 *   keel_sync_breaker_open                     1 while the source's circuit is open
 *   keel_sync_emergency_stop                   1 while the emergency stop is set
 *   keel_sync_table_rows                       listings in the table
 *   keel_sync_dead_letters                     dead letters not yet re-driven
 *   keel_sync_table_rows_change_ratio          listings in the table after the latest run against
 *                                              after the one before it, − 1 (the guide: ±20 % is
 *                                              an anomaly)
 *   keel_sync_verification_differences         listings the latest verification found missing or
 *                                              different (the guide: one is an anomaly)
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** What the sync tells the metrics at scrape time; undefined where it does not know. */
export interface SyncFigures {
  successRatio: number;
  secondsPer1000Rows: number | undefined;
  apiUsageRatio: number | undefined;
  breakerOpen: boolean;
  emergencyStop: boolean;
  tableRows: number;
  deadLetters: number;
  /** Listings after the latest run ÷ after the run before it, − 1; undefined before two runs. */
  tableRowsChange: number | undefined;
  /** The latest verification's missing and differing listings; undefined before one. */
  verificationDifferences: number | undefined;
}

/** The figures by the thresholds table's row watching each (the sync's rows). */
export function syncRowValues(figures: SyncFigures): Record<string, number | undefined> {
  return {
    KeelSyncSuccessRate: figures.successRatio,
    KeelSyncDuration: figures.secondsPer1000Rows,
    KeelSyncApiUsage: figures.apiUsageRatio,
    KeelSyncPaused: Number(figures.breakerOpen),
    KeelSyncCountChange:
      figures.tableRowsChange === undefined ? undefined : Math.abs(figures.tableRowsChange),
    KeelSyncMismatch: figures.verificationDifferences,
  };
}

/** A run's counts, as it ended. */
export interface SyncRunFigures {
  status: string;
  inserted: number;
  updated: number;
  unchanged: number;
  deadLettered: number;
  skipped: number;
  requests: number;
  failures: number;
}

export class SyncMetricsRegistry {
  readonly registry = new Registry();
  private readonly rows: Counter<'system' | 'result'>;
  private readonly runs: Counter<'system' | 'status'>;
  private readonly requests: Counter<'system' | 'result'>;

  constructor(
    private readonly system: string,
    readFigures: () => Promise<SyncFigures>,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'keel_sync_process_' });
    this.rows = new Counter({
      name: 'keel_sync_rows_total',
      help: 'Rows the sync read, by what became of them (inserted, updated, unchanged, dead_lettered, skipped).',
      labelNames: ['system', 'result'],
      registers,
    });
    this.runs = new Counter({
      name: 'keel_sync_runs_total',
      help: 'Sync runs ended, by status (completed, stopped, failed).',
      labelNames: ['system', 'status'],
      registers,
    });
    this.requests = new Counter({
      name: 'keel_sync_requests_total',
      help: 'Requests to the sync source, by result (ok, failed).',
      labelNames: ['system', 'result'],
      registers,
    });
    // One read of the sync's tables per scrape, shared by the gauges below.
    let pending: Promise<SyncFigures> | undefined;
    const figures = () => {
      pending ??= readFigures().finally(() => {
        pending = undefined;
      });
      return pending;
    };
    const gauge = (name: string, help: string, read: (figures: SyncFigures) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = read(await figures());
          this.reset();
          if (value !== undefined) this.set(value);
        },
      });
    gauge(
      'keel_sync_success_ratio',
      'Rows written or unchanged ÷ rows read over the last hour (1 with none).',
      (f) => f.successRatio,
    );
    gauge(
      'keel_sync_seconds_per_1000_rows',
      'Seconds per 1,000 rows of the latest completed run.',
      (f) => f.secondsPer1000Rows,
    );
    gauge(
      'keel_sync_api_usage_ratio',
      'Requests of the last minute ÷ what SYNC_RATE_LIMIT_PER_SECOND allows in a minute.',
      (f) => f.apiUsageRatio,
    );
    gauge(
      'keel_sync_breaker_open',
      '1 while the circuit in front of the source is open (the run is paused).',
      (f) => Number(f.breakerOpen),
    );
    gauge('keel_sync_emergency_stop', '1 while the sync’s emergency stop is set.', (f) =>
      Number(f.emergencyStop),
    );
    gauge('keel_sync_table_rows', 'Listings in the sync’s table.', (f) => f.tableRows);
    gauge('keel_sync_dead_letters', 'Dead letters not yet re-driven.', (f) => f.deadLetters);
    gauge(
      'keel_sync_table_rows_change_ratio',
      'Listings in the table after the latest run ÷ after the run before it, − 1.',
      (f) => f.tableRowsChange,
    );
    gauge(
      'keel_sync_verification_differences',
      'Listings the latest verification found missing or different.',
      (f) => f.verificationDifferences,
    );
  }

  /** Counts a run that ended. */
  runEnded(run: SyncRunFigures): void {
    const { system } = this;
    this.runs.inc({ system, status: run.status });
    this.rows.inc({ system, result: 'inserted' }, run.inserted);
    this.rows.inc({ system, result: 'updated' }, run.updated);
    this.rows.inc({ system, result: 'unchanged' }, run.unchanged);
    this.rows.inc({ system, result: 'dead_lettered' }, run.deadLettered);
    this.rows.inc({ system, result: 'skipped' }, run.skipped);
    this.requests.inc({ system, result: 'ok' }, run.requests - run.failures);
    this.requests.inc({ system, result: 'failed' }, run.failures);
  }
}
