/**
 * A PostgreSQL table as the sync's source: the old system's listings, read in the same
 * (updated_at, id) keyset order as the REST source, so the old system's table can be synced into
 * the new one (or compared with it) by the same engine, with the same cursor, batches and checks.
 *
 * The table needs the listing's columns (id, property_number, title, prefecture, city, address,
 * price, area_sqm, layout, status, updated_at). Rows come out as the REST API would send them:
 * numbers as numbers, `updated_at` as ISO text with its microseconds (a JavaScript Date would drop
 * them, and two rows a microsecond apart would then compare equal at a page's edge).
 *
 * Failures are classified as the REST source's are: a wrong password or a missing right is
 * SYNC_AUTH_FAILED naming KEEL_SYNC_SOURCE_DATABASE_URL; a connection that fails is
 * SOURCE_UNAVAILABLE (transient, retried); anything else (a missing column) is
 * SOURCE_INVALID_RESPONSE.
 */
import pg from 'pg';
import { isConnectionState } from './database.js';
import type { Cursor } from './pg-sink.js';
import { type ListingSource, SourceError } from './rest-source.js';

const SETTING = 'KEEL_SYNC_SOURCE_DATABASE_URL';
/** SQLSTATEs of refused credentials or rights. */
const AUTH_FAILURES = new Set(['28P01', '28000', '42501']);

export interface PgTableSourceOptions {
  url: URL;
  table: string;
}

export class PgTableListingSource implements ListingSource {
  readonly description: string;
  private readonly pool: pg.Pool;
  private readonly columns: string;

  constructor(private readonly options: PgTableSourceOptions) {
    const { hostname, port, pathname } = options.url;
    this.description = `postgresql://${hostname}:${port || 5432}${pathname} table ${options.table}`;
    this.pool = new pg.Pool({
      connectionString: options.url.href,
      max: 2,
      application_name: 'keel-sync-source',
    });
    this.pool.on('error', () => {});
    this.columns = `id::float8 AS id, property_number, title, prefecture, city, address, price::float8 AS price,
      area_sqm::float8 AS area_sqm, layout, status,
      to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`;
  }

  async page(after: Cursor | undefined, limit: number): Promise<unknown[]> {
    return this.query(
      after === undefined
        ? `SELECT ${this.columns} FROM ${this.options.table} ORDER BY updated_at, id LIMIT $1`
        : `SELECT ${this.columns} FROM ${this.options.table}
           WHERE (updated_at, id) > ($2::timestamptz, $3) ORDER BY updated_at, id LIMIT $1`,
      after === undefined ? [limit] : [limit, after.updatedAt, after.id],
    );
  }

  async count(after: Cursor | undefined): Promise<number> {
    const rows = (await this.query(
      after === undefined
        ? `SELECT count(*)::float8 AS n FROM ${this.options.table}`
        : `SELECT count(*)::float8 AS n FROM ${this.options.table} WHERE (updated_at, id) > ($1::timestamptz, $2)`,
      after === undefined ? [] : [after.updatedAt, after.id],
    )) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  async positionAt(after: Cursor | undefined, offset: number): Promise<Cursor | undefined> {
    const rows = (await this.query(
      `SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at, id::float8 AS id
       FROM ${this.options.table}
       ${after === undefined ? '' : 'WHERE (updated_at, id) > ($2::timestamptz, $3)'}
       ORDER BY updated_at, id OFFSET $1 LIMIT 1`,
      after === undefined ? [offset] : [offset, after.updatedAt, after.id],
    )) as { updated_at: string; id: number }[];
    const row = rows[0];
    return row === undefined ? undefined : { updatedAt: row.updated_at, id: row.id };
  }

  byKeys(keys: string[]): Promise<unknown[]> {
    return this.query(
      `SELECT ${this.columns} FROM ${this.options.table} WHERE property_number = ANY($1::text[])`,
      [keys],
    );
  }

  async validateAuth(): Promise<void> {
    await this.query(`SELECT 1 FROM ${this.options.table} LIMIT 1`, []);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async query(text: string, params: unknown[]): Promise<unknown[]> {
    try {
      return (await this.pool.query(text, params)).rows;
    } catch (error) {
      throw this.failure(error);
    }
  }

  private failure(error: unknown): SourceError {
    const code = (error as { code?: unknown }).code;
    const message = (error as Error).message;
    if (typeof code === 'string' && AUTH_FAILURES.has(code))
      return new SourceError(
        'SYNC_AUTH_FAILED',
        `${this.description}: ${message}: check ${SETTING}`,
        undefined,
        undefined,
        { cause: error },
      );
    if (typeof code !== 'string' || isConnectionState(code))
      return new SourceError(
        'SOURCE_UNAVAILABLE',
        `${this.description} did not answer (${message})`,
        undefined,
        undefined,
        { cause: error },
      );
    return new SourceError(
      'SOURCE_INVALID_RESPONSE',
      `${this.description}: ${message}`,
      undefined,
      undefined,
      { cause: error },
    );
  }
}
