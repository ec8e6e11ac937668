/**
 * The sync's tables, created when missing (in one transaction under an advisory lock, so
 * runners starting together take turns):
 *
 *   <table>                  the listings: one row per property_number, with the system and run
 *                            that created it and that last changed it (`count by system`, and
 *                            "delete what the new system created" in a rollback, are exact)
 *   keel_sync_cursors        (sync, system) → the keyset position reached, and the run that owns
 *                            it: a batch commits only while its run still owns the cursor, so a
 *                            runner that lost its lock cannot write behind a newer one
 *   keel_sync_runs           one row per run: status, counts (updated in each batch's transaction,
 *                            so they are exact even after a crash), cursor from/to, error
 *   keel_sync_dead_letters   rows that could not be written: key, reason, the raw row
 *   keel_sync_verifications  each `verify --against`: the rows missing, extra and changed, and the
 *                            match rate (the migration's shadow-phase guard reads the latest)
 *   keel_sync_control        (sync) → the emergency stop: who set it, why, when
 *   keel_sync_splits         a system's run split into key ranges (split.ts): its bounds, open or
 *                            done; at most one open per sync and system
 *   keel_sync_ranges         the split's ranges, each done or not (its cursor is in
 *                            keel_sync_cursors, named after the range)
 *
 * The listings' own checks (price ≥ 0, area > 0, a known status) are constraints, so a row that
 * slipped past the source's checks is refused by the database and dead-lettered, never stored.
 */
import { createHash } from 'node:crypto';
import type { Queryable, SyncDatabase } from './database.js';
import { LISTING_STATUSES } from './listing.js';

/** The advisory lock key of `name` (a stable 63-bit hash). */
export function lockKey(name: string): bigint {
  return createHash('sha256').update(`keel-sync:${name}`).digest().readBigInt64BE(0);
}

const SCHEMA_LOCK = lockKey('(schema)');

/** The sync's own tables, shared by every sync (each row carries its `sync_name`). */
export const SYNC_TABLES = [
  'keel_sync_runs',
  'keel_sync_cursors',
  'keel_sync_dead_letters',
  'keel_sync_verifications',
  'keel_sync_control',
  'keel_sync_splits',
  'keel_sync_ranges',
] as const;

function listingTable(table: string): string {
  const statuses = LISTING_STATUSES.map((status) => `'${status}'`).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${table} (
    property_number    text PRIMARY KEY,
    source_id          bigint NOT NULL,
    title              text NOT NULL,
    prefecture         text NOT NULL,
    city               text NOT NULL,
    address            text NOT NULL,
    price              bigint NOT NULL CHECK (price >= 0),
    area_sqm           numeric(10, 2) NOT NULL CHECK (area_sqm > 0),
    layout             text NOT NULL,
    status             text NOT NULL CHECK (status IN (${statuses})),
    source_updated_at  text NOT NULL,
    created_by_system  text NOT NULL,
    created_in_run     bigint NOT NULL,
    updated_by_system  text NOT NULL,
    updated_in_run     bigint NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now()
  )`;
}

const CONTROL_TABLES = [
  `CREATE TABLE IF NOT EXISTS keel_sync_runs (
    id              bigserial PRIMARY KEY,
    sync_name       text NOT NULL,
    system          text NOT NULL,
    status          text NOT NULL,
    dry_run         boolean NOT NULL DEFAULT false,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    rows_read       bigint NOT NULL DEFAULT 0,
    inserted        bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    unchanged       bigint NOT NULL DEFAULT 0,
    dead_lettered   bigint NOT NULL DEFAULT 0,
    skipped         bigint NOT NULL DEFAULT 0,
    batches         bigint NOT NULL DEFAULT 0,
    requests        bigint NOT NULL DEFAULT 0,
    failures        bigint NOT NULL DEFAULT 0,
    cursor_from     jsonb,
    cursor_to       jsonb,
    error           text
  )`,
  'CREATE INDEX IF NOT EXISTS keel_sync_runs_by_sync ON keel_sync_runs (sync_name, id DESC)',
  // Added after the table's first version: databases created by it gain the column.
  'ALTER TABLE keel_sync_runs ADD COLUMN IF NOT EXISTS skipped bigint NOT NULL DEFAULT 0',
  `CREATE TABLE IF NOT EXISTS keel_sync_cursors (
    sync_name   text NOT NULL,
    system      text NOT NULL,
    updated_at  text,
    id          bigint,
    run_id      bigint,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sync_name, system)
  )`,
  // Which key range of a split a run worked on (NULL: the system's own cursor).
  'ALTER TABLE keel_sync_runs ADD COLUMN IF NOT EXISTS range_key text',
  `CREATE TABLE IF NOT EXISTS keel_sync_splits (
    id           bigserial PRIMARY KEY,
    sync_name    text NOT NULL,
    system       text NOT NULL,
    lower_at     text,
    lower_id     bigint,
    upper_at     text NOT NULL,
    upper_id     bigint NOT NULL,
    status       text NOT NULL DEFAULT 'open',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
  )`,
  `CREATE UNIQUE INDEX IF NOT EXISTS keel_sync_splits_one_open ON keel_sync_splits (sync_name, system)
    WHERE status = 'open'`,
  `CREATE TABLE IF NOT EXISTS keel_sync_ranges (
    sync_name  text NOT NULL,
    split_id   bigint NOT NULL,
    range_no   int NOT NULL,
    lower_at   text,
    lower_id   bigint,
    upper_at   text NOT NULL,
    upper_id   bigint NOT NULL,
    done_at    timestamptz,
    PRIMARY KEY (split_id, range_no)
  )`,
  // The share of the listings owned all the way to the position (NULL: all of them).
  'ALTER TABLE keel_sync_cursors ADD COLUMN IF NOT EXISTS owned_share real',
  `CREATE TABLE IF NOT EXISTS keel_sync_dead_letters (
    id           bigserial PRIMARY KEY,
    sync_name    text NOT NULL,
    system       text NOT NULL,
    run_id       bigint NOT NULL,
    key          text NOT NULL,
    reason       text NOT NULL,
    raw          jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    redriven_at  timestamptz,
    redriven_in_run bigint
  )`,
  'CREATE INDEX IF NOT EXISTS keel_sync_dead_letters_open ON keel_sync_dead_letters (sync_name, id) WHERE redriven_at IS NULL',
  `CREATE TABLE IF NOT EXISTS keel_sync_verifications (
    id            bigserial PRIMARY KEY,
    sync_name     text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    table_name    text NOT NULL,
    against       text NOT NULL,
    rows          bigint NOT NULL,
    against_rows  bigint NOT NULL,
    missing       bigint NOT NULL,
    extra         bigint NOT NULL,
    changed       bigint NOT NULL,
    match_rate    float8 NOT NULL,
    truncated     boolean NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS keel_sync_control (
    sync_name       text PRIMARY KEY,
    emergency_stop  boolean NOT NULL DEFAULT false,
    stopped_by      text,
    reason          text,
    changed_at      timestamptz NOT NULL DEFAULT now()
  )`,
];

/** Creates the sync's tables where missing, and its control row. */
export async function ensureSchema(db: SyncDatabase, table: string, syncName: string): Promise<void> {
  // DDL takes exclusive locks even when it changes nothing (ALTER … ADD COLUMN IF NOT EXISTS), and
  // a runner starting beside others writing would deadlock with their batches: none when current.
  const current = await isSchemaCurrent(db, table);
  await db.transaction(async (tx: Queryable) => {
    if (!current) {
      if (db.kind === 'postgres')
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK.toString()]);
      await tx.query(listingTable(table));
      for (const statement of CONTROL_TABLES) await tx.query(statement);
    }
    await tx.query('INSERT INTO keel_sync_control (sync_name) VALUES ($1) ON CONFLICT DO NOTHING', [
      syncName,
    ]);
  });
}

/** Whether the listing table and the sync's tables exist with the newest columns of each. */
async function isSchemaCurrent(db: SyncDatabase, table: string): Promise<boolean> {
  const newest: [string, string][] = [
    [table, 'updated_in_run'],
    ['keel_sync_runs', 'range_key'],
    ['keel_sync_cursors', 'owned_share'],
    ['keel_sync_dead_letters', 'redriven_at'],
    ['keel_sync_verifications', 'match_rate'],
    ['keel_sync_control', 'emergency_stop'],
    ['keel_sync_splits', 'upper_id'],
    ['keel_sync_ranges', 'done_at'],
  ];
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.columns
     WHERE table_schema = current_schema() AND (table_name, column_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [newest.map(([name]) => name), newest.map(([, column]) => column)],
  );
  return rows[0]?.n === newest.length;
}

/** Drops a sync's listing table and deletes its rows from the sync's tables (tests, benchmarks). */
export async function removeSync(db: SyncDatabase, table: string, syncName: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  for (const control of SYNC_TABLES)
    await db.query(`DELETE FROM ${control} WHERE sync_name = $1`, [syncName]);
}
