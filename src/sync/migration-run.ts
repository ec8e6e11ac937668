/**
 * One run of a system taking part in a migration, as its phase has it. In the shadow phase (the
 * flag at 0 %, and a shadow table given) the new system writes every listing into its shadow
 * table rather than the real one, which the old system goes on writing, and then verifies the
 * shadow against the real table: the verification's match rate (keel_sync_verifications) is what
 * the phase is promoted on. Otherwise it is the engine's run into the real table.
 *
 * The shadow runner shares the system's cursor and holds a share of 0 % of the real table
 * (SHADOW_OWNERSHIP): once the flag gives the new system a share, its next run reads the source
 * again from the beginning into the real table and writes what it now owns (engine.ts).
 */
import type { Logger } from 'pino';
import type { SyncDatabase } from './database.js';
import type { Ownership, RunOptions, RunResult, SyncEngine } from './engine.js';
import type { SyncStateManager } from './state.js';
import { verifySync } from './verify.js';

/** The shadow phase's ownership: every listing written to the shadow table, none of the real one. */
export const SHADOW_OWNERSHIP: Ownership = { owns: () => true, share: () => 0 };

export interface MigrationRunParts {
  db: SyncDatabase;
  state: SyncStateManager;
  log: Logger;
  syncName: string;
  /** The real table, and its engine. */
  table: string;
  engine: SyncEngine;
  /** The shadow phase's table, its engine (with SHADOW_OWNERSHIP) and whether the phase is on now. */
  shadow?: { table: string; engine: SyncEngine; isOn: () => boolean };
}

/** A run as the migration's phase has it (see the file's note). */
export async function migrationRun(parts: MigrationRunParts, options?: RunOptions): Promise<RunResult> {
  const { shadow } = parts;
  if (shadow === undefined || !shadow.isOn()) return parts.engine.run(options);
  const result = await shadow.engine.run(options);
  if (result.status !== 'completed') return result;
  const report = await verifySync(parts.db, parts.state, {
    table: shadow.table,
    syncName: parts.syncName,
    against: parts.table,
  });
  parts.log.info(
    { matchRate: report.comparison?.matchRate, missing: report.comparison?.missing },
    `shadow phase: ${shadow.table} verified against ${parts.table}`,
  );
  return result;
}
