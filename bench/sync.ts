/**
 * `npm run bench:sync`: the property-listing sync's figures, each against its anchor measured in
 * the same run, on the real PostgreSQL (DATABASE_URL, else 127.0.0.1:5432/test, else a throwaway
 * cluster) and the bundled sample listings origin read through `@supabase/postgrest-js`:
 *
 *   1. 1,000 listings with the default settings (batches of 100, 10 requests a second): the whole
 *      run, against the deployment guide's target of 5 minutes per 1,000 and this project's of 2 s.
 *   2. The sink's write rate, BENCH_SYNC_ROWS rows (default 100,000) already read, in batches of
 *      SYNC_BATCH_SIZE and of 1,000, each batch a transaction with its cursor and run counts,
 *      against COPY of the same rows into a table of the same shape in one transaction (the
 *      fastest way into PostgreSQL). Target: ≥ 0.5× COPY at batches of 1,000. Rounds alternate.
 *   3. The whole run over the same number of listings with the rate limit off (source and sink),
 *      for context.
 *
 * Exit code 1 when a target fails.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { startListingsOrigin } from '../src/sample-origin/listings/index.js';
import {
  checkListing,
  ensureSchema,
  LISTING_COLUMNS,
  type ListingRow,
  ListingSink,
  postgresDatabase,
  RestListingSource,
  type SyncDatabase,
  SyncEngine,
} from '../src/sync/index.js';
import { databaseUrl } from '../test/support/postgres.js';
import { median } from './lib/harness.js';

const ROWS = Number(process.env.BENCH_SYNC_ROWS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DEFAULT_BATCH = 100;
const LARGE_BATCH = 1_000;
const TARGET_1000_MS = 2_000;
const GUIDE_1000_MS = 5 * 60_000;
const TARGET_COPY_RATIO = 0.5;
const log = pino({ level: 'silent' });

interface Tables {
  table: string;
  syncName: string;
}

function freshNames(): Tables {
  const suffix = randomBytes(4).toString('hex');
  return { table: `bench_listings_${suffix}`, syncName: `bench_${suffix}` };
}

async function dropTables(db: SyncDatabase, names: Tables): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${names.table}`);
  for (const control of [
    'keel_sync_runs',
    'keel_sync_cursors',
    'keel_sync_dead_letters',
    'keel_sync_control',
  ])
    await db.query(`DELETE FROM ${control} WHERE sync_name = $1`, [names.syncName]);
}

/** The whole run of `listings` listings: its duration in ms. */
async function wholeRun(
  db: SyncDatabase,
  listings: number,
  batchSize: number,
  rateLimit: number,
): Promise<number> {
  const origin = await startListingsOrigin({ listings, seed: 7 });
  const names = freshNames();
  try {
    await ensureSchema(db, names.table, names.syncName);
    const engine = new SyncEngine({
      db,
      source: new RestListingSource({
        url: new URL(origin.restUrl),
        table: 'property_listings',
        headers: {},
        credentialSettings: [],
      }),
      ...names,
      system: 'new',
      batchSize,
      rateLimit,
      breakerThreshold: 5,
      breakerTimeoutMs: 60_000,
      log,
    });
    const result = await engine.run();
    if (result.status !== 'completed' || result.counts.inserted !== listings)
      throw new Error(`the run ${result.status} with ${result.counts.inserted} of ${listings} inserted`);
    return result.durationMs;
  } finally {
    await dropTables(db, names);
    await origin.close();
  }
}

/** The sink writing `rows` in batches of `batchSize`: rows a second. */
async function sinkRate(
  db: SyncDatabase,
  raws: Record<string, unknown>[],
  batchSize: number,
): Promise<number> {
  const names = freshNames();
  try {
    await ensureSchema(db, names.table, names.syncName);
    const sink = new ListingSink(db, { ...names, system: 'new' });
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO keel_sync_runs (sync_name, system, status) VALUES ($1, 'new', 'running') RETURNING id`,
      [names.syncName],
    );
    const runId = Number(rows[0]?.id);
    await sink.claimCursor(runId);
    const started = performance.now();
    for (let at = 0; at < raws.length; at += batchSize) {
      const page = raws.slice(at, at + batchSize);
      const last = page.at(-1) as { updated_at: string; id: number };
      await sink.write({
        runId,
        checked: page.map((raw) => ({ checked: checkListing(raw), raw })),
        cursor: { updatedAt: last.updated_at, id: last.id },
        requests: 1,
        failures: 0,
      });
    }
    return (raws.length * 1_000) / (performance.now() - started);
  } finally {
    await dropTables(db, names);
  }
}

/** COPY of the same rows (as the sink would store them) into a table of the same shape: rows a second. */
async function copyRate(url: string, db: SyncDatabase, rows: ListingRow[]): Promise<number> {
  const names = freshNames();
  await ensureSchema(db, names.table, names.syncName);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = [
      ...LISTING_COLUMNS,
      'created_by_system',
      'created_in_run',
      'updated_by_system',
      'updated_in_run',
    ];
    const lines = rows.map(
      (row) =>
        `${[...LISTING_COLUMNS.map((column) => csv(row[column])), 'new', '1', 'new', '1'].join(',')}\n`,
    );
    const started = performance.now();
    await client.query('BEGIN');
    await pipeline(
      Readable.from(lines),
      client.query(copyFrom(`COPY ${names.table} (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv)`)),
    );
    await client.query('COMMIT');
    return (rows.length * 1_000) / (performance.now() - started);
  } finally {
    await client.end();
    await dropTables(db, names);
  }
}

function csv(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function main(): Promise<boolean> {
  const url = await databaseUrl();
  const db = postgresDatabase({ url: new URL(url), poolMin: 0, poolMax: 10 });
  let pass = true;
  try {
    console.log(
      `Keel sync benchmark — Node ${process.version}; PostgreSQL at ${db.address}; ${ROWS.toLocaleString('en')} rows, ${ROUNDS} rounds\n`,
    );

    const runs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) runs.push(await wholeRun(db, 1_000, DEFAULT_BATCH, 10));
    const thousand = median(runs);
    const thousandPass = thousand < TARGET_1000_MS;
    pass &&= thousandPass;
    console.log(
      `1. 1,000 listings, batches of 100 at 10 requests/s: ${(thousand / 1000).toFixed(2)} s (median of ${ROUNDS}); ` +
        `${(GUIDE_1000_MS / thousand).toFixed(0)}× faster than the guide's 5-minute target; ${thousandPass ? 'PASS' : 'FAIL'} < 2 s`,
    );

    const origin = await startListingsOrigin({ listings: ROWS, seed: 11 });
    const raws = origin.catalog.all().map((listing) => ({ ...listing })) as unknown as Record<
      string,
      unknown
    >[];
    await origin.close();
    const stored = raws.map((raw) => {
      const checked = checkListing(raw);
      if (!checked.ok) throw new Error(`generated listing refused: ${checked.reason}`);
      return checked.row;
    });
    const rates = { copy: [] as number[], small: [] as number[], large: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      rates.copy.push(await copyRate(url, db, stored));
      rates.large.push(await sinkRate(db, raws, LARGE_BATCH));
      rates.small.push(await sinkRate(db, raws, DEFAULT_BATCH));
    }
    const copy = median(rates.copy);
    const rows: Record<string, Record<string, string>> = {};
    rows.COPY = { 'rows/s': Math.round(copy).toLocaleString('en'), '÷ COPY': '1.00' };
    for (const [name, list] of [
      [`sink, batches of ${LARGE_BATCH}`, rates.large],
      [`sink, batches of ${DEFAULT_BATCH}`, rates.small],
    ] as const)
      rows[name] = {
        'rows/s': Math.round(median(list)).toLocaleString('en'),
        '÷ COPY': (median(list) / copy).toFixed(2),
      };
    console.log(
      `\n2. writing ${ROWS.toLocaleString('en')} rows already read (median of ${ROUNDS} alternating rounds):`,
    );
    console.table(rows);
    const copyPass = median(rates.large) / copy >= TARGET_COPY_RATIO;
    pass &&= copyPass;
    console.log(
      `${copyPass ? 'PASS' : 'FAIL'}  sink at batches of ${LARGE_BATCH} ÷ COPY ≥ ${TARGET_COPY_RATIO}`,
    );

    const whole = await wholeRun(db, ROWS, LARGE_BATCH, 0);
    console.log(
      `\n3. the whole run of ${ROWS.toLocaleString('en')} listings, batches of ${LARGE_BATCH}, no rate limit: ${(whole / 1000).toFixed(2)} s ` +
        `(${Math.round((ROWS * 1_000) / whole).toLocaleString('en')} rows/s; ${((ROWS * 1_000) / whole / copy).toFixed(2)}× COPY)`,
    );
  } finally {
    await db.close();
  }
  return pass;
}

process.exitCode = (await main()) ? 0 : 1;
