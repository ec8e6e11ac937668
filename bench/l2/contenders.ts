/**
 * The contenders of `npm run bench:l2`, each behind one small interface so the measuring code is
 * the same for all: open an instance (connected, nothing timed yet), get / set / getOrSet, close.
 *
 * Each is configured as its documentation recommends for a memory L1 in front of Redis, with the
 * same memory capacity and the same connection settings where the library lets us choose:
 * - Keel: `OptimizedCacheManager` with `memory` and `redis.url` (its ioredis connection has
 *   auto-pipelining on; `load: false` so no background monitor runs).
 * - BentoCache: `bentostore().useL1Layer(memoryDriver).useL2Layer(redisDriver)`, handed an ioredis
 *   client with `enableAutoPipelining: true` (what Keel and the raw baseline use), JSON serializer
 *   (its default), no bus (one process).
 * - cache-manager 7: two Keyv stores, CacheableMemory then `@keyv/redis` (node-redis, which
 *   pipelines the commands of a tick on its own); namespaced with `createKeyv`.
 * - raw ioredis (`enableAutoPipelining: true`): SET / `getBuffer` of msgpackr `pack` / `unpack`,
 *   the floor of "one GET and a decode per key"; it has no memory layer and no getOrSet.
 *
 * Every contender writes under its own prefix (`pattern` is the SCAN glob of all its keys), so
 * the benchmark can clear one contender without touching anything else.
 */
import { createKeyv } from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { pack, unpack } from 'msgpackr';
import { OptimizedCacheManager, type PerformanceStats } from '../../src/cache/index.js';
import type { Product } from './workload.js';

/** What each measured instance offers; `getOrSet` is absent where the library has none. */
export interface Instance {
  get(key: string): Promise<Product | undefined>;
  set(key: string, value: Product, ttlMs: number): Promise<void>;
  getOrSet?(key: string, factory: () => Promise<Product>, ttlMs: number): Promise<Product>;
  /** Keel's statistics, for the report. */
  keelStats?(): PerformanceStats;
  close(): Promise<void>;
}

export interface MemoryLayer {
  /** Most entries the memory layer holds. */
  maxEntries: number;
  /** Byte budget where the library needs one (Keel's L1). */
  maxBytes: number;
}

export interface Contender {
  name: string;
  /** SCAN glob matching every Redis key this contender writes. */
  pattern: string;
  open(): Promise<Instance>;
}

const BENCH_PREFIX = 'bench-l2';

/** Keel: namespace `bench-l2.<scenario>.keel`, values at `<namespace>#v:<key>`. */
export function keel(scenario: string, url: string, memory: MemoryLayer): Contender {
  const namespace = `${BENCH_PREFIX}.${scenario}.keel`;
  return {
    name: 'keel',
    pattern: `${namespace}#*`,
    async open() {
      const cache = await OptimizedCacheManager.create({
        namespace,
        memory: { maxBytes: memory.maxBytes, maxEntries: memory.maxEntries },
        redis: { url, required: true },
        load: false,
      });
      return {
        get: (key) => cache.get<Product>(key),
        set: (key, value, ttlMs) => cache.set(key, value, { ttlMs }),
        getOrSet: (key, factory, ttlMs) => cache.getOrSet(key, factory, { ttlMs }),
        keelStats: () => cache.getPerformanceStats(),
        close: () => cache.close(),
      };
    },
  };
}

/** BentoCache: driver prefix `bench-l2.<scenario>.bento`, keys `<prefix>:<key>`. */
export function bentocache(scenario: string, url: string, memory: MemoryLayer): Contender {
  const prefix = `${BENCH_PREFIX}.${scenario}.bento`;
  return {
    name: 'bentocache',
    pattern: `${prefix}:*`,
    async open() {
      const connection = new Redis(url, { enableAutoPipelining: true });
      const bento = new BentoCache({
        default: 'tiered',
        stores: {
          tiered: bentostore()
            .useL1Layer(memoryDriver({ maxItems: memory.maxEntries }))
            .useL2Layer(redisDriver({ connection, prefix })),
        },
      });
      await connection.ping();
      return {
        get: (key) => bento.get<Product>({ key }),
        set: async (key, value, ttlMs) => {
          await bento.set({ key, value, ttl: ttlMs });
        },
        getOrSet: (key, factory, ttlMs) => bento.getOrSet({ key, factory, ttl: ttlMs }),
        close: () => bento.disconnect(),
      };
    },
  };
}

/** cache-manager 7: Keyv namespace `bench-l2.<scenario>.cache-manager`, keys `<namespace>::<key>`. */
export function cacheManager(scenario: string, url: string, memory: MemoryLayer): Contender {
  const namespace = `${BENCH_PREFIX}.${scenario}.cache-manager`;
  return {
    name: 'cache-manager',
    pattern: `${namespace}::*`,
    async open() {
      const cache = createCache({
        stores: [
          new Keyv({ store: new CacheableMemory({ lruSize: memory.maxEntries }) }),
          createKeyv(url, { namespace }),
        ],
      });
      // @keyv/redis connects on first use: make that use now, outside any measurement.
      await cache.get(`${namespace}:connect`);
      return {
        get: (key) => cache.get<Product>(key) as Promise<Product | undefined>,
        set: async (key, value, ttlMs) => {
          await cache.set(key, value, ttlMs);
        },
        getOrSet: (key, factory, ttlMs) => cache.wrap(key, factory, ttlMs),
        close: () => cache.disconnect(),
      };
    },
  };
}

/** ioredis with auto-pipelining: `bench-l2.<scenario>.raw:<key>` holds msgpackr `pack(value)`. */
export function rawIoredis(scenario: string, url: string): Contender {
  const prefix = `${BENCH_PREFIX}.${scenario}.raw:`;
  return {
    name: 'ioredis GET+unpack',
    pattern: `${prefix}*`,
    async open() {
      const client = new Redis(url, { enableAutoPipelining: true });
      await client.ping();
      return {
        get: async (key) => {
          const bytes = await client.getBuffer(prefix + key);
          return bytes === null ? undefined : (unpack(bytes) as Product);
        },
        set: async (key, value, ttlMs) => {
          await client.set(prefix + key, pack(value), 'PX', ttlMs);
        },
        close: async () => {
          await client.quit();
        },
      };
    },
  };
}

/** The contenders by name, as the coordinating process names them to each contender's process. */
const CONTENDERS = {
  keel,
  bentocache,
  'cache-manager': cacheManager,
  'ioredis GET+unpack': (scenario: string, url: string) => rawIoredis(scenario, url),
} satisfies Record<string, (scenario: string, url: string, memory: MemoryLayer) => Contender>;

export type ContenderName = keyof typeof CONTENDERS;

export function contenderNamed(
  name: ContenderName,
  scenario: string,
  url: string,
  memory: MemoryLayer,
): Contender {
  return CONTENDERS[name](scenario, url, memory);
}
