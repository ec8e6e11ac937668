/**
 * The database the sync writes to, behind one small interface so the same SQL runs on a real
 * PostgreSQL (`pg`, a pool sized by DB_POOL_MIN / DB_POOL_MAX) and on the embedded one (PGlite in
 * a data folder, when DATABASE_URL is not set).
 *
 * `transaction` runs its work on one connection between BEGIN and COMMIT, ROLLBACK on any error.
 * `lockSession` takes a session-level advisory lock on a connection of its own, kept until
 * released or until the connection drops (a killed runner's lock goes with its connection): one
 * runner at a time per sync. PGlite is one connection in this process, so there its lock is a
 * flag in this process (another process cannot open the same data folder anyway).
 *
 * Errors of the database are rethrown as they are (their SQLSTATE `code` tells a constraint from
 * an outage, pg-sink.ts); the URL shown in messages never carries the password.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface Queryable {
  query<Row = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: Row[]; rowCount: number }>;
}

export interface SyncDatabase extends Queryable {
  /** `postgres` (DATABASE_URL) or `embedded` (PGlite). */
  readonly kind: 'postgres' | 'embedded';
  /** Where it is, for messages: host, port and database, or the data folder. */
  readonly address: string;
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Takes the advisory lock `key` if free: its release, or undefined when another session holds it. */
  lockSession(key: bigint): Promise<(() => Promise<void>) | undefined>;
  /** Pool figures (the troubleshooting guide's totalCount / idleCount / waitingCount). */
  poolFigures(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: URL;
  poolMin: number;
  poolMax: number;
}

/** A PostgreSQL through a `pg` pool. */
export function postgresDatabase(options: PostgresOptions): SyncDatabase {
  const pool = new pg.Pool({
    connectionString: options.url.href,
    min: options.poolMin,
    max: options.poolMax,
    application_name: 'keel-sync',
  });
  // An idle client's connection dropping must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const { hostname, port, pathname } = options.url;
  return {
    kind: 'postgres',
    address: `${hostname}:${port || 5432}${pathname}`,
    async query<Row>(text: string, params?: unknown[]) {
      const result = await pool.query(text, params);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work({
          async query<Row>(text: string, params?: unknown[]) {
            const answer = await client.query(text, params);
            return { rows: answer.rows as Row[], rowCount: answer.rowCount ?? 0 };
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async lockSession(key: bigint) {
      const client = new pg.Client({
        connectionString: options.url.href,
        application_name: 'keel-sync-lock',
      });
      client.on('error', () => {});
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        key.toString(),
      ]);
      if (rows[0]?.locked !== true) {
        await client.end();
        return undefined;
      }
      return async () => {
        await client.end().catch(() => {});
      };
    },
    poolFigures: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/** PostgreSQL embedded in this process (PGlite), its files in `folder`. */
export async function embeddedDatabase(folder: string): Promise<SyncDatabase> {
  mkdirSync(folder, { recursive: true });
  const db = await PGlite.create(folder);
  const locks = new Set<bigint>();
  const queryOn =
    (target: Pick<PGlite, 'query'>) =>
    async <Row>(text: string, params?: unknown[]) => {
      const result = await target.query<Row>(text, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    };
  return {
    kind: 'embedded',
    address: folder,
    query: queryOn(db),
    transaction: (work) => db.transaction((tx) => work({ query: queryOn(tx) })),
    async lockSession(key: bigint) {
      if (locks.has(key)) return undefined;
      locks.add(key);
      return async () => {
        locks.delete(key);
      };
    },
    poolFigures: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => db.close(),
  };
}

/**
 * Whether a SQLSTATE (or a Node error code) says the database could not be reached, rather than
 * that it refused a statement: class 08 (connection exception), 57P (the server shutting down),
 * or a system error such as ECONNREFUSED.
 */
export function isConnectionState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('57P') || /^E[A-Z]+$/.test(code);
}
