import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptimizedCacheManager } from '../../../../src/cache/index.js';
import {
  type RedisServerHandle,
  startRedisServer,
  startTcpProxy,
  type TcpProxyHandle,
  waitUntil,
} from '../../../support/index.js';
import { Managers, sleep, startLoad, uniqueNamespace } from './managers.js';

/** The bound: once Redis is back, the cache uses it again within 5 s. */
const RECOVERY_MS = 5_000;
/** Fast failure detection for the tests: short timeouts, a breaker that opens after 3 failures. */
const FAST_FAILURE = {
  commandTimeoutMs: 100,
  connectTimeoutMs: 1_000,
  breaker: { failures: 3, halfOpenAfterMs: 300 },
};

let server: RedisServerHandle;
let proxy: TcpProxyHandle;
let raw: Redis;
const managers = new Managers();

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startTcpProxy({ host: server.host, port: server.port });
  raw = new Redis(server.url);
  raw.on('error', () => {});
});

afterAll(async () => {
  await managers.closeAll();
  raw.disconnect();
  await proxy.close();
  await server.stop();
});

async function recovered(cache: OptimizedCacheManager): Promise<boolean> {
  return waitUntil(async () => cache.getPerformanceStats().l2?.state === 'ready', RECOVERY_MS);
}

describe('Redis tier: fault tolerance under load', () => {
  it('a hung Redis (blackholed connection): no errors, L1 keeps serving, the breaker opens, recovery within 5 s', async () => {
    const cache = await managers.open(uniqueNamespace('hang'), { url: proxy.url, ...FAST_FAILURE });
    await cache.set('hot', 'kept in L1', { ttlMs: 60_000 });
    const load = startLoad(cache);
    await sleep(300);
    proxy.blackhole(true);
    await sleep(1_000);
    expect(await cache.get('hot')).toBe('kept in L1');
    const during = cache.getPerformanceStats().l2;
    expect(during?.breakerOpens).toBeGreaterThanOrEqual(1);
    expect(during?.timeouts).toBeGreaterThan(0);
    const operationsDuringOutage = load.operations;
    await sleep(300);
    expect(load.operations).toBeGreaterThan(operationsDuringOutage);
    proxy.blackhole(false);
    expect(await recovered(cache)).toBe(true);
    await load.stop();
    expect(load.errors).toEqual([]);
  });

  it('a dropped connection and a stopped, then restarted Redis: no errors, recovery within 5 s', async () => {
    const cache = await managers.open(uniqueNamespace('restart'), { url: server.url, ...FAST_FAILURE });
    const load = startLoad(cache);
    await sleep(300);
    await server.kill();
    await sleep(1_000);
    expect(cache.getPerformanceStats().l2?.state).not.toBe('ready');
    await server.start();
    expect(await recovered(cache)).toBe(true);
    await sleep(200);
    await load.stop();
    expect(load.errors).toEqual([]);
    expect(cache.getPerformanceStats().writes.l1Resyncs).toBeGreaterThanOrEqual(1);
  });

  it('CLIENT PAUSE: commands time out, callers see no errors', async () => {
    const cache = await managers.open(uniqueNamespace('pause'), { url: server.url, ...FAST_FAILURE });
    const load = startLoad(cache);
    await sleep(200);
    await server.pauseClients(800);
    await sleep(1_000);
    expect(await recovered(cache)).toBe(true);
    await load.stop();
    expect(load.errors).toEqual([]);
    expect(cache.getPerformanceStats().l2?.timeouts).toBeGreaterThan(0);
  });
});

describe('Redis tier: nothing stale after recovery', () => {
  it('writes and invalidations made while Redis was unreachable are applied and broadcast on recovery', async () => {
    const ns = uniqueNamespace('stale');
    const cut = await managers.open(ns, { url: proxy.url, ...FAST_FAILURE });
    const connected = await managers.open(ns, { url: server.url, ...FAST_FAILURE });
    await cut.set('price', 100, { ttlMs: 60_000 });
    await cut.set('tagged', 'old', { ttlMs: 60_000, tags: ['sale'] });
    await cut.set('doomed', 'old', { ttlMs: 60_000 });
    for (const key of ['price', 'tagged', 'doomed']) expect(await connected.get(key)).toBeDefined();

    proxy.refuse(true);
    proxy.dropConnections();
    await sleep(200);
    // Changes that cannot reach Redis: they happen in the cut instance's L1 and are journaled.
    await cut.set('price', 90, { ttlMs: 60_000 });
    expect(await cut.invalidateTags(['sale'])).toBe(1);
    expect(await cut.delete('doomed')).toBe(true);
    expect(await cut.get('price')).toBe(90);
    expect(cut.getPerformanceStats().l2?.pendingInvalidations).toBe(3);

    proxy.refuse(false);
    expect(await recovered(cut)).toBe(true);
    expect(cut.getPerformanceStats().l2?.replays).toBe(1);
    // Redis holds none of the old values, and the connected instance has dropped its copies.
    expect(await raw.exists(`${ns}#v:price`, `${ns}#v:tagged`, `${ns}#v:doomed`)).toBe(0);
    for (const key of ['price', 'tagged', 'doomed']) {
      expect(await waitUntil(async () => (await connected.get(key)) === undefined, 2_000)).toBe(true);
    }
  });
});
