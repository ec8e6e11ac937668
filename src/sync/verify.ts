/**
 * `keel sync verify`: the deployment guide's verify-property-listing-sync-migration, in one
 * report (written to a timestamped file as well as returned):
 *
 *   - duplicates by the natural key (`property_number`) — `findDuplicates()`; none can exist in a
 *     table Keel created (it is the primary key), but a table of the old system may lack one;
 *   - the rows each system created and last changed — `countBySystem()`;
 *   - the sync's state (cursors, emergency stop, latest run);
 *   - with `against` (the old system's table, or the table a shadow run wrote), the rows missing,
 *     extra or different field by field — `findInconsistencies()` — found by checksum ranges
 *     (table-diff.ts).
 *
 * `clean` is true when there is no duplicate and no difference. `resync` (verify --resync,
 * `resyncInconsistencies()`) reads the differing listings again from the source by key and
 * writes them through the sink, so the table matches the source again; a key the source no longer
 * has is reported, never deleted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SyncDatabase } from './database.js';
import { LISTING_COLUMNS } from './listing.js';
import type { SyncState, SyncStateManager } from './state.js';
import { diffTables, type RowDifference } from './table-diff.js';

/** Differences listed in a report at most. */
const DIFFERENCES_REPORTED = 1_000;

export interface VerifyOptions {
  table: string;
  /** The sync the verification is recorded under (none recorded without it). */
  syncName?: string;
  /** A table to compare `table` with: what it should hold. */
  against?: string;
  /** Folder the report is written to (none when undefined). */
  reportDir?: string;
}

export interface VerifyReport {
  at: string;
  table: string;
  rows: number;
  duplicates: { key: string; count: number }[];
  bySystem: { system: string; created: number; lastChanged: number }[];
  state: SyncState;
  comparison?: {
    against: string;
    againstRows: number;
    missing: number;
    extra: number;
    changed: number;
    /**
     * Rows of `against` found alike in the table ÷ rows of `against` (1 when it is empty); an
     * upper bound when `truncated`.
     */
    matchRate: number;
    differences: RowDifference[];
    truncated: boolean;
    durationMs: number;
  };
  clean: boolean;
  /** Where the report was written. */
  file?: string;
}

/** Keys present more than once in `table`, with their counts. */
export async function findDuplicates(
  db: SyncDatabase,
  table: string,
): Promise<{ key: string; count: number }[]> {
  const { rows } = await db.query<{ key: string; count: string }>(
    `SELECT property_number AS key, count(*) AS count FROM ${table} GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`,
  );
  return rows.map((row) => ({ key: row.key, count: Number(row.count) }));
}

/** Rows each system created, and rows each system changed last. */
export async function countBySystem(
  db: SyncDatabase,
  table: string,
): Promise<{ system: string; created: number; lastChanged: number }[]> {
  const { rows } = await db.query<{ system: string; created: string; changed: string }>(
    `SELECT system, sum(created) AS created, sum(changed) AS changed FROM (
       SELECT created_by_system AS system, 1 AS created, 0 AS changed FROM ${table}
       UNION ALL SELECT updated_by_system, 0, 1 FROM ${table}
     ) s GROUP BY system ORDER BY system`,
  );
  return rows.map((row) => ({
    system: row.system,
    created: Number(row.created),
    lastChanged: Number(row.changed),
  }));
}

/**
 * The deployment guide's cleanup-duplicates: keeps, of each property number, the row with the
 * newest `source_updated_at` (the last in the table on a tie) and deletes the others; how many
 * it deleted (or would delete, with `dryRun`).
 */
export async function removeDuplicates(db: SyncDatabase, table: string, dryRun = false): Promise<number> {
  const older = `FROM ${table} a, ${table} b WHERE a.property_number = b.property_number
    AND (a.source_updated_at::timestamptz, a.ctid) < (b.source_updated_at::timestamptz, b.ctid)`;
  if (dryRun) {
    const { rows } = await db.query<{ n: string }>(`SELECT count(DISTINCT a.ctid) AS n ${older}`);
    return Number(rows[0]?.n ?? 0);
  }
  const { rowCount } = await db.query(
    `DELETE FROM ${table} a USING ${table} b WHERE a.property_number = b.property_number
       AND (a.source_updated_at::timestamptz, a.ctid) < (b.source_updated_at::timestamptz, b.ctid)`,
  );
  return rowCount;
}

export async function verifySync(
  db: SyncDatabase,
  state: SyncStateManager,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const at = new Date();
  const [rows, duplicates, bySystem, current] = await Promise.all([
    countRows(db, options.table),
    findDuplicates(db, options.table),
    countBySystem(db, options.table),
    state.getCurrentState(),
  ]);
  const report: VerifyReport = {
    at: at.toISOString(),
    table: options.table,
    rows,
    duplicates,
    bySystem,
    state: current,
    clean: false,
  };
  if (options.against !== undefined) {
    const started = performance.now();
    const diff = await diffTables(db, {
      expected: options.against,
      actual: options.table,
      key: 'property_number',
      columns: LISTING_COLUMNS.filter((column) => column !== 'property_number'),
      limit: DIFFERENCES_REPORTED,
    });
    const count = (kind: RowDifference['kind']) =>
      diff.differences.filter((difference) => difference.kind === kind).length;
    const againstRows = await countRows(db, options.against);
    const [missing, changed] = [count('missing'), count('changed')];
    report.comparison = {
      against: options.against,
      againstRows,
      missing,
      extra: count('extra'),
      changed,
      matchRate: againstRows === 0 ? 1 : (againstRows - missing - changed) / againstRows,
      differences: diff.differences,
      truncated: diff.truncated,
      durationMs: performance.now() - started,
    };
    await recordVerification(db, options, report);
  }
  report.clean =
    duplicates.length === 0 &&
    (report.comparison === undefined || report.comparison.differences.length === 0);
  if (options.reportDir !== undefined) {
    mkdirSync(options.reportDir, { recursive: true });
    const file = join(options.reportDir, `sync-verify-${at.toISOString().replace(/[:.]/g, '-')}.json`);
    report.file = file;
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  }
  return report;
}

/** Keeps the comparison's figures (keel_sync_verifications), for the rollout's guards. */
async function recordVerification(
  db: SyncDatabase,
  options: VerifyOptions,
  report: VerifyReport,
): Promise<void> {
  const comparison = report.comparison;
  if (comparison === undefined || options.syncName === undefined) return;
  await db.query(
    `INSERT INTO keel_sync_verifications
       (sync_name, at, table_name, against, rows, against_rows, missing, extra, changed, match_rate, truncated)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      options.syncName,
      report.at,
      options.table,
      comparison.against,
      report.rows,
      comparison.againstRows,
      comparison.missing,
      comparison.extra,
      comparison.changed,
      comparison.matchRate,
      comparison.truncated,
    ],
  );
}

async function countRows(db: SyncDatabase, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n ?? 0);
}
