import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors.js';
import {
  backupSync,
  countBySystem,
  diffTables,
  findDuplicates,
  LISTING_COLUMNS,
  removeDuplicates,
  rollbackSync,
  verifySync,
} from '../../../src/sync/index.js';
import { databaseUrl } from '../../support/postgres.js';
import { differences, type SyncUnderTest, syncUnderTest } from './support.js';

let sync: SyncUnderTest | undefined;
const extraTables: string[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const table of extraTables.splice(0)) await sync?.db.query(`DROP TABLE IF EXISTS ${table}`);
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  await sync?.close();
  sync = undefined;
});

/** A copy of the sync's table, with its primary key. */
async function copyOf(test: SyncUnderTest, name: string): Promise<string> {
  const table = `${test.table}_${name}`;
  extraTables.push(table);
  await test.db.query(`CREATE TABLE ${table} (LIKE ${test.table} INCLUDING ALL)`);
  await test.db.query(`INSERT INTO ${table} SELECT * FROM ${test.table}`);
  return table;
}

describe('comparing two listing tables by checksum ranges', () => {
  it('finds exactly the rows missing, extra and changed, field by field', async () => {
    sync = await syncUnderTest({ origin: { listings: 5_000 } });
    await sync.engine.run();
    const expected = await copyOf(sync, 'expected');
    const keys = sync.origin.catalog
      .all()
      .map((listing) => listing.property_number)
      .sort();
    const [changedA, changedB, goneA, goneB] = [keys[17], keys[2_500], keys[0], keys[4_999]] as string[];
    await sync.db.query(`UPDATE ${sync.table} SET price = price + 1 WHERE property_number = $1`, [changedA]);
    await sync.db.query(`UPDATE ${sync.table} SET status = 'sold', title = 'x' WHERE property_number = $1`, [
      changedB,
    ]);
    await sync.db.query(`DELETE FROM ${sync.table} WHERE property_number = ANY($1)`, [[goneA, goneB]]);
    await sync.db.query(`INSERT INTO ${sync.table} SELECT 'ZZ-EXTRA', source_id, title, prefecture, city, address, price, area_sqm,
      layout, status, source_updated_at, created_by_system, created_in_run, updated_by_system, updated_in_run, synced_at
      FROM ${sync.table} LIMIT 1`);

    const diff = await diffTables(sync.db, {
      expected,
      actual: sync.table,
      key: 'property_number',
      columns: LISTING_COLUMNS.filter((column) => column !== 'property_number'),
    });
    const byKey = new Map(diff.differences.map((difference) => [difference.key, difference]));
    expect(diff.differences).toHaveLength(5);
    expect(byKey.get(changedA)).toMatchObject({
      kind: 'changed',
      columns: { price: [expect.anything(), expect.anything()] },
    });
    expect(Object.keys(byKey.get(changedB)?.columns ?? {}).sort()).toEqual(['status', 'title']);
    expect(byKey.get(goneA)?.kind).toBe('missing');
    expect(byKey.get(goneB)?.kind).toBe('missing');
    expect(byKey.get('ZZ-EXTRA')?.kind).toBe('extra');
  });
});

describe('keel sync verify', () => {
  it('reports duplicates, rows by system and differences, then re-syncs them from the source', async () => {
    sync = await syncUnderTest({ origin: { listings: 1_000 } });
    await sync.engine.run();
    const expected = await copyOf(sync, 'old');
    const keys = sync.origin.catalog.all().map((listing) => listing.property_number);
    await sync.db.query(`UPDATE ${sync.table} SET price = 1 WHERE property_number = ANY($1)`, [
      keys.slice(0, 4),
    ]);
    await sync.db.query(`DELETE FROM ${sync.table} WHERE property_number = ANY($1)`, [keys.slice(10, 12)]);
    const reportDir = mkdtempSync(join(tmpdir(), 'keel-verify-'));
    folders.push(reportDir);

    const report = await verifySync(sync.db, sync.state, { table: sync.table, against: expected, reportDir });
    expect(report.clean).toBe(false);
    expect(report.duplicates).toEqual([]);
    expect(report.bySystem).toEqual([{ system: 'new', created: 998, lastChanged: 998 }]);
    expect(report.comparison).toMatchObject({ missing: 2, extra: 0, changed: 4 });
    expect(report.file !== undefined && existsSync(report.file)).toBe(true);

    const resynced = await sync.engine.resync(
      report.comparison?.differences.map((difference) => difference.key) ?? [],
    );
    expect(resynced.counts).toMatchObject({ read: 6, inserted: 2, updated: 4 });
    expect(resynced.notInSource).toEqual([]);
    const again = await verifySync(sync.db, sync.state, { table: sync.table, against: expected });
    expect(again.clean).toBe(true);
    expect(await differences(sync)).toEqual([]);
  });

  it('finds and removes duplicates in a table without a key, keeping the newest', async () => {
    sync = await syncUnderTest({ origin: { listings: 100 } });
    await sync.engine.run();
    const legacy = `${sync.table}_legacy`;
    extraTables.push(legacy);
    await sync.db.query(`CREATE TABLE ${legacy} (LIKE ${sync.table})`);
    await sync.db.query(`INSERT INTO ${legacy} SELECT * FROM ${sync.table}`);
    await sync.db.query(
      `INSERT INTO ${legacy} SELECT property_number, source_id, title, prefecture, city, address, price + 1, area_sqm, layout,
         status, '2000-01-01T00:00:00.000Z', created_by_system, created_in_run, updated_by_system, updated_in_run, synced_at
       FROM ${sync.table} ORDER BY property_number LIMIT 3`,
    );
    expect((await findDuplicates(sync.db, legacy)).map((duplicate) => duplicate.count)).toEqual([2, 2, 2]);
    expect(await removeDuplicates(sync.db, legacy, true)).toBe(3);
    expect(await removeDuplicates(sync.db, legacy)).toBe(3);
    expect(await findDuplicates(sync.db, legacy)).toEqual([]);
    const { rows } = await sync.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${legacy} WHERE source_updated_at = '2000-01-01T00:00:00.000Z'`,
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });
});

describe('keel sync rollback', () => {
  it('deletes what the new system created, hands the rest back to the old one, and the old one repairs it', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 } });
    const old = sync.engineAs({ system: 'old' });
    await old.run();
    const catalog = sync.origin.catalog;
    catalog.add(50);
    for (const listing of catalog.all().slice(0, 10))
      catalog.update(listing.property_number, { price: 7_770_000 });
    await sync.engine.run();
    expect(await countBySystem(sync.db, sync.table)).toEqual([
      { system: 'new', created: 50, lastChanged: 60 },
      { system: 'old', created: 300, lastChanged: 290 },
    ]);

    const base = { table: sync.table, syncName: sync.syncName, system: 'new', restore: 'old' };
    const steps: string[] = [];
    const dry = await rollbackSync(sync.db, {
      ...base,
      dryRun: true,
      step: (message) => steps.push(message),
    });
    expect(dry).toMatchObject({ dryRun: true, runsUndone: 1, rowsDeleted: 50, rowsLeftForResync: 10 });
    expect(steps.some((message) => message.includes('backup check skipped'))).toBe(true);
    expect((await countBySystem(sync.db, sync.table))[0]).toMatchObject({ system: 'new', created: 50 });

    const done = await rollbackSync(sync.db, base);
    expect(done).toMatchObject({ dryRun: false, rowsDeleted: 50, duplicates: 0 });
    expect(done.bySystem).toEqual([
      { system: 'new', created: 0, lastChanged: 10 },
      { system: 'old', created: 300, lastChanged: 290 },
    ]);
    const state = await sync.state.getCurrentState();
    expect(state.cursors.map((cursor) => cursor.system)).toEqual(['old']);

    // The old system reads again from before the new system's first change: the 50 and the 10.
    const repaired = await old.run();
    expect(repaired.counts).toMatchObject({ inserted: 50, updated: 0 });
    expect(await differences(sync)).toEqual([]);
    // The 10 the new system changed hold the source's values already: they keep it as last writer.
    expect(await countBySystem(sync.db, sync.table)).toEqual([
      { system: 'new', created: 0, lastChanged: 10 },
      { system: 'old', created: 350, lastChanged: 340 },
    ]);
    expect((await sync.state.history(5)).map((run) => run.status)).toContain('rolled-back');
  });

  it('refuses without a recent backup, and accepts the one keel sync backup writes', async () => {
    sync = await syncUnderTest({ origin: { listings: 20 } });
    await sync.engine.run();
    const backupDir = mkdtempSync(join(tmpdir(), 'keel-backup-'));
    folders.push(backupDir);
    const base = { table: sync.table, syncName: sync.syncName, system: 'new', restore: 'old', backupDir };
    const refused = await rollbackSync(sync.db, base).catch((error: unknown) => error);
    expect(isKeelError(refused, 'SYNC_NO_BACKUP')).toBe(true);

    const file = await backupSync({
      databaseUrl: new URL(await databaseUrl()),
      table: sync.table,
      folder: backupDir,
    });
    expect(file).toMatch(/property-sync-.*\.sql\.gz$/);
    const done = await rollbackSync(sync.db, base);
    expect(done).toMatchObject({ backup: file, rowsDeleted: 20 });
  });

  it('refuses while a runner of the rolled-back system is writing', async () => {
    sync = await syncUnderTest({ origin: { listings: 500 }, engine: { rateLimit: 2 } });
    const running = sync.engine.run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await rollbackSync(sync.db, {
      table: sync.table,
      syncName: sync.syncName,
      system: 'new',
      restore: 'old',
    }).catch((error: unknown) => error);
    expect(isKeelError(refused, 'SYNC_LOCKED')).toBe(true);
    await running;
  });
});
