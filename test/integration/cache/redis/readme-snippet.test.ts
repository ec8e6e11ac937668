/**
 * The README's "Use it" example, run as written (its import aside): a manager made with `new` and
 * never `connect()`ed reaches Redis by itself, so its writes are shared with other instances; and
 * a Redis that does not answer is said once, with its address, and shown in the stats, while the
 * cache works from L1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OptimizedCacheManager } from '../../../../src/cache/index.js';
import { freePort } from '../../../support/free-port.js';
import { redisUrl, waitUntil } from '../../../support/index.js';
import { Managers, uniqueNamespace } from './managers.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'README.md'), 'utf8');
const managers = new Managers();
afterAll(() => managers.closeAll());

/** The TypeScript block of the README's "Use it" section. */
function snippet(): string {
  const section = README.slice(README.indexOf('## Use it'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('README.md has no ```ts block under "## Use it"');
  return block;
}

/** The snippet as a function of what it uses (plain JavaScript: it has no type annotations). */
function runnable(url: string, namespace: string) {
  const body = snippet()
    .replace(/^import .*$/m, '')
    .replace("'redis://127.0.0.1:6379'", JSON.stringify(url))
    .replace("namespace: 'shop'", `namespace: ${JSON.stringify(namespace)}`)
    .replace('console.log(cache.getPerformanceStats());', 'stats.push(cache.getPerformanceStats());');
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return new AsyncFunction('OptimizedCacheManager', 'shopify', 'id', 'collectionId', 'stats', body);
}

describe("the README's example", () => {
  it('runs as written: reads through, writes, invalidates, shares through Redis, closes', async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace('readme');
    const other = await managers.open(namespace, { url });
    const products = new Map([[42, { id: 42, price: '12.00' }]]);
    const shopify = {
      getProduct: async (id: number) => ({ ...products.get(id) }),
      updateProduct: async (id: number, change: { price: string }) => {
        products.set(id, { id, ...change });
      },
    };
    await other.set('product:42', { id: 42, price: 'stale' }, { tags: ['collection:7'] });
    const stats: { l2?: { target: string } }[] = [];
    await runnable(url, namespace)(OptimizedCacheManager, shopify, 42, 7, stats);
    expect(stats[0]?.l2?.target).toBe(url);
    expect(products.get(42)?.price).toBe('13.50');
    // The write's invalidation reached the other instance through Redis.
    expect(await waitUntil(async () => (await other.get('product:42')) === undefined, 2_000)).toBe(true);
  });

  it('without connect(), reaches Redis by itself', async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace('readme-new');
    const writer = new OptimizedCacheManager({ namespace, redis: { url } });
    try {
      expect(await waitUntil(async () => writer.getPerformanceStats().l2?.state === 'ready', 5_000)).toBe(
        true,
      );
      await writer.set('k', 'shared');
      const reader = await managers.open(namespace, { url });
      expect(await reader.get('k')).toBe('shared');
    } finally {
      await writer.close();
    }
  });

  it('says once, with its address, when Redis does not answer, and keeps working from L1', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const cache = new OptimizedCacheManager({
      namespace: uniqueNamespace('readme-down'),
      redis: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 },
      logger: { warn: (message) => warnings.push(message) },
    });
    try {
      await cache.set('k', 'local');
      expect(await cache.get('k')).toBe('local');
      await cache.connect();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`127.0.0.1:${port}`);
      expect(warnings[0]).toContain('ECONNREFUSED');
      const l2 = cache.getPerformanceStats().l2;
      expect(l2).toMatchObject({ state: 'disconnected', target: `redis://127.0.0.1:${port}` });
      expect(l2?.lastError).toContain('ECONNREFUSED');
    } finally {
      await cache.close();
    }
  });
});
