import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheManagerOptions, OptimizedCacheManager } from '../../../src/cache/index.js';
import type { LoadSample } from '../../../src/cache/load-monitor.js';
import { ConfigError, KeelError } from '../../../src/errors.js';

const open: OptimizedCacheManager[] = [];
function manager(options: CacheManagerOptions = {}): OptimizedCacheManager {
  const cache = new OptimizedCacheManager({ load: false, ...options });
  open.push(cache);
  return cache;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()));
});

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof KeelError ? error.code : 'not a KeelError';
  }
  return undefined;
}

async function rejectionOf(promise: Promise<unknown>): Promise<KeelError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KeelError) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}

describe('OptimizedCacheManager: get and set', () => {
  it('returns what was set and undefined for a miss', async () => {
    const cache = manager();
    await cache.set('product:1', { id: 1, title: 'Tea' });
    expect(await cache.get('product:1')).toEqual({ id: 1, title: 'Tea' });
    expect(await cache.get('product:2')).toBeUndefined();
    const stats = cache.getPerformanceStats();
    expect(stats.requests).toMatchObject({ l1Hits: 1, misses: 1, total: 2 });
    expect(cache.getHitRate()).toBe(0.5);
  });

  it('expires entries after their TTL', async () => {
    const cache = manager();
    await cache.set('k', 'v', { ttlMs: 40 });
    expect(await cache.get('k')).toBe('v');
    await sleep(60);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('rejects bad keys with INVALID_KEY', async () => {
    const cache = manager();
    for (const key of ['', 'x'.repeat(1025), '語'.repeat(400), 42, null]) {
      const error = await rejectionOf(cache.get(key as string));
      expect(error.code).toBe('INVALID_KEY');
    }
    // 1,024 ASCII bytes and 341 three-byte characters are allowed.
    await cache.set('x'.repeat(1024), 1);
    await cache.set('語'.repeat(341), 2);
    expect(await cache.get('語'.repeat(341))).toBe(2);
  });

  it('reports bad getOrSet arguments and a closed cache as rejected promises, never as throws', async () => {
    const cache = manager();
    const factory = async () => 1;
    const calls: [Promise<unknown>, string][] = [
      [cache.getOrSet('', factory), 'INVALID_KEY'],
      [cache.getOrSet('k', 'not a function' as never), 'INVALID_ARGUMENT'],
      [cache.getOrSet('k', factory, { ttlMs: -1 }), 'INVALID_ARGUMENT'],
      [cache.getOrSet('k', factory, { hardTimeoutMs: 1.5 }), 'INVALID_ARGUMENT'],
    ];
    for (const [call, code] of calls) expect((await rejectionOf(call)).code).toBe(code);
    await cache.close();
    expect((await rejectionOf(cache.getOrSet('k', factory))).code).toBe('CACHE_CLOSED');
    expect((await rejectionOf(cache.get('k'))).code).toBe('CACHE_CLOSED');
  });

  it('refuses an unserializable value with SERIALIZATION_FAILED and keeps the old one', async () => {
    const cache = manager();
    await cache.set('k', 'old');
    const error = await rejectionOf(cache.set('k', { handler: () => 1 }));
    expect(error.code).toBe('SERIALIZATION_FAILED');
    expect(await cache.get('k')).toBe('old');
  });

  it('does not cache a value over maxEntryBytes, counts it, and drops the older value', async () => {
    const cache = manager({ memory: { maxBytes: 1_000_000, maxEntryBytes: 1000 } });
    await cache.set('big', 'small');
    await cache.set('big', 'x'.repeat(5000));
    expect(await cache.get('big')).toBeUndefined();
    expect(cache.getPerformanceStats().eviction.rejections).toBe(1);
    const value = await cache.getOrSet('big2', () => 'y'.repeat(5000));
    expect(value).toBe('y'.repeat(5000));
    expect(await cache.get('big2')).toBeUndefined();
    expect(cache.getPerformanceStats().eviction.rejections).toBe(2);
  });

  it('validates write options', async () => {
    const cache = manager();
    expect((await rejectionOf(cache.set('k', 1, { ttlMs: -1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejectionOf(cache.set('k', 1, { tags: ['ok', ''] }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejectionOf(cache.getOrSet('k', () => 1, { hardTimeoutMs: 0 }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await rejectionOf(cache.getOrSet('k', 'nope' as never))).code).toBe('INVALID_ARGUMENT');
    expect(await cache.get('k')).toBeUndefined();
  });

  it('keeps the byte budget under a stream of writes', async () => {
    const cache = manager({ memory: { maxBytes: 200_000 } });
    for (let i = 0; i < 5000; i++) {
      await cache.set(`item:${i}`, { i, body: 'z'.repeat(i % 700) });
      const usage = cache.getMemoryUsage();
      if (usage.bytes > usage.budgetBytes) throw new Error(`over budget after ${i}: ${usage.bytes}`);
    }
    const usage = cache.getMemoryUsage();
    expect(usage.entries).toBeGreaterThan(100);
    expect(usage.bytes).toBeLessThanOrEqual(200_000);
    expect(cache.getPerformanceStats().eviction.evictions).toBeGreaterThan(0);
  });

  it("derives 'auto' memory from the V8 heap limit", () => {
    const cache = manager({ memory: { maxBytes: 'auto', autoHeapFraction: 0.1 } });
    const expected = Math.floor(getHeapStatistics().heap_size_limit * 0.1);
    expect(cache.getMemoryUsage().budgetBytes).toBe(expected);
  });

  it('holds large values compressed in L1 and returns them intact', async () => {
    const cache = manager({ memory: { maxBytes: 10_000_000, compressAboveBytes: 4096 } });
    const listing = {
      items: Array.from({ length: 300 }, (_, i) => ({
        id: i,
        title: `Room ${i}`,
        city: 'Tokyo',
        at: new Date(i),
      })),
    };
    await cache.set('listing:page:1', listing, { dataType: 'listing' });
    expect(await cache.get('listing:page:1')).toEqual(listing);
    const stats = cache.getPerformanceStats();
    expect(stats.compression.ratio).toBeLessThan(0.5);
    expect(stats.memory.bytes).toBeLessThan(JSON.stringify(listing).length / 2);
  });

  it('treats a corrupt stored envelope as a miss, counts it and drops the entry', async () => {
    const cache = manager({ memory: { maxBytes: 10_000_000, compressAboveBytes: 4096 } });
    await cache.set('page', 'z'.repeat(20_000));
    // Flip a byte of the envelope L1 holds, as a memory or storage fault would.
    const l1 = (cache as unknown as { l1: { peek(key: string): { value: Uint8Array } } }).l1;
    const envelope = l1.peek('page').value;
    envelope[envelope.length - 10] ^= 0xff;
    expect(await cache.get('page')).toBeUndefined();
    expect(cache.getPerformanceStats().errors.decode).toBe(1);
    expect(await cache.getOrSet('page', () => 'fresh')).toBe('fresh');
  });
});

describe('OptimizedCacheManager: getOrSet', () => {
  it('runs one factory for 1,000 concurrent callers of a cold key', async () => {
    const cache = manager();
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(20);
      return { id: 7 };
    };
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => cache.getOrSet('product:7', factory)),
    );
    expect(calls).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ id: 7 });
    expect(cache.getPerformanceStats().factory).toMatchObject({ calls: 1, singleFlightJoins: 999 });
    expect(await cache.getOrSet('product:7', factory)).toEqual({ id: 7 });
    expect(calls).toBe(1);
  });

  it('rejects every waiter with the factory error when there is nothing stale, and does not cache', async () => {
    const cache = manager();
    const boom = new Error('origin down');
    const waiters = Array.from({ length: 5 }, () => cache.getOrSet('k', () => Promise.reject(boom)));
    for (const waiter of waiters) await expect(waiter).rejects.toBe(boom);
    expect(cache.getPerformanceStats().factory.errors).toBe(1);
    expect(await cache.getOrSet('k', () => 'recovered')).toBe('recovered');
  });

  it('serves the stale value within grace when the factory fails', async () => {
    const cache = manager();
    await cache.getOrSet('k', () => 'v1', { ttlMs: 20, graceMs: 10_000 });
    await sleep(40);
    expect(await cache.get('k')).toBeUndefined();
    const value = await cache.getOrSet('k', () => Promise.reject(new Error('down')), {
      ttlMs: 20,
      graceMs: 10_000,
    });
    expect(value).toBe('v1');
    expect(cache.getPerformanceStats().requests.staleServed).toBe(1);
  });

  it('does not serve a value past its grace', async () => {
    const cache = manager();
    await cache.getOrSet('k', () => 'v1', { ttlMs: 20, graceMs: 20 });
    await sleep(60);
    await expect(cache.getOrSet('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
  });

  it('returns the stale value at the soft timeout and refreshes in the background', async () => {
    const cache = manager();
    await cache.getOrSet('k', () => 'v1', { ttlMs: 20, graceMs: 10_000 });
    await sleep(40);
    const started = performance.now();
    const value = await cache.getOrSet(
      'k',
      async () => {
        await sleep(150);
        return 'v2';
      },
      { ttlMs: 10_000, graceMs: 10_000, softTimeoutMs: 30 },
    );
    expect(value).toBe('v1');
    expect(performance.now() - started).toBeLessThan(120);
    expect(cache.getPerformanceStats().factory.softTimeouts).toBe(1);
    await sleep(200);
    expect(await cache.get('k')).toBe('v2');
  });

  it('throws FACTORY_TIMEOUT at the hard timeout when nothing is stale, and still caches the late result', async () => {
    const cache = manager();
    const slow = async () => {
      await sleep(120);
      return 'late';
    };
    const error = await rejectionOf(cache.getOrSet('k', slow, { hardTimeoutMs: 30 }));
    expect(error.code).toBe('FACTORY_TIMEOUT');
    expect(cache.getPerformanceStats().factory.hardTimeouts).toBe(1);
    await sleep(150);
    expect(await cache.get('k')).toBe('late');
  });

  it('forceFresh calls the factory even when a value is cached', async () => {
    const cache = manager();
    await cache.set('k', 'cached');
    expect(await cache.getOrSet('k', () => 'fresh', { forceFresh: true })).toBe('fresh');
    expect(await cache.get('k')).toBe('fresh');
  });

  it('returns, but does not cache, a factory value that cannot be serialized', async () => {
    const cache = manager();
    const value = { run: () => 1 };
    expect(await cache.getOrSet('k', () => value)).toBe(value);
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.getPerformanceStats().errors.serialization).toBe(1);
  });
});

describe('OptimizedCacheManager: invalidation', () => {
  it('invalidates by tag and returns the count', async () => {
    const cache = manager();
    await cache.set('product:1', 1, { tags: ['collection:tea'] });
    await cache.set('product:2', 2, { tags: ['collection:tea', 'sale'] });
    await cache.set('product:3', 3, { tags: ['sale'] });
    expect(await cache.invalidateTags(['collection:tea'])).toBe(2);
    expect(await cache.get('product:1')).toBeUndefined();
    expect(await cache.get('product:3')).toBe(3);
    expect(await cache.invalidateTags(['collection:tea'])).toBe(0);
  });

  it('invalidates dependents transitively, safe against cycles', async () => {
    const cache = manager();
    // read-through fills, which (unlike set) do not invalidate the dependents of the filled key
    await cache.getOrSet('a', () => 'a', { dependsOn: ['c'] });
    await cache.getOrSet('b', () => 'b', { dependsOn: ['a'] });
    await cache.getOrSet('c', () => 'c', { dependsOn: ['b'] }); // cycle a → b → c → a
    await cache.set('other', 'o');
    expect(await cache.delete('a')).toBe(true);
    for (const key of ['a', 'b', 'c']) expect(await cache.get(key)).toBeUndefined();
    expect(await cache.get('other')).toBe('o');
  });

  it('a set invalidates the dependents of the key; a read-through fill does not', async () => {
    const cache = manager();
    await cache.set('listing:tokyo', ['p1'], { dependsOn: ['property:1'] });
    await cache.getOrSet('property:1', () => ({ rent: 100 }));
    expect(await cache.get('listing:tokyo')).toEqual(['p1']);
    await cache.set('property:1', { rent: 120 });
    expect(await cache.get('listing:tokyo')).toBeUndefined();
  });

  it('invalidates by glob pattern within the namespace', async () => {
    const cache = manager();
    for (const key of ['user:1', 'user:2', 'user:10', 'users', 'product:1']) await cache.set(key, key);
    expect(await cache.invalidate('user:?')).toBe(2);
    expect(await cache.get('user:10')).toBe('user:10');
    expect(await cache.invalidate('user[s:]*')).toBe(2);
    expect(await cache.get('product:1')).toBe('product:1');
    expect((await rejectionOf(cache.invalidate('user[1'))).code).toBe('INVALID_ARGUMENT');
  });

  it('sweeps a 100,000-entry tag in slices: the event loop turns, passed keys stay gone, a repeat waits', async () => {
    const cache = manager({ memory: { maxBytes: 256 * 2 ** 20 } });
    const entries = 100_000;
    for (let i = 0; i < entries; i++) await cache.set(`k:${i}`, i, { tags: ['big'] });
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const first = cache.invalidateTags(['big']);
    const second = cache.invalidateTags(['big']);
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const during = cache.getMemoryUsage().entries;
    expect(during).toBeGreaterThan(0);
    expect(during).toBeLessThan(entries);
    // k:0 was among the first swept: it stays gone while the sweep goes on.
    expect(await cache.get('k:0')).toBeUndefined();
    expect(secondDone).toBe(false);
    expect(await second).toBe(0);
    expect(cache.getMemoryUsage().entries).toBe(0);
    expect(await first).toBe(entries);
    delay.disable();
    expect(delay.max / 1e6).toBeLessThan(50);
    await cache.set('k:0', 'new', { tags: ['big'] });
    expect(await cache.get('k:0')).toBe('new');
  });

  it('removes 100,000 dependents in slices', async () => {
    const cache = manager({ memory: { maxBytes: 256 * 2 ** 20 } });
    await cache.set('root', 'r');
    for (let i = 0; i < 100_000; i++) await cache.set(`d:${i}`, i, { dependsOn: ['root'] });
    await cache.set('other', 'o');
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const deleted = cache.delete('root');
    await new Promise((resolve) => setImmediate(resolve));
    const during = cache.getMemoryUsage().entries;
    expect(during).toBeGreaterThan(1);
    expect(during).toBeLessThan(100_001);
    expect(await cache.get('d:0')).toBeUndefined();
    expect(await deleted).toBe(true);
    delay.disable();
    expect(delay.max / 1e6).toBeLessThan(50);
    expect(cache.getMemoryUsage().entries).toBe(1);
    expect(cache.getPerformanceStats().writes.invalidatedKeys).toBe(100_001);
  });

  it('unlinks evicted entries from the tag index', async () => {
    const cache = manager({ memory: { maxBytes: 50_000 } });
    for (let i = 0; i < 2000; i++) await cache.set(`k${i}`, i, { tags: ['all'] });
    const live = cache.getMemoryUsage().entries;
    expect(await cache.invalidateTags(['all'])).toBe(live);
  });
});

describe('OptimizedCacheManager: statistics and load', () => {
  it('reports the most requested keys with their hit rates', async () => {
    const cache = manager();
    await cache.set('hot', 1);
    for (let i = 0; i < 800; i++) await cache.get('hot');
    for (let i = 0; i < 200; i++) await cache.get(`cold:${i}`);
    const stats = cache.getPerformanceStats();
    expect(stats.topKeys[0]!.key).toBe('hot');
    expect(stats.topKeys[0]!.hitRate).toBe(1);
    expect(stats.topKeys[0]!.requests).toBeGreaterThan(600);
    expect(stats.latency.l1Hit.count).toBeGreaterThan(50);
  });

  it('skips compression while the event loop lags and shrinks L1 under heap pressure', async () => {
    let sample: LoadSample = { eventLoopLagMs: 0, eventLoopUtilization: 0.2, heapUsedRatio: 0.3 };
    const cache = manager({
      memory: { maxBytes: 1_000_000, compressAboveBytes: 2048 },
      load: { intervalMs: 10, probe: () => sample },
    });
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, 'x'.repeat(1000));
    sample = { eventLoopLagMs: 300, eventLoopUtilization: 1, heapUsedRatio: 0.95 };
    await sleep(40);
    let stats = cache.getPerformanceStats();
    expect(stats.load.shedding).toEqual(['compression', 'l1-budget']);
    expect(stats.memory.budgetBytes).toBeLessThan(1_000_000);
    expect(stats.memory.bytes).toBeLessThanOrEqual(stats.memory.budgetBytes);
    // Written twice: W-TinyLFU turns away a one-off newcomer that is no more popular than the
    // one-off entries it would displace; the second write makes it the more frequent one.
    await cache.set('large', 'y'.repeat(10_000));
    await cache.set('large', 'y'.repeat(10_000));
    expect(cache.getPerformanceStats().compression.shedWhileBusy).toBe(2);
    expect(await cache.get('large')).toBe('y'.repeat(10_000));
    sample = { eventLoopLagMs: 1, eventLoopUtilization: 0.2, heapUsedRatio: 0.5 };
    await sleep(40);
    stats = cache.getPerformanceStats();
    expect(stats.load.shedding).toEqual([]);
    expect(stats.memory.budgetBytes).toBe(1_000_000);
  });

  it('throws CACHE_CLOSED after close', async () => {
    const cache = manager();
    await cache.close();
    expect((await rejectionOf(cache.get('k'))).code).toBe('CACHE_CLOSED');
  });
});

describe('OptimizedCacheManager: configuration', () => {
  it('memory.windowFraction fixes the L1 admission window; without it the window adapts', async () => {
    const fill = async (cache: OptimizedCacheManager) => {
      // keys read twice and then left: the cache fills, evicts, and the tuner takes its first share
      for (let k = 0; k < 400; k++)
        for (let read = 0; read < 2; read++) await cache.getOrSet(`k${k}`, async () => k);
      return cache.getPerformanceStats().eviction.windowFraction;
    };
    const fixed = new OptimizedCacheManager({
      load: false,
      memory: { maxBytes: 10_000_000, maxEntries: 100, windowFraction: 0.01 },
    });
    const adaptive = new OptimizedCacheManager({
      load: false,
      memory: { maxBytes: 10_000_000, maxEntries: 100 },
    });
    expect(await fill(fixed)).toBe(0.01);
    expect(await fill(adaptive)).not.toBe(0.01);
    await Promise.all([fixed.close(), adaptive.close()]);
  });

  it('names the bad setting', () => {
    const cases: Array<[CacheManagerOptions, string]> = [
      [{ namespace: 'a*b' }, 'namespace'],
      [{ memory: { maxBytes: -5 } }, 'memory.maxBytes'],
      [{ memory: { maxBytes: 1000, maxEntryBytes: 2000 } }, 'memory.maxEntryBytes'],
      [{ memory: { windowFraction: 1.5 } }, 'memory.windowFraction'],
      [{ defaults: { softTimeoutMs: 500, hardTimeoutMs: 100 } }, 'defaults.softTimeoutMs'],
      [{ colour: 'blue' } as CacheManagerOptions, 'colour'],
    ];
    for (const [options, setting] of cases) {
      let caught: unknown;
      try {
        new OptimizedCacheManager({ load: false, ...options });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).setting).toBe(setting);
      expect((caught as ConfigError).message).toMatch(new RegExp(`^${setting.replace('.', '\\.')}: `));
    }
    expect(errorCode(() => new OptimizedCacheManager({ load: false, ttl: { ttlVariationFactor: 2 } }))).toBe(
      'CONFIG_INVALID',
    );
  });
});
