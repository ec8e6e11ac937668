import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors.js';
import { RestListingSource } from '../../../src/sync/index.js';
import { differences, type SyncUnderTest, storedListings, syncUnderTest } from './support.js';

let sync: SyncUnderTest | undefined;
afterEach(async () => {
  await sync?.close();
  sync = undefined;
});

describe('a sync run against the real PostgreSQL', () => {
  it('copies every listing, then reads only what changed', async () => {
    sync = await syncUnderTest({ origin: { listings: 1_000 } });
    const first = await sync.engine.run();
    expect(first.status).toBe('completed');
    expect(first.counts).toMatchObject({
      read: 1_000,
      inserted: 1_000,
      updated: 0,
      deadLettered: 0,
      batches: 10,
    });
    // Ten full pages and the empty one that ends the run.
    expect(first.counts.requests).toBe(11);
    expect(await differences(sync)).toEqual([]);

    const again = await sync.engine.run();
    expect(again.counts).toMatchObject({ read: 0, requests: 1 });

    const [a, b] = sync.origin.catalog.all().slice(0, 2);
    sync.origin.catalog.update(a?.property_number as string, { price: 12_340_000 });
    sync.origin.catalog.update(b?.property_number as string, { status: 'sold' });
    sync.origin.catalog.add(3);
    const third = await sync.engine.run();
    expect(third.counts).toMatchObject({ read: 5, inserted: 3, updated: 2, unchanged: 0 });
    expect(await differences(sync)).toEqual([]);
  });

  it('records the system and run that created and last changed each row', async () => {
    sync = await syncUnderTest({ origin: { listings: 50 } });
    const old = sync.engineAs({ system: 'old' });
    const byOld = await old.run();
    const listing = sync.origin.catalog.all()[0];
    sync.origin.catalog.update(listing?.property_number as string, { price: 1 });
    const byNew = await sync.engine.run();
    expect(byNew.counts).toMatchObject({ read: 50, inserted: 0, updated: 1, unchanged: 49 });
    const { rows } = await sync.db.query<Record<string, string>>(
      `SELECT created_by_system, created_in_run, updated_by_system, updated_in_run, count(*) AS n FROM ${sync.table}
       GROUP BY 1, 2, 3, 4 ORDER BY n DESC`,
    );
    expect(
      rows.map((row) => ({
        ...row,
        n: Number(row.n),
        created_in_run: Number(row.created_in_run),
        updated_in_run: Number(row.updated_in_run),
      })),
    ).toEqual([
      {
        created_by_system: 'old',
        created_in_run: byOld.runId,
        updated_by_system: 'old',
        updated_in_run: byOld.runId,
        n: 49,
      },
      {
        created_by_system: 'old',
        created_in_run: byOld.runId,
        updated_by_system: 'new',
        updated_in_run: byNew.runId,
        n: 1,
      },
    ]);
  });

  it('pages by (updated_at, id): listings changed during a run are read again, none skipped or doubled', async () => {
    sync = await syncUnderTest({ origin: { listings: 1_000 } });
    const catalog = sync.origin.catalog;
    let changed = 0;
    const result = await sync.engine.run({
      onBatch: (progress) => {
        // Change one listing already read and one not yet read, after each of the first batches.
        if (progress.counts.batches > 5) return;
        const all = catalog.all();
        catalog.update((all[0] as { property_number: string }).property_number, { price: 1_000 + changed });
        catalog.update((all[all.length - 2] as { property_number: string }).property_number, {
          price: 2_000 + changed,
        });
        changed += 2;
      },
    });
    expect(result.status).toBe('completed');
    expect(await differences(sync)).toEqual([]);
    const { rows } = await sync.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sync.table}`);
    expect(Number(rows[0]?.n)).toBe(1_000);
  });

  it('sends a row that fails the checks, or that the database refuses, to the dead letters and goes on', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 } });
    const all = sync.origin.catalog.all();
    const negative = all[10] as { property_number: string; price: number };
    negative.price = -5;
    const unknownStatus = all[150] as { property_number: string; status: string };
    unknownStatus.status = 'demolished';
    // A constraint of the table the checks do not know: refused by the database, in the batch.
    const kamakura = all
      .filter((listing) => listing.city === '鎌倉市')
      .map((listing) => listing.property_number);
    expect(kamakura.length).toBeGreaterThan(0);
    await sync.db.query(`ALTER TABLE ${sync.table} ADD CONSTRAINT no_kamakura CHECK (city <> '鎌倉市')`);

    const result = await sync.engine.run();
    expect(result.status).toBe('completed');
    expect(result.counts.deadLettered).toBe(2 + kamakura.length);
    expect(result.counts.inserted).toBe(300 - 2 - kamakura.length);
    const { rows } = await sync.db.query<{ key: string; reason: string; raw: { price?: number } }>(
      'SELECT key, reason, raw FROM keel_sync_dead_letters WHERE sync_name = $1 ORDER BY id',
      [sync.syncName],
    );
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get(negative.property_number)?.reason).toMatch(/price/);
    expect(byKey.get(negative.property_number)?.raw.price).toBe(-5);
    expect(byKey.get(unknownStatus.property_number)?.reason).toMatch(/status/);
    for (const key of kamakura)
      expect(byKey.get(key)?.reason).toMatch(/refused by the database.*no_kamakura/);
    const stored = await storedListings(sync.db, sync.table);
    expect(stored.has(negative.property_number)).toBe(false);

    // The constraint dropped: re-driving writes the rows it refused; the two bad rows stay open.
    await sync.db.query(`ALTER TABLE ${sync.table} DROP CONSTRAINT no_kamakura`);
    const redriven = await sync.engine.redrive();
    expect(redriven).toMatchObject({ status: 'completed', stillRefused: 2 });
    expect(redriven.counts).toMatchObject({
      read: kamakura.length,
      inserted: kamakura.length,
      deadLettered: 0,
    });
    const open = await sync.db.query<{ key: string }>(
      'SELECT key FROM keel_sync_dead_letters WHERE sync_name = $1 AND redriven_at IS NULL ORDER BY key',
      [sync.syncName],
    );
    expect(open.rows.map((row) => row.key)).toEqual(
      [negative.property_number, unknownStatus.property_number].sort(),
    );
    expect((await sync.engine.redrive()).counts.read).toBe(0);
  });

  it('dry-run reports what a run would do and writes nothing', async () => {
    sync = await syncUnderTest({ origin: { listings: 200 } });
    await sync.engine.run({ limit: 100 });
    const catalog = sync.origin.catalog;
    const first = catalog.all()[0] as { property_number: string };
    catalog.update(first.property_number, { price: 99_990_000 });
    (catalog.all()[120] as { price: number }).price = -1;
    const before = await sync.state.getCurrentState();

    const result = await sync.engine.syncBatch({ limit: 1_000, dryRun: true });
    expect(result.status).toBe('dry-run');
    expect(result.dryRun).toMatchObject({ wouldInsert: 99, wouldUpdate: 1, wouldDeadLetter: 1 });
    expect(result.dryRun?.examples.update[0]).toEqual({
      key: first.property_number,
      changes: expect.objectContaining({ price: [expect.anything(), 99_990_000] }),
    });
    expect(result.dryRun?.examples.deadLetter[0]?.reason).toMatch(/price/);

    const after = await sync.state.getCurrentState();
    expect(after.cursors).toEqual(before.cursors);
    expect(after.lastRun?.id).toBe(before.lastRun?.id);
    const { rows } = await sync.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sync.table}`);
    expect(Number(rows[0]?.n)).toBe(100);
  });

  it('stops every batch after the emergency stop, and starts nothing until it is cleared', async () => {
    sync = await syncUnderTest({ origin: { listings: 1_000 } });
    const state = sync.state;
    const result = await sync.engine.run({
      onBatch: (progress) => {
        if (progress.counts.batches === 2) void state.setEmergencyStop(true, { by: 'test', reason: 'drill' });
      },
    });
    expect(result.status).toBe('stopped');
    expect(result.error?.code).toBe('SYNC_STOPPED');
    // The stop was set while batch 3 was being read: batch 3 writes nothing, no batch after it runs.
    const { rows } = await sync.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sync.table}`);
    expect(Number(rows[0]?.n)).toBeLessThanOrEqual(300);
    const written = Number(rows[0]?.n);

    const refused = await sync.engine.run();
    expect(refused.status).toBe('stopped');
    expect(refused.error?.message).toMatch(/drill/);
    expect((await state.getCurrentState()).emergencyStop).toMatchObject({
      set: true,
      by: 'test',
      reason: 'drill',
    });
    const { rows: still } = await sync.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sync.table}`);
    expect(Number(still[0]?.n)).toBe(written);

    await state.setEmergencyStop(false, { by: 'test' });
    const resumed = await sync.engine.run();
    expect(resumed.status).toBe('completed');
    expect(resumed.counts.read).toBe(1_000 - written);
    expect(await differences(sync)).toEqual([]);
  });

  it('lets one runner at a time run a sync', async () => {
    sync = await syncUnderTest({ origin: { listings: 500 }, engine: { rateLimit: 2 } });
    const other = sync.engineAs({});
    const first = sync.engine.run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await other.run().catch((error: unknown) => error);
    expect(isKeelError(second, 'SYNC_LOCKED')).toBe(true);
    expect((await first).status).toBe('completed');
  });

  it('stops a run whose cursor a newer run took over', async () => {
    sync = await syncUnderTest({ origin: { listings: 500 } });
    const { db, syncName } = sync;
    const result = await sync.engine.run({
      onBatch: (progress) => {
        if (progress.counts.batches === 1)
          void db.query(`UPDATE keel_sync_cursors SET run_id = -1 WHERE sync_name = $1`, [syncName]);
      },
    });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('SYNC_FENCED');
  });

  it('marks a run whose runner died as crashed and resumes from the last committed batch', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 } });
    // A runner that committed one batch and died: its run is still `running`.
    await sync.engine.run({ limit: 100 });
    await sync.db.query(
      `UPDATE keel_sync_runs SET status = 'running', finished_at = NULL WHERE sync_name = $1`,
      [sync.syncName],
    );
    const resumed = await sync.engine.run();
    expect(resumed.counts.read).toBe(200);
    const history = await sync.state.history(5);
    expect(history.map((run) => run.status)).toEqual(['completed', 'crashed']);
    expect(await differences(sync)).toEqual([]);
  });
});

describe('a sync run against a failing source', () => {
  it('waits out a 429’s Retry-After, and does not count it toward the breaker', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 }, engine: { breakerThreshold: 1 } });
    sync.origin.controls.faults.push({ status: 429, retryAfter: 1 });
    const started = performance.now();
    const result = await sync.engine.run();
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(result.status).toBe('completed');
    expect(result.counts.failures).toBe(1);
    expect(sync.engine.breakerState).toBe('closed');
    expect(await differences(sync)).toEqual([]);
  });

  it('pauses after SYNC_CIRCUIT_BREAKER_THRESHOLD failures in a row, then resumes and completes', async () => {
    sync = await syncUnderTest({
      origin: { listings: 300 },
      engine: { breakerThreshold: 5, breakerTimeoutMs: 800 },
    });
    const { origin, engine } = sync;
    origin.controls.faults.push({ status: 503, times: 5 });
    const states: string[] = [];
    const watcher = setInterval(() => states.push(engine.breakerState, engine.state), 20);
    const started = performance.now();
    const result = await engine.run();
    clearInterval(watcher);
    expect(result.status).toBe('completed');
    expect(result.counts.failures).toBe(5);
    expect(states).toContain('open');
    expect(states).toContain('paused');
    expect(performance.now() - started).toBeGreaterThanOrEqual(800);
    expect(await differences(sync)).toEqual([]);
  });

  it('stops at a 401 naming the credential to check, and records the run as failed', async () => {
    sync = await syncUnderTest({
      origin: { listings: 10, auth: { keys: ['right-key'] } },
      headers: { apikey: 'wrong-key', Authorization: 'Bearer wrong-key' },
    });
    const result = await sync.engine.run();
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('SYNC_AUTH_FAILED');
    expect(result.error?.message).toMatch(/401.*SUPABASE_REST_HEADERS_APIKEY/);
    expect(result.counts.requests).toBe(1);
    expect((await sync.state.history(1))[0]?.status).toBe('failed');
  });
});

describe('a sync run against a source sending an endless page', () => {
  const MAX_PAGE_BYTES = 1024 * 1024;
  /** A source answering 200 with a JSON array that never ends, sending as fast as it is read. */
  async function endlessSource(
    declaredLength?: number,
  ): Promise<{ server: Server; url: string; sent: () => number }> {
    let sent = 0;
    const chunk = Buffer.from(`${'{"id":1,"property_number":"P-1"},'.repeat(2_000)}`);
    const server = createServer((_request, response) => {
      response.writeHead(200, {
        'content-type': 'application/json',
        ...(declaredLength === undefined ? {} : { 'content-length': String(declaredLength) }),
      });
      response.write('[');
      const pump = (): void => {
        while (!response.destroyed && sent < 512 * 1024 * 1024) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
      };
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return { server, url: `http://127.0.0.1:${port}/rest/v1`, sent: () => sent };
  }

  it.each([
    ['streamed without a length', undefined],
    ['declaring a length past the bound', 1024 * 1024 * 1024],
  ])(
    'fails the run with SOURCE_INVALID_RESPONSE past KEEL_SYNC_MAX_PAGE_BYTES (%s)',
    async (_case, length) => {
      sync = await syncUnderTest({ origin: { listings: 10 } });
      const hostile = await endlessSource(length);
      try {
        const engine = sync.engineAs({
          source: new RestListingSource({
            url: new URL(hostile.url),
            table: 'property_listings',
            headers: {},
            credentialSettings: [],
            maxPageBytes: MAX_PAGE_BYTES,
          }),
        });
        const result = await engine.run();
        expect(result.status).toBe('failed');
        expect(result.error?.code).toBe('SOURCE_INVALID_RESPONSE');
        expect(result.error?.message).toMatch(/KEEL_SYNC_MAX_PAGE_BYTES/);
        expect(result.counts.requests).toBe(1);
        // The connection was closed: the source stopped well short of its 512 MiB.
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(hostile.sent()).toBeLessThan(32 * MAX_PAGE_BYTES);
        expect((await storedListings(sync.db, sync.table)).size).toBe(0);
      } finally {
        hostile.server.closeAllConnections();
        hostile.server.close();
      }
    },
  );
});

describe('a sync run against the embedded PostgreSQL', () => {
  it('copies every listing and resumes from its cursor', async () => {
    sync = await syncUnderTest({ embedded: true, origin: { listings: 500 } });
    const first = await sync.engine.run({ limit: 200 });
    expect(first.counts).toMatchObject({ read: 200, inserted: 200 });
    const rest = await sync.engine.run();
    expect(rest.counts).toMatchObject({ read: 300, inserted: 300 });
    expect(await differences(sync)).toEqual([]);
    const metrics = await sync.state.getMetrics();
    expect(metrics).toMatchObject({ windowRuns: 2, rowsRead: 500, rowsWritten: 500, successRate: 1 });
  });
});
