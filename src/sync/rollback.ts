/**
 * `keel sync rollback`: the deployment guide's rollback-rest-sync, undoing what one system (the
 * new one, by default) did since a point, so the other can take over again:
 *
 *   1. refuses without a backup younger than BACKUP_MAX_AGE_MS in the backup folder (`keel sync
 *      backup` makes one), unless told to go without;
 *   2. takes the rolled-back system's lock: none of its runners may be writing meanwhile (stop them
 *      first: `keel sync stop`, or stop their processes);
 *   3. in one transaction: deletes the rows that system created in its runs since the point;
 *      moves the restored system's cursor back to the earliest change the rolled-back system wrote
 *      (so the restored system reads again every listing the other touched, and writes its own
 *      values); deletes the rolled-back system's cursor (its next run starts from the beginning);
 *      records the rollback as a run with status `rolled-back`;
 *   4. verifies: duplicates and counts by system (verify.ts).
 *
 * Rows the rolled-back system only changed (created by the other) are not reverted here: the
 * restored system's next run reads them again from the source and rewrites those that differ
 * (those that hold the source's values already keep the rolled-back system as last writer). `dryRun` reports what it would do and
 * changes nothing. Every step is logged through `step` (the guide's --verbose).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import type { SyncDatabase } from './database.js';
import { lockKey } from './schema.js';
import { openSplit, splitOpen } from './split.js';
import { countBySystem, findDuplicates } from './verify.js';

/** A backup older than this does not count as recent. */
export const BACKUP_MAX_AGE_MS = 24 * 3_600_000;
/** Backup files `keel sync backup` writes: property-sync-<time>.sql.gz */
export const BACKUP_PATTERN = /^property-sync-.*\.sql(\.gz)?$/;

export interface RollbackOptions {
  table: string;
  syncName: string;
  /** The system whose work is undone. */
  system: string;
  /** The system that takes over again. */
  restore: string;
  /** Undo that system's runs started at or after this point (default: all of them). */
  since?: Date;
  dryRun?: boolean;
  /** Where backups are looked for; undefined skips the check (--no-backup-check). */
  backupDir?: string;
  step?: (message: string) => void;
}

export interface RollbackReport {
  dryRun: boolean;
  backup: string | undefined;
  runsUndone: number;
  rowsDeleted: number;
  rowsLeftForResync: number;
  restoredCursor: { updatedAt: string; id: number } | null;
  duplicates: number;
  bySystem: { system: string; created: number; lastChanged: number }[];
}

export async function rollbackSync(db: SyncDatabase, options: RollbackOptions): Promise<RollbackReport> {
  const step = options.step ?? (() => {});
  const dryRun = options.dryRun === true;
  const backup = options.backupDir === undefined ? undefined : recentBackup(options.backupDir);
  if (options.backupDir !== undefined && backup === undefined)
    throw new KeelError(
      'SYNC_NO_BACKUP',
      `no backup younger than 24 h in ${options.backupDir}: run \`keel sync backup\` first, or pass --no-backup-check`,
    );
  step(backup === undefined ? 'backup check skipped' : `backup found: ${backup}`);
  const release = await db.lockSession(lockKey(`${options.syncName}:${options.system}`));
  if (release === undefined)
    throw new KeelError(
      'SYNC_LOCKED',
      `a runner of system ${options.system} is writing: stop it first (\`keel sync stop\`, or stop its process)`,
    );
  try {
    // A split's workers hold their ranges' locks, not the system's: refuse while one is open.
    if (await openSplit(db, options.syncName, options.system))
      throw splitOpen(options.syncName, options.system);
    step(`lock of system ${options.system} taken: none of its runners is writing`);
    const report = await db.transaction(async (tx) => {
      const runs = await tx.query<{ id: string }>(
        `SELECT id FROM keel_sync_runs WHERE sync_name = $1 AND system = $2 AND started_at >= $3 AND status <> 'rolled-back'`,
        [options.syncName, options.system, options.since ?? new Date(0)],
      );
      const runIds = runs.rows.map((row) => row.id);
      step(
        `${runIds.length} runs of system ${options.system} since ${(options.since ?? new Date(0)).toISOString()}`,
      );
      const touched = await tx.query<{ created: string; changed_only: string; earliest: string | null }>(
        `SELECT count(*) FILTER (WHERE created_in_run = ANY($1::bigint[])) AS created,
                count(*) FILTER (WHERE NOT created_in_run = ANY($1::bigint[])) AS changed_only,
                min(source_updated_at::timestamptz) AS earliest
         FROM ${options.table} WHERE created_in_run = ANY($1::bigint[]) OR updated_in_run = ANY($1::bigint[])`,
        [runIds],
      );
      const figures = touched.rows[0];
      const earliest = figures?.earliest == null ? null : new Date(figures.earliest).toISOString();
      const restoredCursor = earliest === null ? null : { updatedAt: earliest, id: 0 };
      step(
        `${figures?.created ?? 0} rows created by it to delete; ${figures?.changed_only ?? 0} rows it only changed, left for system ${options.restore} to rewrite`,
      );
      let rowsDeleted = Number(figures?.created ?? 0);
      if (!dryRun) {
        const deleted = await tx.query(
          `DELETE FROM ${options.table} WHERE created_in_run = ANY($1::bigint[])`,
          [runIds],
        );
        rowsDeleted = deleted.rowCount;
        step(`deleted ${rowsDeleted} rows`);
        if (restoredCursor !== null) {
          await tx.query(
            `INSERT INTO keel_sync_cursors (sync_name, system, updated_at, id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sync_name, system) DO UPDATE SET
               updated_at = CASE WHEN keel_sync_cursors.updated_at IS NULL
                                   OR keel_sync_cursors.updated_at::timestamptz > EXCLUDED.updated_at::timestamptz
                                 THEN EXCLUDED.updated_at ELSE keel_sync_cursors.updated_at END,
               id = CASE WHEN keel_sync_cursors.updated_at IS NULL
                           OR keel_sync_cursors.updated_at::timestamptz > EXCLUDED.updated_at::timestamptz
                         THEN EXCLUDED.id ELSE keel_sync_cursors.id END,
               changed_at = now()`,
            [options.syncName, options.restore, restoredCursor.updatedAt, restoredCursor.id],
          );
          step(`cursor of system ${options.restore} moved back to ${restoredCursor.updatedAt} at the latest`);
        }
        await tx.query('DELETE FROM keel_sync_cursors WHERE sync_name = $1 AND system = $2', [
          options.syncName,
          options.system,
        ]);
        step(`state of system ${options.system} cleaned (its cursor removed)`);
        await tx.query(
          `INSERT INTO keel_sync_runs (sync_name, system, status, finished_at, error)
           VALUES ($1, $2, 'rolled-back', now(), $3)`,
          [
            options.syncName,
            options.system,
            `rolled back ${runIds.length} runs: ${rowsDeleted} rows deleted`,
          ],
        );
      }
      return {
        runsUndone: runIds.length,
        rowsDeleted,
        rowsLeftForResync: Number(figures?.changed_only ?? 0),
        restoredCursor,
      };
    });
    const [duplicates, bySystem] = await Promise.all([
      findDuplicates(db, options.table),
      countBySystem(db, options.table),
    ]);
    step(
      `verified: ${duplicates.length} duplicates; ${bySystem.map((entry) => `${entry.system} created ${entry.created}`).join(', ') || 'no rows'}`,
    );
    return { dryRun, backup, ...report, duplicates: duplicates.length, bySystem };
  } finally {
    await release();
  }
}

/** The newest backup file in `folder` younger than BACKUP_MAX_AGE_MS, or undefined. */
export function recentBackup(folder: string, now = Date.now()): string | undefined {
  let files: string[];
  try {
    files = readdirSync(folder).filter((name) => BACKUP_PATTERN.test(name));
  } catch {
    return undefined;
  }
  const fresh = files
    .map((name) => ({ path: join(folder, name), at: statSync(join(folder, name)).mtimeMs }))
    .filter((file) => now - file.at <= BACKUP_MAX_AGE_MS)
    .sort((a, b) => b.at - a.at);
  return fresh[0]?.path;
}
