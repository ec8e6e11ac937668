import { describe, expect, it } from 'vitest';
import { hashKey } from '../../../../src/cache/memory/hash.js';
import { SmartCache } from '../../../../src/cache/memory/index.js';
import { type ShadowFactory, WindowTuner } from '../../../../src/cache/memory/window-tuner.js';

function readThrough(cache: SmartCache<number, true>, key: number): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, true);
  return false;
}

const shadows: ShadowFactory = (maxEntries, windowFraction) =>
  new SmartCache<number, true>({ maxEntries, windowFraction });

describe('WindowTuner', () => {
  it('moves the window to the whole cache on a recency-only workload', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(100, 0.01, shadows, (share) => decided.push(share));
    // each key is read three times within a span of 30 reads, then never again
    for (let base = 0; base < 300_000; base += 10) {
      for (let repeat = 0; repeat < 3; repeat++)
        for (let k = base; k < base + 10; k++) tuner.record(hashKey(k));
    }
    expect(decided.length).toBeGreaterThan(1);
    expect(tuner.windowShare).toBeGreaterThanOrEqual(0.7);
  });

  it('keeps the window small on a loop a little larger than the cache (frequency wins)', () => {
    const tuner = new WindowTuner(512, 0.01, shadows, () => {});
    for (let pass = 0; pass < 200; pass++) for (let k = 0; k < 700; k++) tuner.record(hashKey(k));
    expect(tuner.windowShare).toBeLessThanOrEqual(0.05);
  });

  it('drives SmartCache: an adaptive cache matches LRU where LRU is best', () => {
    const adaptive = new SmartCache<number, true>({ maxEntries: 100 });
    const lru = new SmartCache<number, true>({ maxEntries: 100, windowFraction: 1 });
    let adaptiveHits = 0;
    let lruHits = 0;
    for (let base = 0; base < 200_000; base += 10) {
      for (let repeat = 0; repeat < 3; repeat++) {
        for (let k = base; k < base + 10; k++) {
          if (readThrough(adaptive, k)) adaptiveHits++;
          if (readThrough(lru, k)) lruHits++;
        }
      }
    }
    expect(adaptive.windowFraction()).toBeGreaterThan(0.5);
    expect(adaptiveHits).toBeGreaterThan(lruHits * 0.97);
  });

  it('a fixed window share stays fixed and is validated', () => {
    const cache = new SmartCache<number, true>({ maxEntries: 100, windowFraction: 0.2 });
    for (let k = 0; k < 50_000; k++) readThrough(cache, k % 150);
    expect(cache.windowFraction()).toBe(0.2);
    expect(() => new SmartCache({ maxEntries: 10, windowFraction: 1.5 })).toThrow(/windowFraction/);
    cache.setWindowFraction(0.5);
    expect(cache.windowFraction()).toBe(0.5);
  });
});
