/**
 * docs/sync.md's code example, run as written (its imports aside), against the real PostgreSQL
 * and the bundled sample listings API: a dry run of 10 listings, then the emergency stop.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSyncConfig, openSync, postgresDatabase, removeSync } from '../../../src/sync/index.js';
import { databaseUrl } from '../../support/postgres.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'sync.md'), 'utf8');
const suffix = randomBytes(4).toString('hex');
const names = { table: `doc_listings_${suffix}`, syncName: `doc_${suffix}` };

afterAll(async () => {
  const db = postgresDatabase({ url: new URL(await databaseUrl()), poolMin: 0, poolMax: 1 });
  await removeSync(db, names.table, names.syncName);
  await db.close();
});

describe("docs/sync.md's code example", () => {
  it('dry-runs 10 sample listings and sets the emergency stop', async () => {
    const block = /```ts\n([\s\S]*?)```/.exec(DOC.slice(DOC.indexOf('## Commands')))?.[1];
    if (block === undefined) throw new Error('docs/sync.md has no ```ts block');
    const printed: unknown[] = [];
    const env = {
      DATABASE_URL: await databaseUrl(),
      DB_POOL_MIN: '0',
      KEEL_SYNC_TABLE: names.table,
      KEEL_SYNC_NAME: names.syncName,
    };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    const run = new AsyncFunction(
      'pino',
      'loadSyncConfig',
      'openSync',
      'process',
      'console',
      block.replace(/^import .*$/gm, ''),
    ) as (...args: unknown[]) => Promise<void>;
    await run(
      () => pino({ level: 'silent' }),
      loadSyncConfig,
      openSync,
      { env },
      { log: (value: unknown) => printed.push(value) },
    );

    expect(printed[0]).toMatchObject({ wouldInsert: 10, wouldUpdate: 0, wouldDeadLetter: 0 });
    expect(printed[1]).toMatchObject({
      syncName: names.syncName,
      emergencyStop: { set: true, by: 'me', reason: 'checking data' },
    });
  });
});
