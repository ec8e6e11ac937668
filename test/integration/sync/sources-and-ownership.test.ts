import { afterEach, describe, expect, it } from 'vitest';
import { isInRollout } from '../../../src/rollout/index.js';
import { countBySystem, type Ownership, PgTableListingSource } from '../../../src/sync/index.js';
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

/** A flag at `weight` % sharing the listings out: the new system owns the keys inside it. */
function sharedFlag(weight: number) {
  const flag = {
    weight,
    of: (system: 'new' | 'old'): Ownership => ({
      owns: (key) => isInRollout(key, 'sync.rest', flag.weight) === (system === 'new'),
      share: () => (system === 'new' ? flag.weight : 100 - flag.weight),
    }),
  };
  return flag;
}

describe('listings shared out between two systems by a flag', () => {
  it('has each system write only its share; together they write every listing once', async () => {
    sync = await syncUnderTest({ origin: { listings: 2_000 } });
    const flag = sharedFlag(30);
    const newSystem = sync.engineAs({ system: 'new', ownership: flag.of('new') });
    const oldSystem = sync.engineAs({ system: 'old', ownership: flag.of('old') });
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

  it('loses no listing when the flag moves between the two systems’ reads', async () => {
    sync = await syncUnderTest({ origin: { listings: 1_000 } });
    const flag = sharedFlag(10);
    const newSystem = sync.engineAs({ system: 'new', ownership: flag.of('new') });
    const oldSystem = sync.engineAs({ system: 'old', ownership: flag.of('old') });
    await newSystem.run();
    await oldSystem.run();
    expect(await differences(sync)).toEqual([]);
    // Every listing changes; the new system reads the changes at 10 %, skipping 90 % of them…
    for (const listing of [...sync.origin.catalog.all()])
      sync.origin.catalog.update(listing.property_number, { price: listing.price + 1 });
    await newSystem.run();
    // …then the flag moves to 50 % and the old system reads them, skipping the half now the new one's.
    flag.weight = 50;
    await oldSystem.run();
    const missed = await differences(sync);
    // The listings between 10 and 50 % were skipped by both.
    expect(missed.length).toBeGreaterThan(300);
    // The new system's share grew: its next run reads every listing again and writes those.
    const catchUp = await newSystem.run();
    expect(catchUp.counts.read).toBe(1_000);
    expect(catchUp.counts.updated).toBe(missed.length);
    expect(await differences(sync)).toEqual([]);
    expect((await sync.state.getCurrentState()).cursors.find((c) => c.system === 'new')?.ownedShare).toBe(50);
    // Back to 10 %: a share that shrinks needs no catch-up; the old one's grows, it reads again.
    flag.weight = 10;
    expect((await newSystem.run()).counts.read).toBe(0);
    const oldCatchUp = await oldSystem.run();
    expect(oldCatchUp.counts.read).toBe(1_000);
    expect(oldCatchUp.counts.inserted + oldCatchUp.counts.updated).toBe(0);
    expect(await differences(sync)).toEqual([]);
  });
});
