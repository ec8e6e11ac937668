import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisSentinelHandle, startRedisSentinel, waitUntil } from '../../../support/index.js';
import { deleteWhileReplicationIsCut, Managers, sleep, startLoad, uniqueNamespace } from './managers.js';

/** The bound for taking Redis into use again, applied to a failover. */
const RECOVERY_MS = 5_000;

let deployment: RedisSentinelHandle;
const managers = new Managers();
const clients: Redis[] = [];

beforeAll(async () => {
  deployment = await startRedisSentinel();
}, 30_000);

afterAll(async () => {
  await managers.closeAll();
  await Promise.all(clients.map((client) => client.quit().catch(() => {})));
  await deployment?.stop();
});

/** Redis options through `of`'s Sentinel, with fast failure detection for the failover tests. */
function failingFast(of: RedisSentinelHandle) {
  return {
    sentinel: { sentinels: of.sentinels, name: of.name },
    commandTimeoutMs: 200,
    breaker: { failures: 3, halfOpenAfterMs: 300 },
  };
}

function clientOf(port: number, of = deployment): Redis {
  const client = of.clientOf(port);
  client.on('error', () => {});
  clients.push(client);
  return client;
}

describe('Redis tier on a Sentinel-managed primary', () => {
  it('finds the primary through Sentinel and shares values and invalidations between instances', async () => {
    const ns = uniqueNamespace('sen');
    const redis = { sentinel: { sentinels: deployment.sentinels, name: deployment.name } };
    const a = await managers.open(ns, redis);
    const b = await managers.open(ns, redis);
    await a.set('price', 100);
    expect(await clientOf(await deployment.primaryPort()).exists(`${ns}#v:price`)).toBe(1);
    expect(await b.get('price')).toBe(100);
    expect(b.getPerformanceStats().requests.l2Hits).toBe(1);
    await a.set('price', 90);
    expect(await waitUntil(async () => (await b.get('price')) === 90, 2_000)).toBe(true);
  });

  it('follows a failover under load: no errors to callers, the new primary in use within 5 s, nothing stale', async () => {
    const ns = uniqueNamespace('senfo');
    const redis = failingFast(deployment);
    const a = await managers.open(ns, redis);
    const b = await managers.open(ns, redis);
    const loadA = startLoad(a);
    const loadB = startLoad(b);
    await sleep(300);

    const newPrimary = clientOf(await deployment.failover());
    const switched = Date.now();
    let probe = 0;
    const inUse = await waitUntil(async () => {
      const key = `after-failover-${probe++}`;
      await a.set(key, 'written');
      return (await newPrimary.exists(`${ns}#v:${key}`)) === 1;
    }, RECOVERY_MS);
    expect(inUse).toBe(true);
    expect(Date.now() - switched).toBeLessThan(RECOVERY_MS);
    await sleep(300);
    await loadA.stop();
    await loadB.stop();
    expect(loadA.errors).toEqual([]);
    expect(loadB.errors).toEqual([]);
    expect(loadA.operations).toBeGreaterThan(0);

    await a.set('price', 70);
    expect(await waitUntil(async () => (await b.get('price')) === 70, 2_000)).toBe(true);
    await b.delete('price');
    expect(await waitUntil(async () => (await a.get('price')) === undefined, 2_000)).toBe(true);
    expect(await newPrimary.exists(`${ns}#v:price`)).toBe(0);
  });

  it('a delete that the old primary acknowledged but never replicated is applied again to the new one', async () => {
    const own = await startRedisSentinel();
    try {
      const ns = uniqueNamespace('senlost');
      const redis = failingFast(own);
      const a = await managers.open(ns, redis);
      const b = await managers.open(ns, redis);
      const [primaryPort, replicaPort] = own.dataPorts;
      const primary = clientOf(primaryPort, own);
      const replica = clientOf(replicaPort, own);
      const key = `${ns}#v:price`;
      await a.set('price', 100);
      await deleteWhileReplicationIsCut(a, primary, replica, key);

      expect(await own.failover()).toBe(replicaPort);
      expect(await waitUntil(async () => (await replica.exists(key)) === 0, RECOVERY_MS)).toBe(true);
      expect(await waitUntil(async () => (await b.get('price')) === undefined, 2_000)).toBe(true);
      expect(await a.get('price')).toBeUndefined();
    } finally {
      await managers.closeAll();
      await own.stop();
    }
  });

  it('authenticates to Sentinels that require a password, and names them when it cannot', async () => {
    const own = await startRedisSentinel({ sentinelPassword: 'sentinel-secret' });
    try {
      const ns = uniqueNamespace('senauth');
      const sentinels = own.sentinels;
      const cache = await managers.open(ns, {
        sentinel: { sentinels, name: own.name, password: 'sentinel-secret' },
        required: true,
      });
      await cache.set('price', 100);
      expect(await clientOf(await own.primaryPort(), own).exists(`${ns}#v:price`)).toBe(1);
      await expect(
        managers.open(ns, {
          sentinel: { sentinels, name: own.name },
          required: true,
          connectTimeoutMs: 1_000,
        }),
      ).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE', message: expect.stringContaining('keel-test') });
    } finally {
      await managers.closeAll();
      await own.stop();
    }
  });
});
