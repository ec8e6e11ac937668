/**
 * The sink: listings written to PostgreSQL, a batch at a time, each batch one statement and so one
 * transaction, which holds everything the batch changes: a crash at any instant leaves all of it or
 * none, and the next run starts where the last committed batch ended. The statement
 * (batchStatementSql), in data-modifying CTEs:
 *   1. reads the sync's control row FOR SHARE and the run's cursor row FOR UPDATE: with the
 *      emergency stop set, or the cursor claimed by a newer run (this runner lost its lock), it
 *      writes nothing and says why (SYNC_STOPPED, SYNC_FENCED). A stop being set waits for the
 *      batches in flight, so once `setEmergencyStop(true)` returns, no batch commits;
 *   2. upserts the rows, de-duplicated by property_number beforehand (the newest `updated_at`
 *      kept), from `unnest` arrays: one round trip and one plan per batch, where a row at a time
 *      costs a round trip each. A row is changed only when a column differs and the source's
 *      `updated_at` is not older than the stored one (a late re-drive never overwrites newer
 *      data); a row another system wrote with the same values keeps that system as its last
 *      writer. `xmax = 0` in RETURNING tells inserts from updates; rows neither were unchanged;
 *   3. inserts the dead letters (rows the checks refused) with their raw row;
 *   4. moves the cursor to the batch's last keyset position and adds the batch's counts to its run.
 * One statement rather than BEGIN, four statements and COMMIT: the round trips cost a tenth of a
 * batch of 1,000 rows here.
 *
 * A first sync inserts, and an INSERT … ON CONFLICT costs a fifth more per row than a plain INSERT
 * (its speculative insertion). So after a batch that only inserted (and at first), the next one is
 * tried as a plain INSERT; a listing already stored fails it whole (a duplicate key, nothing
 * written), and it and the batches after it take the upsert until one inserts only again.
 *
 * When the database refuses a row (a constraint, a value out of range: SQLSTATE classes 22 and
 * 23), the whole statement fails and writes nothing; the batch is then written again in a
 * transaction, a row at a time under savepoints, the refused rows becoming dead letters with the
 * database's reason, and closed by the same statement with no rows left to upsert.
 */
import { KeelError } from '../errors.js';
import type { Queryable, SyncDatabase } from './database.js';
import { type Checked, LISTING_COLUMNS, type ListingRow } from './listing.js';

/** A position in the source's keyset order (updated_at, id). */
export interface Cursor {
  updatedAt: string;
  id: number;
}

/** The share of the listings a cursor holds when every listing was owned. */
export const WHOLE_SHARE = 100;

/** The position a keel_sync_cursors row holds (undefined: the source's beginning). */
export function cursorOf(
  row: { updated_at: string | null; id: string | number | null } | undefined,
): Cursor | undefined {
  return row?.updated_at == null || row.id == null
    ? undefined
    : { updatedAt: row.updated_at, id: Number(row.id) };
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
  /** Rows read but left to another system (the migration's flag): counted, not written. */
  skipped?: number;
  /** The share of the listings owned all the way to `cursor`, kept with it (engine.ts). */
  ownedShare?: number;
  /** The cursor moved: the system's own (default), or a key range's (split.ts). */
  cursorName?: string;
}

export interface BatchCounts {
  read: number;
  inserted: number;
  updated: number;
  /** Rows already as read (or older than stored), and older copies of a listing in the same batch. */
  unchanged: number;
  deadLettered: number;
  /** Rows read but left to another system. */
  skipped: number;
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
const NOTHING_WRITTEN = { inserted: 0, updated: 0, refused: 0 };
/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = '23505';

/** SQLSTATE classes of a row the database refuses (data exception, integrity constraint). */
function isRowRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

export class ListingSink {
  private readonly upsertSql: string;
  private readonly batchSql: string;
  /** The batch statement without ON CONFLICT: for batches of new rows only (see `write`). */
  private readonly insertOnlySql: string;
  /** Whether the last batch inserted only: the next one tries a plain insert first. */
  private insertsOnly = true;

  constructor(
    private readonly db: SyncDatabase,
    private readonly options: SinkOptions,
  ) {
    this.upsertSql = upsertStatement(options.table);
    this.batchSql = batchStatementSql(options.table, true);
    this.insertOnlySql = batchStatementSql(options.table, false);
  }

  /** Makes `runId` the owner of this system's cursor; the position it holds (undefined: from the start). */
  async claimCursor(
    runId: number,
    at: { cursorName?: string; startAt?: Cursor } = {},
  ): Promise<{ cursor: Cursor | undefined; ownedShare: number }> {
    const { rows } = await this.db.query<{
      updated_at: string | null;
      id: string | null;
      owned_share: number | null;
    }>(
      `INSERT INTO keel_sync_cursors (sync_name, system, run_id, updated_at, id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sync_name, system) DO UPDATE SET run_id = EXCLUDED.run_id, changed_at = now()
       RETURNING updated_at, id, owned_share`,
      [
        this.options.syncName,
        at.cursorName ?? this.options.system,
        runId,
        at.startAt?.updatedAt ?? null,
        at.startAt?.id ?? null,
      ],
    );
    const row = rows[0];
    return {
      cursor: cursorOf(row),
      ownedShare: row?.owned_share == null ? WHOLE_SHARE : Number(row.owned_share),
    };
  }

  /**
   * Moves the cursor of `runId` back to `startAt` (the source's beginning when undefined), owning
   * `ownedShare` % from there. Throws SYNC_FENCED when a newer run took the cursor over.
   */
  async startOver(
    runId: number,
    ownedShare: number,
    at: { cursorName?: string; startAt?: Cursor } = {},
  ): Promise<void> {
    const { rowCount } = await this.db.query(
      `UPDATE keel_sync_cursors SET updated_at = $5, id = $6, owned_share = $4, changed_at = now()
       WHERE sync_name = $1 AND system = $2 AND run_id = $3`,
      [
        this.options.syncName,
        at.cursorName ?? this.options.system,
        runId,
        ownedShare,
        at.startAt?.updatedAt ?? null,
        at.startAt?.id ?? null,
      ],
    );
    if (rowCount !== 1) throw this.fenced(runId);
  }

  /** Writes one batch (see the file's note). */
  async write(batch: Batch): Promise<BatchCounts> {
    const deadLetters: DeadLetter[] = [];
    const valid: ListingRow[] = [];
    for (const { checked, raw } of batch.checked)
      if (checked.ok) valid.push(checked.row);
      else deadLetters.push({ key: checked.key, reason: checked.reason, raw });
    const rows = newestByKey(valid);
    const base = { batch, validCount: valid.length, deadLetters };
    try {
      if (this.insertsOnly)
        try {
          return await this.batchStatement(
            this.db,
            { ...base, rows, alreadyWritten: NOTHING_WRITTEN },
            this.insertOnlySql,
          );
        } catch (error) {
          // A listing already stored: this batch, and the next ones, take the upsert.
          if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
          this.insertsOnly = false;
        }
      const counts = await this.batchStatement(
        this.db,
        { ...base, rows, alreadyWritten: NOTHING_WRITTEN },
        this.batchSql,
      );
      this.insertsOnly = counts.updated + counts.unchanged === 0 && rows.length > 0;
      return counts;
    } catch (error) {
      if (!isRowRefusal(error)) throw error;
    }
    // A row the database refuses fails the whole statement: write the batch again in a
    // transaction, a row at a time under savepoints, and the refused rows as dead letters.
    return this.db.transaction(async (tx) => {
      const letters = [...deadLetters];
      const written = await this.upsertRowByRow(tx, rows, batch, letters);
      return this.batchStatement(
        tx,
        { ...base, deadLetters: letters, rows: [], alreadyWritten: written },
        this.batchSql,
      );
    });
  }

  /**
   * The batch as one statement (so one transaction even outside an explicit one): checks the
   * emergency stop (FOR SHARE, so a stop being set waits for it) and that this run owns the cursor
   * (FOR UPDATE), and only then upserts the rows, inserts the dead letters, moves the cursor and
   * adds the batch's counts to its run. Throws SYNC_STOPPED or SYNC_FENCED when it wrote nothing.
   */
  private async batchStatement(
    on: Queryable,
    write: {
      batch: Batch;
      rows: ListingRow[];
      validCount: number;
      deadLetters: DeadLetter[];
      /** Rows written before, in the same transaction (the row-by-row path). */
      alreadyWritten: { inserted: number; updated: number; refused: number };
    },
    sql: string,
  ): Promise<BatchCounts> {
    const { batch, rows, deadLetters, alreadyWritten } = write;
    const params: unknown[] = LISTING_COLUMNS.map((column) => rows.map((row) => row[column]));
    params.push(
      this.options.system,
      batch.runId,
      this.options.syncName,
      batch.cursor?.updatedAt ?? null,
      batch.cursor?.id ?? null,
      batch.cursor !== undefined,
      batch.cursor === undefined ? null : JSON.stringify(batch.cursor),
      batch.checked.length + (batch.skipped ?? 0),
      write.validCount - alreadyWritten.refused,
      deadLetters.length,
      batch.requests,
      batch.failures,
      deadLetters.map((letter) => letter.key),
      deadLetters.map((letter) => letter.reason),
      deadLetters.map((letter) => JSON.stringify(letter.raw ?? null)),
      alreadyWritten.inserted,
      alreadyWritten.updated,
      batch.skipped ?? 0,
      batch.ownedShare ?? WHOLE_SHARE,
      batch.cursorName ?? this.options.system,
    );
    const { rows: outcome } = await on.query<{
      stopped: boolean | null;
      stopped_by: string | null;
      reason: string | null;
      owned: boolean;
      inserted: string;
      updated: string;
    }>(sql, params);
    const result = outcome[0];
    if (result?.stopped === true)
      throw new KeelError(
        'SYNC_STOPPED',
        `the emergency stop of sync ${this.options.syncName} is set (by ${result.stopped_by ?? 'unknown'}: ${result.reason ?? 'no reason given'}); clear it with \`keel sync resume\``,
      );
    if (result?.owned !== true) throw this.fenced(batch.runId);
    const inserted = Number(result.inserted);
    const updated = Number(result.updated);
    return {
      read: batch.checked.length + (batch.skipped ?? 0),
      inserted,
      updated,
      unchanged: write.validCount - alreadyWritten.refused - inserted - updated,
      deadLettered: deadLetters.length,
      skipped: batch.skipped ?? 0,
    };
  }

  private fenced(runId: number): KeelError {
    return new KeelError(
      'SYNC_FENCED',
      `run ${runId} of sync ${this.options.syncName} no longer owns its cursor: a newer run took it over; this one stops`,
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
    const { rows: counted } = await tx.query<{ inserted: string; updated: string }>(this.upsertSql, params);
    return { inserted: Number(counted[0]?.inserted ?? 0), updated: Number(counted[0]?.updated ?? 0) };
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

/**
 * The upsert of the rows in arrays $1…$11 by system $12 in run $13 (see the file's note), as a
 * data-modifying CTE `written` returning whether each row was inserted; only when `gate` holds.
 */
function upsertClause(table: string, gate: string, onConflict = true): string {
  const columns = LISTING_COLUMNS.join(', ');
  const arrays = LISTING_COLUMNS.map((column, index) => `$${index + 1}::${COLUMN_TYPES[column]}[]`).join(
    ', ',
  );
  const stored = VALUE_COLUMNS.map((column) => `t.${column}`).join(', ');
  const incoming = VALUE_COLUMNS.map((column) => `EXCLUDED.${column}`).join(', ');
  return `written AS (
    INSERT INTO ${table} AS t (${columns}, created_by_system, created_in_run, updated_by_system, updated_in_run)
    SELECT u.*, $12::text, $13::bigint, $12::text, $13::bigint
    FROM unnest(${arrays}) AS u(${columns}) WHERE ${gate}
    ${
      onConflict
        ? `ON CONFLICT (property_number) DO UPDATE SET
      ${VALUE_COLUMNS.map((column) => `${column} = EXCLUDED.${column}`).join(', ')},
      updated_by_system = EXCLUDED.updated_by_system, updated_in_run = EXCLUDED.updated_in_run, synced_at = now()
    WHERE (${stored}) IS DISTINCT FROM (${incoming})
      AND t.source_updated_at::timestamptz <= EXCLUDED.source_updated_at::timestamptz`
        : ''
    }
    RETURNING (xmax = 0) AS inserted
  )`;
}

const WRITTEN_COUNTS =
  'count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written';

/** The rows' upsert alone: how many were inserted and updated. */
function upsertStatement(table: string): string {
  return `WITH ${upsertClause(table, 'true')} SELECT ${WRITTEN_COUNTS}`;
}

/**
 * A whole batch (ListingSink.batchStatement). Parameters: $1…$13 as upsertClause; $14 the sync;
 * $15, $16 the cursor's updated_at and id, $17 whether there is one, $18 it as JSON; $19 rows read,
 * $20 valid rows (less any refused), $21 dead letters, $22 requests, $23 failed requests; $24…$26
 * the dead letters' keys, reasons and raw rows; $27, $28 rows inserted and updated before, in the
 * same transaction; $29 rows read but left to another system; $30 the share owned to the cursor;
 * $31 the cursor's name (the system's, or a key range's).
 */
function batchStatementSql(table: string, onConflict: boolean): string {
  return `WITH control AS (
    SELECT emergency_stop, stopped_by, reason FROM keel_sync_control WHERE sync_name = $14 FOR SHARE
  ), owner AS (
    SELECT 1 FROM keel_sync_cursors WHERE sync_name = $14 AND system = $31 AND run_id = $13 FOR UPDATE
  ), go AS (
    SELECT NOT coalesce((SELECT emergency_stop FROM control), false)
       AND (NOT $17::boolean OR EXISTS (SELECT 1 FROM owner)) AS ok
  ), ${upsertClause(table, '(SELECT ok FROM go)', onConflict)}, figures AS (
    SELECT ${WRITTEN_COUNTS}
  ), letters AS (
    INSERT INTO keel_sync_dead_letters (sync_name, system, run_id, key, reason, raw)
    SELECT $14, $12, $13, d.key, d.reason, d.raw::jsonb
    FROM unnest($24::text[], $25::text[], $26::text[]) AS d(key, reason, raw) WHERE (SELECT ok FROM go)
  ), moved AS (
    UPDATE keel_sync_cursors SET updated_at = $15, id = $16, owned_share = $30, changed_at = now()
    WHERE $17::boolean AND sync_name = $14 AND system = $31 AND run_id = $13 AND (SELECT ok FROM go)
  ), counted AS (
    UPDATE keel_sync_runs SET rows_read = rows_read + $19,
      inserted = inserted + $27 + (SELECT inserted FROM figures),
      updated = updated + $28 + (SELECT updated FROM figures),
      unchanged = unchanged + $20 - $27 - $28 - (SELECT inserted + updated FROM figures),
      dead_lettered = dead_lettered + $21, skipped = skipped + $29, batches = batches + 1,
      requests = requests + $22, failures = failures + $23, cursor_to = coalesce($18::jsonb, cursor_to)
    WHERE id = $13 AND (SELECT ok FROM go)
  )
  SELECT (SELECT emergency_stop FROM control) AS stopped, (SELECT stopped_by FROM control) AS stopped_by,
         (SELECT reason FROM control) AS reason, (NOT $17::boolean OR EXISTS (SELECT 1 FROM owner)) AS owned,
         $27 + (SELECT inserted FROM figures) AS inserted, $28 + (SELECT updated FROM figures) AS updated`;
}
