/** Builds managers sharing a Redis namespace for the Redis-tier integration tests, and closes them. */
import { randomUUID } from 'node:crypto';
import { type CacheManagerOptions, OptimizedCacheManager } from '../../../../src/cache/index.js';
import type { RedisOptions } from '../../../../src/cache/redis/options.js';

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
