import { afterEach, describe, expect, it } from 'vitest';
import { isInRollout } from '../../../src/rollout/index.js';
import { countBySystem, PgTableListingSource } from '../../../src/sync/index.js';
import { databaseUrl } from '../../support/postgres.js';
import { differences, type SyncUnderTest, syncUnderTest } from './support.js';

let sync: SyncUnderTest | undefined;
const sources: PgTableListingSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  if (sync !== undefined) await sync.db.query(`DROP TABLE IF EXISTS ${sync.table}_old_system`);
  await sync?.close();
  sync = undefined;
});

describe('the old system’s PostgreSQL table as the source', () => {
  it('syncs it in keyset order, microseconds kept, and resumes where it stopped', async () => {
    sync = await syncUnderTest({ origin: { listings: 700 } });
    const old = `${sync.table}_old_system`;
    await sync.db.query(
      `CREATE TABLE ${old} (id bigint PRIMARY KEY, property_number text, title text, prefecture text, city text,
         address text, price bigint, area_sqm numeric, layout text, status text, updated_at timestamptz)`,
    );
    const listings = sync.origin.catalog.all();
    await sync.db.query(`INSERT INTO ${old} SELECT * FROM json_populate_recordset(null::${old}, $1::json)`, [
      JSON.stringify(listings),
    ]);
    // Two listings a microsecond apart: a page may end between them.
    await sync.db.query(`UPDATE ${old} SET updated_at = '2026-11-02T00:00:00.000001Z' WHERE id = $1`, [
      listings[0]?.id,
    ]);
    await sync.db.query(`UPDATE ${old} SET updated_at = '2026-11-02T00:00:00.000002Z' WHERE id = $1`, [
      listings[1]?.id,
    ]);
    const source = new PgTableListingSource({ url: new URL(await databaseUrl()), table: old });
    sources.push(source);
    const engine = sync.engineAs({ source, system: 'old', batchSize: 100 });

    const first = await engine.run({ limit: 350 });
    expect(first.counts).toMatchObject({ read: 350, inserted: 350 });
    const rest = await engine.run();
    expect(rest.counts).toMatchObject({ read: 350, inserted: 350, deadLettered: 0 });
    const { rows } = await sync.db.query<{ n: string; micro: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE source_updated_at LIKE '%.000002Z') AS micro FROM ${sync.table}`,
    );
    expect(Number(rows[0]?.n)).toBe(700);
    expect(Number(rows[0]?.micro)).toBe(1);
    expect((await engine.run()).counts.read).toBe(0);
  });

  it('names KEEL_SYNC_SOURCE_DATABASE_URL when the table cannot be read', async () => {
    sync = await syncUnderTest({ origin: { listings: 1 } });
    const url = new URL(await databaseUrl());
    url.username = 'no_such_role_for_keel';
    const source = new PgTableListingSource({ url, table: 'property_listings' });
    sources.push(source);
    const failure = await source.validateAuth().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'SYNC_AUTH_FAILED' });
    expect((failure as Error).message).toMatch(/KEEL_SYNC_SOURCE_DATABASE_URL/);
  });
});

describe('listings shared out between two systems by a flag', () => {
  it('has each system write only its share; together they write every listing once', async () => {
    sync = await syncUnderTest({ origin: { listings: 2_000 } });
    const inNew = (key: string) => isInRollout(key, 'sync.rest', 30);
    const newSystem = sync.engineAs({ system: 'new', owns: inNew });
    const oldSystem = sync.engineAs({ system: 'old', owns: (key) => !inNew(key) });
    const [byNew, byOld] = [await newSystem.run(), await oldSystem.run()];
    expect(byNew.counts.read).toBe(2_000);
    expect(byNew.counts.inserted + byNew.counts.skipped).toBe(2_000);
    expect(byNew.counts.inserted).toBe(byOld.counts.skipped);
    // About 30 % of the listings, as the bucketing decides.
    expect(byNew.counts.inserted / 2_000).toBeGreaterThan(0.25);
    expect(byNew.counts.inserted / 2_000).toBeLessThan(0.35);
    expect(await differences(sync)).toEqual([]);
    const bySystem = await countBySystem(sync.db, sync.table);
    expect(bySystem.find((entry) => entry.system === 'new')?.created).toBe(byNew.counts.inserted);
    expect(bySystem.find((entry) => entry.system === 'old')?.created).toBe(byOld.counts.inserted);
    const history = await sync.state.history(2);
    expect(history.map((run) => run.skipped).sort((a, b) => a - b)).toEqual(
      [byOld.counts.skipped, byNew.counts.skipped].sort((a, b) => a - b),
    );
  });
});
