/**
 * The sink: listings written to PostgreSQL, one transaction per batch.
 *
 * A batch's transaction holds everything the batch changes, so a crash at any instant leaves
 * either all of it or none, and the next run starts where the last committed batch ended:
 *   1. the rows, de-duplicated by property_number (the newest `updated_at` kept), are upserted in
 *      one statement over `unnest` arrays — one round trip and one plan per batch, where a row at a
 *      time costs a round trip each (about 1.4 % of COPY's rate here, against about 70 % for
 *      unnest). A row is changed only when a column differs and the source's `updated_at` is not
 *      older than the stored one (a late re-drive never overwrites newer data); a row another
 *      system wrote with the same values keeps that system as its last writer. `xmax = 0` in
 *      RETURNING tells inserts from updates; rows not returned were unchanged;
 *   2. when the database refuses the batch for one row (a constraint, a value out of range:
 *      SQLSTATE classes 22 and 23), the transaction is rolled back and the batch written again in
 *      a new one, a row at a time under savepoints, the refused rows becoming dead letters with the
 *      database's reason (savepoints only then: each costs a round trip and a subtransaction);
 *   3. dead letters (rows the checks refused, and those) are inserted with their raw row;
 *   4. one statement reads the sync's control row FOR SHARE, moves the cursor to the batch's last
 *      keyset position while this run owns it (`run_id`), and adds the batch's counts to its run.
 *      The emergency stop set makes the batch roll back (SYNC_STOPPED); a stop being set waits for
 *      the batches in flight to end, so once `setEmergencyStop(true)` returns, no batch commits. A
 *      runner that lost its lock and was replaced cannot write behind the new one (SYNC_FENCED).
 */
import { KeelError } from '../errors.js';
import type { Queryable, SyncDatabase } from './database.js';
import { type Checked, LISTING_COLUMNS, type ListingRow } from './listing.js';

/** A position in the source's keyset order (updated_at, id). */
export interface Cursor {
  updatedAt: string;
  id: number;
}

export interface DeadLetter {
  key: string;
  reason: string;
  raw: unknown;
}

export interface Batch {
  runId: number;
  /** The batch's rows as read, each checked. */
  checked: { checked: Checked; raw: unknown }[];
  /** The keyset position of the batch's last row; undefined for rows read by key (a re-sync). */
  cursor: Cursor | undefined;
  /** Requests and failed requests it took to read the batch. */
  requests: number;
  failures: number;
}

export interface BatchCounts {
  read: number;
  inserted: number;
  updated: number;
  /** Rows already as read (or older than stored), and older copies of a listing in the same batch. */
  unchanged: number;
  deadLettered: number;
}

export interface SinkOptions {
  table: string;
  syncName: string;
  /** The system this runner is (`new`, `old`), recorded on each row it writes. */
  system: string;
}

const COLUMN_TYPES: Record<(typeof LISTING_COLUMNS)[number], string> = {
  property_number: 'text',
  source_id: 'bigint',
  title: 'text',
  prefecture: 'text',
  city: 'text',
  address: 'text',
  price: 'bigint',
  area_sqm: 'numeric',
  layout: 'text',
  status: 'text',
  source_updated_at: 'text',
};
/** The columns an update compares and sets (all but the key). */
const VALUE_COLUMNS = LISTING_COLUMNS.filter((column) => column !== 'property_number');

/** SQLSTATE classes of a row the database refuses (data exception, integrity constraint). */
function isRowRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

export class ListingSink {
  private readonly upsertSql: string;

  constructor(
    private readonly db: SyncDatabase,
    private readonly options: SinkOptions,
  ) {
    this.upsertSql = upsertStatement(options.table);
  }

  /** Makes `runId` the owner of this system's cursor; the position it holds (undefined: from the start). */
  async claimCursor(runId: number): Promise<Cursor | undefined> {
    const { rows } = await this.db.query<{ updated_at: string | null; id: string | null }>(
      `INSERT INTO keel_sync_cursors (sync_name, system, run_id) VALUES ($1, $2, $3)
       ON CONFLICT (sync_name, system) DO UPDATE SET run_id = EXCLUDED.run_id, changed_at = now()
       RETURNING updated_at, id`,
      [this.options.syncName, this.options.system, runId],
    );
    const row = rows[0];
    return row?.updated_at == null || row.id == null
      ? undefined
      : { updatedAt: row.updated_at, id: Number(row.id) };
  }

  /** Writes one batch (see the file's note). */
  async write(batch: Batch): Promise<BatchCounts> {
    const deadLetters: DeadLetter[] = [];
    const valid: ListingRow[] = [];
    for (const { checked, raw } of batch.checked)
      if (checked.ok) valid.push(checked.row);
      else deadLetters.push({ key: checked.key, reason: checked.reason, raw });
    const rows = newestByKey(valid);
    try {
      return await this.writeOnce(batch, rows, valid.length, deadLetters, false);
    } catch (error) {
      if (!isRowRefusal(error)) throw error;
      // A row the database refuses aborts the whole statement: write the batch again, a row at a time.
      return this.writeOnce(batch, rows, valid.length, deadLetters, true);
    }
  }

  /** The batch's transaction; `rowByRow` isolates each row under a savepoint. */
  private writeOnce(
    batch: Batch,
    rows: ListingRow[],
    validCount: number,
    checkedDeadLetters: DeadLetter[],
    rowByRow: boolean,
  ): Promise<BatchCounts> {
    return this.db.transaction(async (tx) => {
      const deadLetters = [...checkedDeadLetters];
      const written = rowByRow
        ? await this.upsertRowByRow(tx, rows, batch, deadLetters)
        : { ...(await this.upsert(tx, rows, batch.runId)), refused: 0 };
      await this.insertDeadLetters(tx, batch.runId, deadLetters);
      const counts: BatchCounts = {
        read: batch.checked.length,
        inserted: written.inserted,
        updated: written.updated,
        unchanged: validCount - written.refused - written.inserted - written.updated,
        deadLettered: deadLetters.length,
      };
      await this.commitPosition(tx, batch, counts);
      return counts;
    });
  }

  /**
   * In one statement: checks the emergency stop (FOR SHARE, so a stop being set waits for this
   * transaction), moves the cursor while this run owns it, and adds the batch's counts to its run.
   * Throws SYNC_STOPPED or SYNC_FENCED, which roll the whole batch back.
   */
  private async commitPosition(tx: Queryable, batch: Batch, counts: BatchCounts): Promise<void> {
    const { rows } = await tx.query<{
      stopped: boolean | null;
      stopped_by: string | null;
      reason: string | null;
      moved: string;
    }>(
      `WITH control AS (
         SELECT emergency_stop, stopped_by, reason FROM keel_sync_control WHERE sync_name = $1 FOR SHARE
       ), moved AS (
         UPDATE keel_sync_cursors SET updated_at = $4, id = $5, changed_at = now()
         WHERE $14::boolean AND sync_name = $1 AND system = $2 AND run_id = $3
           AND NOT coalesce((SELECT emergency_stop FROM control), false)
         RETURNING 1
       ), counted AS (
         UPDATE keel_sync_runs SET rows_read = rows_read + $6, inserted = inserted + $7, updated = updated + $8,
           unchanged = unchanged + $9, dead_lettered = dead_lettered + $10, batches = batches + 1,
           requests = requests + $11, failures = failures + $12, cursor_to = coalesce($13::jsonb, cursor_to)
         WHERE id = $3 AND (NOT $14::boolean OR EXISTS (SELECT 1 FROM moved))
           AND NOT coalesce((SELECT emergency_stop FROM control), false)
       )
       SELECT (SELECT emergency_stop FROM control) AS stopped, (SELECT stopped_by FROM control) AS stopped_by,
              (SELECT reason FROM control) AS reason,
              CASE WHEN $14::boolean THEN (SELECT count(*) FROM moved) ELSE 1 END AS moved`,
      [
        this.options.syncName,
        this.options.system,
        batch.runId,
        batch.cursor?.updatedAt ?? null,
        batch.cursor?.id ?? null,
        counts.read,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        counts.deadLettered,
        batch.requests,
        batch.failures,
        batch.cursor === undefined ? null : JSON.stringify(batch.cursor),
        batch.cursor !== undefined,
      ],
    );
    const outcome = rows[0];
    if (outcome?.stopped === true)
      throw new KeelError(
        'SYNC_STOPPED',
        `the emergency stop of sync ${this.options.syncName} is set (by ${outcome.stopped_by ?? 'unknown'}: ${outcome.reason ?? 'no reason given'}); clear it with \`keel sync resume\``,
      );
    if (Number(outcome?.moved ?? 0) === 0)
      throw new KeelError(
        'SYNC_FENCED',
        `run ${batch.runId} of sync ${this.options.syncName} no longer owns its cursor: a newer run took it over; this one stops`,
      );
  }

  /** Upserts `rows` a row at a time under savepoints; refused rows are added to `deadLetters`. */
  private async upsertRowByRow(
    tx: Queryable,
    rows: ListingRow[],
    batch: Batch,
    deadLetters: DeadLetter[],
  ): Promise<{ inserted: number; updated: number; refused: number }> {
    const total = { inserted: 0, updated: 0, refused: 0 };
    for (const row of rows) {
      await tx.query('SAVEPOINT keel_row');
      try {
        const counts = await this.upsert(tx, [row], batch.runId);
        await tx.query('RELEASE SAVEPOINT keel_row');
        total.inserted += counts.inserted;
        total.updated += counts.updated;
      } catch (error) {
        if (!isRowRefusal(error)) throw error;
        await tx.query('ROLLBACK TO SAVEPOINT keel_row');
        total.refused++;
        const raw = batch.checked.find((entry) => entry.checked.ok && entry.checked.row === row)?.raw ?? row;
        deadLetters.push({
          key: row.property_number,
          reason: `refused by the database: ${(error as Error).message}`,
          raw,
        });
      }
    }
    return total;
  }

  private async upsert(
    tx: Queryable,
    rows: ListingRow[],
    runId: number,
  ): Promise<{ inserted: number; updated: number }> {
    const params: unknown[] = LISTING_COLUMNS.map((column) => rows.map((row) => row[column]));
    params.push(this.options.system, runId);
    const { rows: returned } = await tx.query<{ inserted: boolean }>(this.upsertSql, params);
    let inserted = 0;
    for (const row of returned) if (row.inserted) inserted++;
    return { inserted, updated: returned.length - inserted };
  }

  private async insertDeadLetters(tx: Queryable, runId: number, deadLetters: DeadLetter[]): Promise<void> {
    if (deadLetters.length === 0) return;
    await tx.query(
      `INSERT INTO keel_sync_dead_letters (sync_name, system, run_id, key, reason, raw)
       SELECT $1, $2, $3, key, reason, raw::jsonb FROM unnest($4::text[], $5::text[], $6::text[]) AS d(key, reason, raw)`,
      [
        this.options.syncName,
        this.options.system,
        runId,
        deadLetters.map((letter) => letter.key),
        deadLetters.map((letter) => letter.reason),
        deadLetters.map((letter) => JSON.stringify(letter.raw ?? null)),
      ],
    );
  }
}

/** The rows, one per property_number: the one with the newest `updated_at` (the later on a tie). */
export function newestByKey(rows: ListingRow[]): ListingRow[] {
  const byKey = new Map<string, ListingRow>();
  for (const row of rows) {
    const kept = byKey.get(row.property_number);
    if (kept === undefined || Date.parse(row.source_updated_at) >= Date.parse(kept.source_updated_at))
      byKey.set(row.property_number, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

function upsertStatement(table: string): string {
  const columns = LISTING_COLUMNS.join(', ');
  const arrays = LISTING_COLUMNS.map((column, index) => `$${index + 1}::${COLUMN_TYPES[column]}[]`).join(
    ', ',
  );
  const system = `$${LISTING_COLUMNS.length + 1}`;
  const run = `$${LISTING_COLUMNS.length + 2}`;
  const stored = VALUE_COLUMNS.map((column) => `t.${column}`).join(', ');
  const incoming = VALUE_COLUMNS.map((column) => `EXCLUDED.${column}`).join(', ');
  return `INSERT INTO ${table} AS t (${columns}, created_by_system, created_in_run, updated_by_system, updated_in_run)
    SELECT u.*, ${system}::text, ${run}::bigint, ${system}::text, ${run}::bigint
    FROM unnest(${arrays}) AS u(${columns})
    ON CONFLICT (property_number) DO UPDATE SET
      ${VALUE_COLUMNS.map((column) => `${column} = EXCLUDED.${column}`).join(', ')},
      updated_by_system = EXCLUDED.updated_by_system, updated_in_run = EXCLUDED.updated_in_run, synced_at = now()
    WHERE (${stored}) IS DISTINCT FROM (${incoming})
      AND t.source_updated_at::timestamptz <= EXCLUDED.source_updated_at::timestamptz
    RETURNING (xmax = 0) AS inserted`;
}
