import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Rollout } from '../../../src/rollout/index.js';
import { ensureSchema, SyncGuardFigures, verifySync } from '../../../src/sync/index.js';
import { type SyncUnderTest, syncUnderTest } from './support.js';

let sync: SyncUnderTest | undefined;
let rollout: Rollout | undefined;
let folder: string | undefined;
afterEach(async () => {
  await rollout?.close();
  if (sync !== undefined) await sync.db.query(`DROP TABLE IF EXISTS ${sync.table}_shadow`);
  await sync?.close();
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  sync = undefined;
  rollout = undefined;
  folder = undefined;
});

describe("the sync's figures as a migration's guards read them", () => {
  it('gives the new system’s success rate, its pace against the old, and the shadow’s match rate and losses', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 } });
    const shadow = `${sync.table}_shadow`;
    await ensureSchema(sync.db, shadow, sync.syncName);
    // The old system writes the table; the new one, in its shadow phase, a shadow table.
    await sync.engineAs({ system: 'old' }).run();
    await sync.engineAs({ system: 'new', table: shadow }).run();

    const figures = new SyncGuardFigures(sync.db, { syncName: sync.syncName });
    await figures.refresh();
    const read = new Map(figures.gauges());
    expect(read.get('sync.success_rate')?.()).toBe(1);
    expect(read.get('sync.duration_vs_old')?.()).toBeGreaterThan(0);
    // No verification yet: the guards cannot judge the match rate.
    expect(read.get('sync.match_rate')?.()).toBeUndefined();

    const clean = await verifySync(sync.db, sync.state, {
      table: shadow,
      against: sync.table,
      syncName: sync.syncName,
    });
    expect(clean.comparison?.matchRate).toBe(1);
    await sync.db.query(
      `DELETE FROM ${shadow} WHERE property_number IN (SELECT property_number FROM ${shadow} LIMIT 3)`,
    );
    const lossy = await verifySync(sync.db, sync.state, {
      table: shadow,
      against: sync.table,
      syncName: sync.syncName,
    });
    expect(lossy.comparison).toMatchObject({ missing: 3, matchRate: 297 / 300 });

    folder = mkdtempSync(join(tmpdir(), 'keel-guards-'));
    rollout = await Rollout.open({ dataDir: folder, controller: false });
    for (const [name, gauge] of figures.gauges()) rollout.gauges.register(name, gauge);
    await figures.refresh();
    expect(rollout.gauges.read('sync.match_rate')).toBeCloseTo(0.99, 10);
    expect(rollout.gauges.read('sync.missing_rows')).toBe(3);
  });
});
