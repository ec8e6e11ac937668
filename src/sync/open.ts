/**
 * A sync put together from its configuration: the database (DATABASE_URL, else embedded
 * PostgreSQL in KEEL_SYNC_DATA_DIR), the source (KEEL_SYNC_SOURCE_DATABASE_URL's table, else
 * SUPABASE_REST_URL / SUPABASE_URL, else the bundled sample listings origin, started in this
 * process), its tables created when missing, the engine and the state manager. What `keel sync …`
 * and `keel sync serve` run; `close()` ends all of it.
 *
 * The migration's shadow phase (KEEL_SYNC_SHADOW_TABLE, with a `shadowPhase` test from the
 * caller, the flag at 0 %): `runOnce` then has the new system write every listing into the shadow
 * table instead, and verifies it against the real one, which the old system writes; the
 * verification's match rate is what the phase is promoted on. Its cursor is the system's own,
 * holding a share of 0 % of the real table: once the flag gives the new system a share, it reads
 * the source again from the beginning into the real table (engine.ts).
 */
import type { Logger } from 'pino';
import { type ListingsOrigin, startListingsOrigin } from '../sample-origin/listings/index.js';
import { restSourceConfig, type SyncConfig } from './config.js';
import { embeddedDatabase, postgresDatabase, type SyncDatabase } from './database.js';
import {
  type Ownership,
  type RunOptions,
  type RunResult,
  SyncEngine,
  type SyncEngineOptions,
} from './engine.js';
import { type MigrationRunParts, migrationRun, SHADOW_OWNERSHIP } from './migration-run.js';
import { PgTableListingSource } from './pg-source.js';
import { type ListingSource, RestListingSource } from './rest-source.js';
import { ensureSchema } from './schema.js';
import { SyncStateManager } from './state.js';

export interface OpenSync {
  config: SyncConfig;
  db: SyncDatabase;
  engine: SyncEngine;
  state: SyncStateManager;
  /** The bundled sample origin, when it is the source. */
  sample: ListingsOrigin | undefined;
  /** One run: into the shadow table and verified during the shadow phase, else into the table. */
  runOnce(options?: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}

/** Listings the bundled sample origin serves when it is the source. */
const SAMPLE_LISTINGS = 1_000;

export interface OpenSyncOptions {
  /** The listings this runner writes (the migration's flag, read by the caller). */
  ownership?: Ownership;
  /** Whether the migration is in its shadow phase (with KEEL_SYNC_SHADOW_TABLE). */
  shadowPhase?: () => boolean;
}

export async function openSync(
  config: SyncConfig,
  log: Logger,
  options: OpenSyncOptions = {},
): Promise<OpenSync> {
  const db =
    config.databaseUrl === undefined
      ? await embeddedDatabase(config.dataDir)
      : postgresDatabase({ url: config.databaseUrl, poolMin: config.poolMin, poolMax: config.poolMax });
  let sample: ListingsOrigin | undefined;
  let tableSource: PgTableListingSource | undefined;
  try {
    await ensureSchema(db, config.table, config.name);
    let source: ListingSource;
    if (config.sourceDatabaseUrl !== undefined) {
      tableSource = new PgTableListingSource({ url: config.sourceDatabaseUrl, table: config.sourceTable });
      source = tableSource;
    } else {
      let rest = restSourceConfig(config);
      if (rest === undefined) {
        sample = await startListingsOrigin({ listings: SAMPLE_LISTINGS });
        log.info(
          { source: sample.restUrl },
          'no SUPABASE_REST_URL: reading the bundled sample listings origin',
        );
        rest = { url: new URL(sample.restUrl), headers: {}, credentialSettings: [] };
      }
      source = new RestListingSource({ ...rest, table: config.resource, maxPageBytes: config.maxPageBytes });
    }
    const engineOptions: SyncEngineOptions = {
      db,
      source,
      syncName: config.name,
      table: config.table,
      system: config.system,
      batchSize: config.batchSize,
      rateLimit: config.rateLimit,
      breakerThreshold: config.breakerThreshold,
      breakerTimeoutMs: config.breakerTimeout,
      log,
      ownership: options.ownership,
    };
    const engine = new SyncEngine(engineOptions);
    const state = new SyncStateManager(db, { syncName: config.name, system: config.system, engine });
    const { shadowTable } = config;
    const { shadowPhase } = options;
    let shadow: MigrationRunParts['shadow'];
    if (shadowTable !== undefined && shadowPhase !== undefined) {
      await ensureSchema(db, shadowTable, config.name);
      const shadowEngine = new SyncEngine({
        ...engineOptions,
        table: shadowTable,
        ownership: SHADOW_OWNERSHIP,
      });
      shadow = { table: shadowTable, engine: shadowEngine, isOn: shadowPhase };
    }
    const parts = { db, state, log, syncName: config.name, table: config.table, engine, shadow };
    return {
      config,
      db,
      engine,
      state,
      sample,
      runOnce: (runOptions) => migrationRun(parts, runOptions),
      async close() {
        await sample?.close();
        await tableSource?.close();
        await db.close();
      },
    };
  } catch (error) {
    await sample?.close();
    await tableSource?.close();
    await db.close();
    throw error;
  }
}
