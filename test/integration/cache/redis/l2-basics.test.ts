import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Codec, OptimizedCacheManager, serializeValue } from '../../../../src/cache/index.js';
import { MAX_KEYS_PER_BATCH } from '../../../../src/cache/redis/read-batcher.js';
import { isKeelError } from '../../../../src/errors.js';
import { redisUrl, waitUntil } from '../../../support/index.js';
import { Managers, sleep, uniqueNamespace } from './managers.js';

let url: string;
let raw: Redis;
const managers = new Managers();

beforeAll(async () => {
  url = await redisUrl();
  raw = new Redis(url);
});

afterAll(async () => {
  await managers.closeAll();
  raw.disconnect();
});

describe('Redis tier: read and write path', () => {
  it('serves a value written by one instance to a fresh one from L2, then from its L1', async () => {
    const ns = uniqueNamespace('rw');
    const writer = await managers.open(ns, { url });
    const reader = await managers.open(ns, { url });
    const product = { id: 1, title: 'Green tea', price: 1200, at: new Date(0), tags: new Set(['tea']) };
    await writer.set('product:1', product, { ttlMs: 60_000 });
    // The write's notice may still be in flight; a read racing it is served but not promoted.
    expect(await waitUntil(async () => (reader.getPerformanceStats().l2?.bus.received ?? 0) > 0, 2_000)).toBe(
      true,
    );
    // First read: from Redis, not kept (a key read once costs L1 nothing); second: from Redis,
    // promoted; third: from L1.
    for (let read = 0; read < 3; read++) expect(await reader.get('product:1')).toEqual(product);
    const stats = reader.getPerformanceStats();
    expect(stats.requests).toMatchObject({ l2Hits: 2, l1Hits: 1, misses: 0 });
    expect(stats.hitRate.l2).toBeCloseTo(2 / 3);
    expect(stats.l2?.state).toBe('ready');
  });

  it('stores the envelope with PX = TTL + grace under the namespace', async () => {
    const ns = uniqueNamespace('px');
    const cache = await managers.open(ns, { url });
    await cache.set('k', 'v', { ttlMs: 10_000, graceMs: 5_000 });
    const pttl = await raw.pttl(`${ns}#v:k`);
    expect(pttl).toBeGreaterThan(14_000);
    expect(pttl).toBeLessThanOrEqual(15_000);
  });

  it('promotes with the remaining TTL: a promoted entry expires when the original does', async () => {
    const ns = uniqueNamespace('ttl');
    const writer = await managers.open(ns, { url });
    const reader = await managers.open(ns, { url });
    await writer.set('k', 'v', { ttlMs: 600 });
    await sleep(300);
    expect(await reader.get('k')).toBe('v');
    expect(await reader.get('k')).toBe('v');
    expect(reader.getMemoryUsage().entries).toBe(1);
    await sleep(400);
    expect(await reader.get('k')).toBeUndefined();
  });

  it('serves a stale L2 value within grace when the factory fails', async () => {
    const ns = uniqueNamespace('grace');
    const writer = await managers.open(ns, { url });
    const reader = await managers.open(ns, { url });
    await writer.set('k', 'old', { ttlMs: 200, graceMs: 10_000 });
    await sleep(300);
    const value = await reader.getOrSet('k', () => {
      throw new Error('origin down');
    });
    expect(value).toBe('old');
    expect(reader.getPerformanceStats().requests.staleServed).toBe(1);
  });

  it('delete removes the key from both tiers and from the other instances', async () => {
    const ns = uniqueNamespace('del');
    const a = await managers.open(ns, { url });
    const b = await managers.open(ns, { url });
    await a.set('k', 1);
    expect(await b.get('k')).toBe(1);
    expect(await a.delete('k')).toBe(true);
    expect(await raw.exists(`${ns}#v:k`)).toBe(0);
    expect(await waitUntil(async () => (await b.get('k')) === undefined, 2_000)).toBe(true);
  });

  it('coalesces the reads of one tick into MGETs of up to MAX_KEYS_PER_BATCH keys', async () => {
    const ns = uniqueNamespace('batch');
    const writer = await managers.open(ns, { url });
    for (let i = 0; i < 200; i++) await writer.set(`k${i}`, i);
    const reader = await managers.open(ns, { url });
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => reader.get(`k${i}`)));
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const l2 = reader.getPerformanceStats().l2;
    expect(l2?.readBatches).toBe(Math.ceil(200 / MAX_KEYS_PER_BATCH));
    expect(l2?.keysPerBatch).toBeCloseTo(200 / Math.ceil(200 / MAX_KEYS_PER_BATCH));
  });

  it('reads corrupt bytes as a counted miss, and getOrSet repairs the key', async () => {
    const ns = uniqueNamespace('corrupt');
    const cache = await managers.open(ns, { url });
    await raw.set(`${ns}#v:broken`, Buffer.from('not a keel envelope at all'));
    expect(await cache.get('broken')).toBeUndefined();
    expect(cache.getPerformanceStats().errors.decode).toBe(1);
    expect(await cache.getOrSet('broken', () => 'fresh')).toBe('fresh');
    const other = await managers.open(ns, { url });
    expect(await other.get('broken')).toBe('fresh');
  });

  it('a value copied to another key, or from another namespace, is a counted miss, never served', async () => {
    const ns = uniqueNamespace('copy');
    const neighbour = uniqueNamespace('copy');
    const writer = await managers.open(ns, { url });
    const reader = await managers.open(ns, { url });
    await writer.set('price:a', 100);
    await (await managers.open(neighbour, { url })).set('price:b', 999);
    await raw.copy(`${ns}#v:price:a`, `${ns}#v:price:b`);
    await raw.copy(`${neighbour}#v:price:b`, `${ns}#v:price:c`);
    expect(await reader.get('price:a')).toBe(100);
    expect(await reader.get('price:b')).toBeUndefined();
    expect(await reader.get('price:c')).toBeUndefined();
    expect(await reader.getOrSet('price:b', () => 200)).toBe(200);
    expect(reader.getPerformanceStats().errors.decode).toBe(3);
  });

  it('an envelope that does not name its key (an older format) is a counted miss', async () => {
    const ns = uniqueNamespace('unkeyed');
    const cache = await managers.open(ns, { url });
    const unkeyed = new Codec().encode(serializeValue('old'), {
      createdAt: Date.now(),
      ttlMs: 60_000,
      graceMs: 0,
      dataType: 'default',
      tags: [],
    });
    await raw.set(`${ns}#v:k`, unkeyed);
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.getPerformanceStats().errors.decode).toBe(1);
  });

  it('keeps namespaces apart', async () => {
    const one = await managers.open(uniqueNamespace('one'), { url });
    const two = await managers.open(uniqueNamespace('two'), { url });
    await one.set('k', 'one');
    expect(await two.get('k')).toBeUndefined();
  });
});

describe('Redis tier: start-up', () => {
  it('with required: true, an unreachable Redis is a start-up error naming the server', async () => {
    const attempt = OptimizedCacheManager.create({
      namespace: uniqueNamespace('req'),
      load: false,
      redis: { url: 'redis://keel:s3cret@127.0.0.1:1', required: true, connectTimeoutMs: 500 },
    });
    const error = await attempt.catch((caught: unknown) => caught);
    expect(isKeelError(error, 'REDIS_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('redis://keel:***@127.0.0.1:1');
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('without required, starts in L1-only mode and answers without errors', async () => {
    const cache = await managers.open(uniqueNamespace('l1only'), {
      url: 'redis://127.0.0.1:1',
      connectTimeoutMs: 300,
    });
    await cache.set('k', 'v');
    expect(await cache.get('k')).toBe('v');
    expect(await cache.getOrSet('other', () => 42)).toBe(42);
    expect(await cache.invalidateTags(['t'])).toBe(0);
    expect(cache.getPerformanceStats().l2?.state).toBe('disconnected');
  });

  it('rejects bad Redis options at construction, naming them', () => {
    expect(() => new OptimizedCacheManager({ redis: { url: 'http://x' } })).toThrow(/redis\.url/);
    expect(() => new OptimizedCacheManager({ redis: { commandTimeoutMs: 0 } })).toThrow(
      /redis\.commandTimeoutMs/,
    );
    expect(
      () => new OptimizedCacheManager({ redis: { url: 'redis://a', cluster: { nodes: ['b:1'] } } }),
    ).toThrow(/cluster/);
  });
});
