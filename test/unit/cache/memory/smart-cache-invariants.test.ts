import { describe, expect, it } from 'vitest';
import { type EvictionReason, SmartCache } from '../../../../src/cache/memory/index.js';
import { mulberry32 } from '../../../../src/util/random.js';

/**
 * Random operation sequences against a model of what the cache may hold: whatever the sequence,
 * the bounds hold after every call, byte accounting matches the entries held, the queues' weights
 * add up to what the entries weigh under the current bounds, and every entry that disappears was
 * deleted, cleared, overwritten away or reported through onEvict.
 */

/** The sum of the cache's queue weights (private state, read for this check only). */
function totalQueueWeight(cache: SmartCache<number, number>): number {
  const weights = (cache as unknown as { queues: { weight: Float64Array } }).queues.weight;
  return weights[0]! + weights[1]! + weights[2]!;
}
describe('SmartCache invariants under random operations', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}`, () => {
      const random = mulberry32(seed);
      const clock = { time: 0 };
      const evicted = new Map<number, EvictionReason>();
      const sizes = new Map<number, number>();
      let maxBytes = 20_000;
      let maxEntries = 300;
      const cache = new SmartCache<number, number>({
        maxBytes,
        maxEntries,
        maxEntryBytes: 4_000,
        now: () => clock.time,
        onEvict: (key, _value, reason) => {
          evicted.set(key, reason);
          sizes.delete(key);
        },
      });
      for (let step = 0; step < 20_000; step++) {
        const key = Math.floor(random() ** 2 * 2_000);
        const action = random();
        clock.time += Math.floor(random() * 20);
        if (action < 0.5) {
          cache.get(key);
        } else if (action < 0.85) {
          const size = 1 + Math.floor(random() * 5_000);
          const ttlMs = random() < 0.3 ? 1 + Math.floor(random() * 2_000) : undefined;
          evicted.delete(key);
          if (cache.set(key, step, { size, ttlMs })) sizes.set(key, size);
          else sizes.delete(key);
        } else if (action < 0.95) {
          cache.delete(key);
          sizes.delete(key);
        } else if (action < 0.99) {
          cache.purgeExpired();
        } else {
          maxBytes = 5_000 + Math.floor(random() * 30_000);
          maxEntries = 50 + Math.floor(random() * 400);
          cache.resize({ maxBytes, maxEntries });
          // Each entry weighs its size, but at least its share of the entry bound in bytes. (Swept
          // first: `keys` lists only live entries, the queues hold the expired ones until swept.)
          cache.purgeExpired();
          let expected = 0;
          for (const key of cache.keys())
            expected += Math.max(sizes.get(key) ?? Number.NaN, maxBytes / maxEntries);
          expect(totalQueueWeight(cache)).toBeCloseTo(expected, 3);
        }
        expect(cache.bytes).toBeLessThanOrEqual(maxBytes);
        expect(cache.size).toBeLessThanOrEqual(maxEntries);
      }
      // Entries expired but not yet swept are still held (and still charged) until read or swept.
      let heldBytes = 0;
      for (const key of cache.keys()) heldBytes += sizes.get(key) ?? Number.NaN;
      expect(Number.isNaN(heldBytes)).toBe(false);
      cache.purgeExpired();
      const live = [...cache.keys()];
      // Nothing disappeared silently: every key the model still expects is held.
      for (const key of sizes.keys()) expect(live).toContain(key);
      expect(live.length).toBe(cache.size);
      expect(cache.bytes).toBe(live.reduce((sum, key) => sum + (sizes.get(key) ?? Number.NaN), 0));
      const stats = cache.stats;
      expect(stats.hits + stats.misses).toBeGreaterThan(0);
      expect(stats.evictions).toBeGreaterThan(0);
      expect(stats.expirations).toBeGreaterThan(0);
    });
  }
});
