import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSync } from '../../../src/operations/status-check.js';
import { openSyncWithRollout, type SyncService, startSyncService } from '../../../src/server/index.js';
import { loadSyncConfig, type OpenSync, openSync, verifySync } from '../../../src/sync/index.js';
import { databaseUrl } from '../../support/postgres.js';
import { differences, quietLog, type SyncUnderTest, syncUnderTest } from './support.js';

const TOKEN = 'sync-admin-token-0123456789';

let sync: SyncUnderTest | undefined;
let open: OpenSync | undefined;
let service: SyncService | undefined;
afterEach(async () => {
  await service?.close();
  await open?.close();
  await sync?.close();
  service = undefined;
  open = undefined;
  sync = undefined;
});

async function serve(test: SyncUnderTest, env: Record<string, string> = {}): Promise<SyncService> {
  const config = loadSyncConfig({
    DATABASE_URL: await databaseUrl(),
    DB_POOL_MIN: '0',
    SUPABASE_REST_URL: test.origin.restUrl,
    SUPABASE_REST_HEADERS_APIKEY: 'sample-key',
    KEEL_SYNC_TABLE: test.table,
    KEEL_SYNC_NAME: test.syncName,
    KEEL_SYNC_PORT: '0',
    KEEL_ADMIN_TOKEN: TOKEN,
    SYNC_RATE_LIMIT_PER_SECOND: '0',
    ...env,
  });
  open = await openSync(config, quietLog);
  return startSyncService(open, quietLog);
}

async function call(url: string, method: 'GET' | 'POST' | 'DELETE' = 'GET', body?: unknown, token = TOKEN) {
  const response = await request(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: () => JSON.parse(text) };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5_000) throw new Error('waited 5 s in vain');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('keel sync serve', () => {
  it('syncs at start and serves health, status (with system) and metrics', async () => {
    sync = await syncUnderTest({ origin: { listings: 400 } });
    service = await serve(sync, { KEEL_SYNC_SYSTEM: 'new' });
    await service.idle();
    expect(await differences(sync)).toEqual([]);

    const health = await call(`${service.url}/api/property-listings/health`);
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({
      status: 'ok',
      system: 'new',
      database: 'ok',
      source: 'closed',
      emergencyStop: false,
    });

    const status = (await call(`${service.url}/api/property-listings/sync/status`)).json();
    expect(status.system).toBe('new');
    expect(status.lastRun).toMatchObject({ status: 'completed', rowsRead: 400, inserted: 400 });
    expect(status.metrics).toMatchObject({ rowsRead: 400, successRate: 1 });

    const metrics = (await call(`${service.url}/metrics`)).text;
    expect(metrics).toMatch(/keel_sync_rows_total\{system="new",result="inserted"\} 400/);
    expect(metrics).toMatch(/keel_sync_runs_total\{system="new",status="completed"\} 1/);
    expect(metrics).toMatch(/keel_sync_success_ratio 1/);
    expect(metrics).toMatch(/keel_sync_table_rows 400/);
    expect(metrics).toMatch(/keel_sync_emergency_stop 0/);
  });

  it('sets and clears the emergency stop through the API, only with the token', async () => {
    sync = await syncUnderTest({ origin: { listings: 50 } });
    service = await serve(sync);
    await service.idle();
    const stopUrl = `${service.url}/api/property-listings/sync/emergency-stop`;
    expect((await call(stopUrl, 'POST', { reason: 'x' }, 'not-the-token-000000000')).status).toBe(401);
    expect((await call(stopUrl, 'POST', {})).status).toBe(400);
    expect(
      (await call(stopUrl, 'POST', { reason: '<script>bad data</script>', by: 'oncall' })).json(),
    ).toMatchObject({
      set: true,
      by: 'oncall',
    });
    sync.origin.catalog.add(5);
    const stopped = await service.runNow();
    expect(stopped?.status).toBe('stopped');
    const health = (await call(`${service.url}/api/property-listings/health`)).json();
    expect(health).toMatchObject({ status: 'degraded', emergencyStop: true });
    expect((await call(`${service.url}/metrics`)).text).toMatch(/keel_sync_emergency_stop 1/);
    // The dashboard shows the stop, its reason escaped.
    const page = await call(`${service.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/EMERGENCY STOP set by oncall: &lt;script&gt;bad data&lt;\/script&gt;/);
    expect(page.text).not.toMatch(/<script>/);
    expect(page.text).toMatch(/Share of the rows the listing sync read and owned/);

    await call(stopUrl, 'DELETE', { by: 'oncall' });
    const resumed = await call(`${service.url}/api/property-listings/sync/run`, 'POST', {});
    expect(resumed.json()).toMatchObject({ status: 'completed', counts: { read: 5, inserted: 5 } });
  });

  it('refuses the writing endpoints without KEEL_ADMIN_TOKEN', async () => {
    sync = await syncUnderTest({ origin: { listings: 10 } });
    const config = {
      DATABASE_URL: await databaseUrl(),
      DB_POOL_MIN: '0',
      SUPABASE_REST_URL: sync.origin.restUrl,
      SUPABASE_REST_HEADERS_APIKEY: 'sample-key',
      KEEL_SYNC_TABLE: sync.table,
      KEEL_SYNC_NAME: sync.syncName,
      KEEL_SYNC_PORT: '0',
    };
    open = await openSync(loadSyncConfig(config), quietLog);
    service = await startSyncService(open, quietLog);
    const refused = await call(`${service.url}/api/property-listings/sync/emergency-stop`, 'POST', {
      reason: 'x',
    });
    expect(refused.status).toBe(403);
    expect(refused.json().message).toMatch(/KEEL_ADMIN_TOKEN/);
  });

  it('carries a rollout of the sync-migration plan: shadow table verified, then the flag’s share', async () => {
    sync = await syncUnderTest({ origin: { listings: 400 } });
    const shadow = `${sync.table}_shadow`;
    // The old system has synced every listing into the real table.
    await sync.engineAs({ system: 'old' }).run();
    const config = loadSyncConfig({
      DATABASE_URL: await databaseUrl(),
      DB_POOL_MIN: '0',
      SUPABASE_REST_URL: sync.origin.restUrl,
      SUPABASE_REST_HEADERS_APIKEY: 'sample-key',
      KEEL_SYNC_TABLE: sync.table,
      KEEL_SYNC_SHADOW_TABLE: shadow,
      KEEL_SYNC_NAME: sync.syncName,
      KEEL_SYNC_FLAG: 'sync.rest',
      KEEL_NAMESPACE: `test-${sync.syncName}`,
      KEEL_SYNC_PORT: '0',
      KEEL_ADMIN_TOKEN: TOKEN,
      SYNC_RATE_LIMIT_PER_SECOND: '0',
    });
    const withRollout = await openSyncWithRollout(config, quietLog, { controller: true });
    open = withRollout;
    const rollout = withRollout.rollout;
    if (rollout === undefined) throw new Error('KEEL_SYNC_FLAG opens a rollout');
    try {
      service = await startSyncService(withRollout, quietLog, rollout);
      await service.idle();
      // The flag at 0 %: the shadow phase wrote the shadow table and verified it against the real one.
      expect((await sync.db.query(`SELECT count(*)::int AS n FROM ${shadow}`)).rows[0]).toEqual({ n: 400 });
      expect(rollout.gauges.read('sync.match_rate')).toBe(1);
      expect(rollout.gauges.read('sync.success_rate')).toBe(1);
      expect(rollout.gauges.read('sync.missing_rows')).toBe(0);

      expect(
        (await call(`${service.url}/admin/rollouts`, 'GET', undefined, 'not-the-token-000000000')).status,
      ).toBe(401);
      const started = await call(`${service.url}/admin/rollouts`, 'POST', {
        builtin: 'sync-migration',
        by: 'ana',
      });
      expect(started.status).toBe(201);
      const id = started.json().id as string;
      await until(() => rollout.flags.weight('sync.rest') === 0);
      expect((await call(`${service.url}/admin/rollouts`)).json().switches).toEqual({ 'flag:sync.rest': 0 });
      const page = (await call(`${service.url}/dashboard`)).text;
      expect(page).toMatch(new RegExp(`${id} \\(sync-migration\\): running — stage 1 of 4: shadow`));
      expect(page).toMatch(/flag:sync\.rest 0 %/);

      // Past the shadow phase's manual gate: the new system owns 10 % of the listings and reads
      // the source again from the beginning to take them up (the old system wrote them alike).
      expect((await call(`${service.url}/admin/rollouts/${id}/promote`, 'POST', { by: 'ana' })).status).toBe(
        200,
      );
      await until(() => rollout.flags.weight('sync.rest') === 10);
      const atTen = await service.runNow();
      expect(atTen?.counts).toMatchObject({ read: 400, inserted: 0, updated: 0 });
      expect(atTen?.counts.skipped).toBeGreaterThan(300);
      expect(atTen?.counts.unchanged).toBe(400 - (atTen?.counts.skipped ?? 0));

      // Rolled back: 0 % again, the shadow phase's table written again.
      sync.origin.catalog.add(5);
      await call(`${service.url}/admin/rollouts/${id}/rollback`, 'POST', { by: 'ana', reason: 'test' });
      await until(() => rollout.flags.weight('sync.rest') === 0);
      expect((await call(`${service.url}/admin/rollouts`)).json().switches).toEqual({ 'flag:sync.rest': 0 });
      await service.runNow();
      expect((await sync.db.query(`SELECT count(*)::int AS n FROM ${shadow}`)).rows[0]).toEqual({ n: 405 });
    } finally {
      await sync.db.query(`DROP TABLE IF EXISTS ${shadow}`);
    }
  });

  it('holds its figures against the thresholds table: count change, verification mismatches', async () => {
    sync = await syncUnderTest({ origin: { listings: 100 } });
    service = await serve(sync);
    await service.idle();
    // A quarter more listings: the table grows 25 % between two runs (the guide's ±20 % anomaly).
    sync.origin.catalog.add(25);
    await service.runNow();
    // A verification that found 2 listings missing.
    const other = `${sync.table}_other`;
    await sync.db.query(`CREATE TABLE ${other} AS SELECT * FROM ${sync.table}`);
    try {
      await sync.db.query(
        `DELETE FROM ${sync.table} WHERE property_number IN (SELECT property_number FROM ${sync.table} LIMIT 2)`,
      );
      if (open === undefined) throw new Error('the service is open');
      await verifySync(sync.db, open.state, { table: sync.table, against: other, syncName: sync.syncName });
    } finally {
      await sync.db.query(`DROP TABLE ${other}`);
    }
    const metrics = (await call(`${service.url}/metrics`)).text;
    expect(metrics).toMatch(/keel_sync_table_rows_change_ratio 0\.25/);
    expect(metrics).toMatch(/keel_sync_verification_differences 2/);

    const report = await checkSync(new URL(service.url));
    expect(report.ready).toBe(true);
    const level = (name: string) => report.rows.find((row) => row.name === name)?.level;
    expect(level('KeelSyncSuccessRate')).toBe('ok');
    expect(level('KeelSyncCountChange')).toBe('medium');
    expect(level('KeelSyncMismatch')).toBe('high');
    expect(report.healthy).toBe(false);
  });
});
