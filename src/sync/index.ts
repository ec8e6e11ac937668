/**
 * keel/sync: the property-listing sync — a resumable, keyset-paged REST → PostgreSQL sync with a
 * rate limit, a circuit breaker, dry-run, an emergency stop and a dead-letter table (docs/sync.md).
 */

export { type BackupOptions, backupSync } from './backup.js';
export {
  loadSyncConfig,
  restSourceConfig,
  SYNC_SETTINGS,
  type SyncConfig,
  type SyncSettingName,
} from './config.js';
export { embeddedDatabase, postgresDatabase, type Queryable, type SyncDatabase } from './database.js';
export type { DryRunExample, DryRunReport } from './dry-run.js';
export {
  type EngineState,
  type Ownership,
  type RunCounts,
  type RunOptions,
  type RunProgress,
  type RunResult,
  type RunStatus,
  SyncEngine,
  type SyncEngineOptions,
} from './engine.js';
export {
  SYNC_GAUGES,
  type SyncGaugeName,
  SyncGuardFigures,
  type SyncGuardFiguresOptions,
} from './guard-figures.js';
export { checkListing, LISTING_COLUMNS, type ListingRow, type SourceListing } from './listing.js';
export { type MigrationRunParts, migrationRun, SHADOW_OWNERSHIP } from './migration-run.js';
export { type OpenSync, type OpenSyncOptions, openSync } from './open.js';
export { type Cursor, ListingSink } from './pg-sink.js';
export { PgTableListingSource, type PgTableSourceOptions } from './pg-source.js';
export { RateLimiter } from './rate-limiter.js';
export { type ListingSource, RestListingSource, SourceError } from './rest-source.js';
export {
  BACKUP_MAX_AGE_MS,
  type RollbackOptions,
  type RollbackReport,
  recentBackup,
  rollbackSync,
} from './rollback.js';
export { ensureSchema, lockKey, removeSync, SYNC_TABLES } from './schema.js';
export { cancelSplit, type KeyRange, openSplit, type Split } from './split.js';
export { type RunRecord, type SyncMetrics, type SyncState, SyncStateManager } from './state.js';
export { diffTables, type RowDifference, type TableDiff, type TableDiffOptions } from './table-diff.js';
export {
  countBySystem,
  findDuplicates,
  removeDuplicates,
  type VerifyOptions,
  type VerifyReport,
  verifySync,
} from './verify.js';
