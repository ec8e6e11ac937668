/** Builds managers sharing a Redis namespace for the Redis-tier integration tests, and closes them. */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { type CacheManagerOptions, OptimizedCacheManager } from '../../../../src/cache/index.js';
import type { RedisOptions } from '../../../../src/cache/redis/options.js';
import { waitUntil } from '../../../support/index.js';

export function uniqueNamespace(label: string): string {
  return `t-${label}-${randomUUID().slice(0, 8)}`;
}

export class Managers {
  private readonly opened: OptimizedCacheManager[] = [];

  /** A connected manager on `redis`, L1 of 16 MiB, no load monitor. */
  async open(
    namespace: string,
    redis: RedisOptions,
    extra: Omit<CacheManagerOptions, 'namespace' | 'redis'> = {},
  ): Promise<OptimizedCacheManager> {
    const manager = await OptimizedCacheManager.create({
      namespace,
      memory: { maxBytes: 16 * 1024 * 1024 },
      load: false,
      ...extra,
      redis,
    });
    this.opened.push(manager);
    return manager;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((manager) => manager.close()));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keys the load of `startLoad` spreads over. */
const LOAD_KEYS = 200;

/** Workers issuing get / set / getOrSet until stopped; every error a caller sees is collected. */
export function startLoad(cache: OptimizedCacheManager) {
  const errors: unknown[] = [];
  let operations = 0;
  let stopped = false;
  const worker = async (seed: number) => {
    let i = seed;
    while (!stopped) {
      const key = `k${(i * 7919) % LOAD_KEYS}`;
      try {
        const kind = i % 3;
        if (kind === 0) await cache.get(key);
        else if (kind === 1) await cache.set(key, { i });
        else await cache.getOrSet(key, () => ({ i }));
        operations++;
      } catch (error) {
        errors.push(error);
      }
      i++;
      if (i % 50 === 0) await sleep(1);
    }
  };
  const workers = Array.from({ length: 16 }, (_, seed) => worker(seed));
  return {
    errors,
    get operations() {
      return operations;
    },
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/**
 * The write a failover can roll back: once `replica` holds `cache`'s `price` (Redis key `key`),
 * replication is cut (the replica loses its link and can no longer authenticate to come back)
 * and `price` is deleted through `cache`, so only `primary` knows of the delete.
 */
export async function deleteWhileReplicationIsCut(
  cache: OptimizedCacheManager,
  primary: Redis,
  replica: Redis,
  key: string,
): Promise<void> {
  expect(await waitUntil(async () => (await replica.exists(key)) === 1, 2_000)).toBe(true);
  await primary.config('SET', 'requirepass', 'cut-off');
  await primary.client('KILL', 'TYPE', 'replica');
  expect(await cache.delete('price')).toBe(true);
  expect(await primary.exists(key)).toBe(0);
  expect(await replica.exists(key)).toBe(1);
}
