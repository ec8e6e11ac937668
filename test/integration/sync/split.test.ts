/**
 * A run split into key ranges, against the real PostgreSQL: workers running at once share the
 * ranges and write every listing exactly once; a worker stopped mid-range leaves its range to the
 * next; listings changed during the split are read by the run after it; a plain run waits for
 * the split.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors.js';
import { cancelSplit, ensureSchema, openSplit } from '../../../src/sync/index.js';
import { differences, type SyncUnderTest, syncUnderTest } from './support.js';

let sync: SyncUnderTest | undefined;
afterEach(async () => {
  await sync?.close();
  sync = undefined;
});

describe('a run split into key ranges', () => {
  it('is shared by workers running at once, each listing written once', async () => {
    sync = await syncUnderTest({ origin: { listings: 3_000 } });
    const split = await sync.engine.split(6);
    expect(split?.ranges.length).toBe(6);
    // A plain run would move the cursor past ranges not written yet.
    const refused = await sync.engine.run().catch((error: unknown) => error);
    expect(isKeelError(refused, 'SYNC_LOCKED')).toBe(true);

    const workers = [sync.engine, sync.engineAs({}), sync.engineAs({})];
    const outcomes = await Promise.all(workers.map((worker) => worker.work()));
    const results = outcomes.flatMap((outcome) => outcome.results);
    expect(results.map((result) => result.status)).toEqual(results.map(() => 'completed'));
    // Each range was run by exactly one worker.
    expect(results.length).toBe(6);
    expect(outcomes.filter((outcome) => outcome.closed).length).toBe(1);
    expect(results.reduce((sum, result) => sum + result.counts.inserted, 0)).toBe(3_000);
    expect(results.reduce((sum, result) => sum + result.counts.read, 0)).toBe(3_000);
    expect(await differences(sync)).toEqual([]);
    expect(await openSplit(sync.db, sync.syncName, 'new')).toBeUndefined();

    // The system's cursor is at the split's end: a plain run reads only what changed since.
    sync.origin.catalog.add(7);
    const after = await sync.engine.run();
    expect(after.counts).toMatchObject({ read: 7, inserted: 7 });
    const state = await sync.state.getCurrentState();
    expect(state.cursors.map((cursor) => cursor.system)).toEqual(['new']);
    expect(state.split).toBeNull();
  });

  it('leaves a stopped worker’s range to the next, and the split’s changes to the run after it', async () => {
    sync = await syncUnderTest({ origin: { listings: 2_000 } });
    await sync.engine.split(4);
    const stopping = new AbortController();
    const first = await sync.engine.work({
      signal: stopping.signal,
      onBatch: (progress) => {
        if (progress.counts.batches === 3) stopping.abort();
      },
    });
    expect(first.results.map((result) => result.status)).toEqual(['stopped']);
    expect((await sync.state.getCurrentState()).split).toEqual(
      expect.objectContaining({ ranges: 4, done: 0 }),
    );
    // Listings change while the split is open: their new versions come after its end.
    const changed = sync.origin.catalog.all().slice(0, 50);
    for (const listing of [...changed])
      sync.origin.catalog.update(listing.property_number, { price: listing.price + 1 });

    const second = await sync.engineAs({}).work();
    expect(second.closed).toBe(true);
    const inserted = [...first.results, ...second.results].reduce(
      (sum, result) => sum + result.counts.inserted,
      0,
    );
    expect(inserted).toBe(2_000);
    const rest = await sync.engine.run();
    expect(rest.counts.read).toBe(50);
    expect(await differences(sync)).toEqual([]);
  });

  it('is abandoned by cancel: the rows stay, and the next run reads them again', async () => {
    sync = await syncUnderTest({ origin: { listings: 500 } });
    await sync.engine.split(2);
    await sync.engine.work({ onBatch: () => undefined, signal: AbortSignal.timeout(60_000) });
    expect(await cancelSplit(sync.db, sync.syncName, 'new')).toBe(false); // closed already
    await sync.engine.split(1).then((split) => expect(split).toBeUndefined());
    sync.origin.catalog.add(300);
    const open = await sync.engine.split(3);
    expect(open?.ranges.length).toBe(3);
    expect(await cancelSplit(sync.db, sync.syncName, 'new')).toBe(true);
    const run = await sync.engine.run();
    expect(run.counts).toMatchObject({ read: 300, inserted: 300 });
    expect(await differences(sync)).toEqual([]);
  });

  it('lets a worker start beside others writing: no schema change waits on their locks', async () => {
    sync = await syncUnderTest({ origin: { listings: 10 } });
    const { db, table, syncName } = sync;
    await db.transaction(async (tx) => {
      // A batch in flight holds row locks on the sync's tables until it commits.
      await tx.query('UPDATE keel_sync_runs SET status = status WHERE sync_name = $1', [syncName]);
      await tx.query(`UPDATE ${table} SET title = title`);
      const waited = new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 3_000));
      const schema = ensureSchema(db, table, syncName).then(() => 'done' as const);
      // Failing here rolls the transaction back, which frees a waiting schema change too.
      expect(await Promise.race([schema, waited])).toBe('done');
    });
  });
});
