/**
 * A sync under test: a fresh listings table and sync name in the real PostgreSQL (or an embedded
 * one in a temporary folder), the bundled sample listings origin read through the real
 * `@supabase/postgrest-js` client, and the engine and state manager over them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  type ListingsOrigin,
  type ListingsOriginOptions,
  startListingsOrigin,
} from '../../../src/sample-origin/listings/index.js';
import {
  embeddedDatabase,
  ensureSchema,
  postgresDatabase,
  RestListingSource,
  removeSync,
  type SyncDatabase,
  SyncEngine,
  type SyncEngineOptions,
  SyncStateManager,
} from '../../../src/sync/index.js';
import { databaseUrl } from '../../support/postgres.js';

export interface SyncUnderTest {
  db: SyncDatabase;
  origin: ListingsOrigin;
  engine: SyncEngine;
  state: SyncStateManager;
  table: string;
  syncName: string;
  /** Another engine over the same database and source (another runner, or the old system). */
  engineAs(overrides: Partial<SyncEngineOptions>): SyncEngine;
  close(): Promise<void>;
}

export interface SyncSetup {
  embedded?: boolean;
  origin?: ListingsOriginOptions;
  engine?: Partial<SyncEngineOptions>;
  /** Credentials sent to the origin. */
  headers?: Record<string, string>;
}

export const quietLog = pino({ level: 'silent' });

export async function syncUnderTest(setup: SyncSetup = {}): Promise<SyncUnderTest> {
  const suffix = randomBytes(4).toString('hex');
  const table = `listings_${suffix}`;
  const syncName = `sync_${suffix}`;
  const folder = setup.embedded === true ? mkdtempSync(join(tmpdir(), 'keel-sync-')) : undefined;
  const db =
    folder === undefined
      ? postgresDatabase({ url: new URL(await databaseUrl()), poolMin: 0, poolMax: 5 })
      : await embeddedDatabase(folder);
  await ensureSchema(db, table, syncName);
  const origin = await startListingsOrigin(setup.origin);
  const source = new RestListingSource({
    url: new URL(origin.restUrl),
    table: 'property_listings',
    headers: setup.headers ?? {},
    credentialSettings: ['SUPABASE_REST_HEADERS_APIKEY'],
    maxPageBytes: 32 * 1024 * 1024,
  });
  const base: SyncEngineOptions = {
    db,
    source,
    syncName,
    table,
    system: 'new',
    batchSize: 100,
    rateLimit: 0,
    breakerThreshold: 5,
    breakerTimeoutMs: 60_000,
    log: quietLog,
    ...setup.engine,
  };
  const engine = new SyncEngine(base);
  return {
    db,
    origin,
    engine,
    state: new SyncStateManager(db, { syncName, system: base.system, engine }),
    table,
    syncName,
    engineAs: (overrides) => new SyncEngine({ ...base, ...overrides }),
    async close() {
      await origin.close();
      if (folder === undefined) {
        await removeSync(db, table, syncName);
      }
      await db.close();
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** The table's listings as the source would serve them, keyed by property number. */
export async function storedListings(
  db: SyncDatabase,
  table: string,
): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT property_number, source_id, title, price, area_sqm::float8 AS area_sqm, status, source_updated_at FROM ${table}`,
  );
  return new Map(rows.map((row) => [String(row.property_number), row]));
}

/** Differences between the table and the origin's listings (missing, extra, differing). */
export async function differences(sync: SyncUnderTest): Promise<string[]> {
  const stored = await storedListings(sync.db, sync.table);
  const problems: string[] = [];
  for (const listing of sync.origin.catalog.all()) {
    const row = stored.get(listing.property_number);
    if (row === undefined) problems.push(`missing ${listing.property_number}`);
    else if (
      Number(row.source_id) !== listing.id ||
      row.title !== listing.title ||
      Number(row.price) !== listing.price ||
      Number(row.area_sqm) !== listing.area_sqm ||
      row.status !== listing.status ||
      row.source_updated_at !== listing.updated_at
    )
      problems.push(`differs ${listing.property_number}`);
    stored.delete(listing.property_number);
  }
  for (const key of stored.keys()) problems.push(`extra ${key}`);
  return problems;
}
