/**
 * The Redis test support against real servers: every helper does what its fault-injection test
 * will rely on, observed through ioredis the way the cache's own tests will observe it.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  pingRedis,
  type RedisServerHandle,
  redisUrl,
  startRedisCluster,
  startRedisServer,
  startTcpProxy,
  type TcpProxyHandle,
  waitUntil,
  withRedis,
} from '../../support/index.js';

/** Reconnect quickly and fail queued commands at the first failed attempt, so faults show at once. */
const FAST_FAIL: RedisOptions = { retryStrategy: () => 50, maxRetriesPerRequest: 0 };
/** How long a recovered client may take to succeed again on a loaded machine. */
const RECOVERY_MS = 10_000;

const clients: (Redis | Cluster)[] = [];

/** A client closed after each test; errors are expected here and observed through commands. */
function client(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { ...FAST_FAIL, ...options });
  redis.on('error', ignore);
  clients.push(redis);
  return redis;
}

afterEach(() => {
  for (const redis of clients.splice(0)) redis.disconnect();
});

describe('freePort', () => {
  it('returns a loopback port that can be listened on', async () => {
    const port = await freePort();
    const server = createServer();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
  });
});

describe('redisUrl', () => {
  it('names a Redis that answers PING, the same one on every call', async () => {
    const url = await redisUrl();
    expect(await redisUrl()).toBe(url);
    expect(await client(url).ping()).toBe('PONG');
  });
});

describe('startRedisServer', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves SET/GET on 127.0.0.1', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const redis = client(server.url);
    await redis.set('k', 'v');
    expect(await redis.get('k')).toBe('v');
  });

  it('when killed, clients fail; restarted on the same port, they recover', async () => {
    const redis = client(server.url);
    await redis.set('k', 'v');
    await server.kill();
    await expect(redis.get('k')).rejects.toThrow();
    await server.kill(); // safe twice
    await server.start();
    expect(await waitUntil(async () => (await redis.set('k', 'again')) === 'OK', RECOVERY_MS)).toBe(true);
    expect(await redis.get('k')).toBe('again');
  });

  it('stops gracefully (twice is fine) and starts again empty', async () => {
    const redis = client(server.url);
    await redis.set('k', 'v');
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(await pingRedis(server)).toBe(false);
    await server.start();
    await server.start(); // already running: no-op
    expect(await waitUntil(async () => (await redis.exists('k')) === 0, RECOVERY_MS)).toBe(true);
  });

  it('pauses every client for the given time', async () => {
    const redis = client(server.url);
    await redis.ping();
    const pauseMs = 1_000;
    await server.pauseClients(pauseMs);
    const sent = performance.now();
    expect(await redis.ping()).toBe('PONG');
    // Sent right after the pause began, the PING waits out most of it (half leaves room for a slow start).
    expect(performance.now() - sent).toBeGreaterThan(pauseMs / 2);
  });

  it('reports a server that cannot start with its own log lines', async () => {
    await server.stop();
    const squatter = createServer((socket) => socket.destroy());
    squatter.listen(server.port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      await expect(server.start()).rejects.toThrow(/address already in use/i);
    } finally {
      squatter.close();
      await once(squatter, 'close');
    }
    await server.start();
    expect(await pingRedis(server)).toBe(true);
  });
});

describe('startRedisCluster', () => {
  it('creates a 3-master cluster that spreads keys over every master, then stops', async () => {
    const cluster = await startRedisCluster(3);
    const redis = new Cluster(cluster.nodes);
    redis.on('error', ignore);
    clients.push(redis);
    try {
      expect(cluster.nodes).toHaveLength(3);
      const keys = Array.from({ length: 100 }, (_, i) => `key:${i}`);
      await Promise.all(keys.map((key) => redis.set(key, key)));
      expect(await redis.get('key:42')).toBe('key:42');
      const sizes = await Promise.all(
        cluster.nodes.map((node) => withRedis(node, (admin) => admin.dbsize())),
      );
      for (const size of sizes) expect(size).toBeGreaterThan(0);
      expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(keys.length);
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
    await cluster.stop(); // safe twice
    for (const node of cluster.nodes) expect(await pingRedis(node)).toBe(false);
  });

  it('refuses fewer than 3 masters', async () => {
    await expect(startRedisCluster(2)).rejects.toThrow(/at least 3 masters/);
  });
});

describe('startTcpProxy', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxyHandle;
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy(server);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('forwards commands to the target', async () => {
    expect(proxy.url).toBe(`redis://127.0.0.1:${proxy.port}`);
    const redis = client(proxy.url);
    await redis.set('k', 'through the proxy');
    expect(await redis.get('k')).toBe('through the proxy');
    expect(await client(server.url).get('k')).toBe('through the proxy');
  });

  it('dropConnections makes clients reconnect', async () => {
    const redis = client(proxy.url);
    await redis.set('k', 'v');
    const reconnecting = once(redis, 'reconnecting');
    proxy.dropConnections();
    await reconnecting;
    expect(await waitUntil(async () => (await redis.get('k')) === 'v', RECOVERY_MS)).toBe(true);
  });

  it('blackhole(true) hangs commands until they time out; blackhole(false) lets clients recover', async () => {
    const redis = client(proxy.url, { commandTimeout: 200 });
    await redis.set('k', 'v');
    proxy.blackhole(true);
    try {
      await expect(redis.get('k')).rejects.toThrow(/timed out/i);
      const late = client(proxy.url, { commandTimeout: 200 });
      await expect(late.get('k')).rejects.toThrow(/timed out/i);
    } finally {
      proxy.blackhole(false);
    }
    expect(await waitUntil(async () => (await redis.get('k')) === 'v', RECOVERY_MS)).toBe(true);
  });

  it('refuse(true) closes new connections; open ones carry on', async () => {
    const open = client(proxy.url);
    await open.ping();
    proxy.refuse(true);
    try {
      const refused = client(proxy.url, { lazyConnect: true, retryStrategy: () => null });
      await expect(refused.connect()).rejects.toThrow();
      expect(await open.ping()).toBe('PONG');
    } finally {
      proxy.refuse(false);
    }
    expect(await client(proxy.url).ping()).toBe('PONG');
  });

  it('closes twice without error and stops accepting', async () => {
    const spare = await startTcpProxy(server);
    const redis = client(spare.url);
    await redis.ping();
    await Promise.all([spare.close(), spare.close()]);
    await spare.close();
    expect(await pingRedis({ host: '127.0.0.1', port: spare.port })).toBe(false);
  });
});

function ignore(): void {}
