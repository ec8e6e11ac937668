import { afterEach, describe, expect, it, vi } from 'vitest';
import { hashKey } from '../../../../src/cache/memory/hash.js';
import { SmartCache } from '../../../../src/cache/memory/index.js';
import { ShadowCache } from '../../../../src/cache/memory/shadow-cache.js';
import { CANDIDATE_SHARES, INITIAL_SHARE, WindowTuner } from '../../../../src/cache/memory/window-tuner.js';

function readThrough(cache: SmartCache<number, true>, key: number): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, true);
  return false;
}

/** Each key read three times within a span of 30 reads, then never again: LRU is optimal. */
function* burstsOfThree(reads: number): Generator<number> {
  for (let base = 0; base * 3 < reads; base += 10) {
    for (let repeat = 0; repeat < 3; repeat++) for (let k = base; k < base + 10; k++) yield k;
  }
}

/** A loop over `keys` keys, `passes` times: a frequency-biased window keeps part of it. */
function* loop(keys: number, passes: number): Generator<number> {
  for (let pass = 0; pass < passes; pass++) for (let k = 0; k < keys; k++) yield k;
}

describe('WindowTuner', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('starts as LRU and hands every sampled read to one shadow per candidate share', () => {
    const reads = vi.spyOn(ShadowCache.prototype, 'read');
    const tuner = new WindowTuner(100, () => {});
    expect(tuner.windowShare).toBe(INITIAL_SHARE);
    expect(INITIAL_SHARE).toBe(1);
    // a cache of 100 entries: the shadows are smaller than 1,024, so the sampling rate is capped
    for (let key = 0; key < 8_000; key++) tuner.record(hashKey(key));
    const sampled = reads.mock.calls.length / CANDIDATE_SHARES.length;
    expect(Number.isInteger(sampled)).toBe(true);
    expect(sampled / 8_000).toBeGreaterThan(0.1);
    expect(sampled / 8_000).toBeLessThan(0.15);
    // a key is sampled on every read or never
    reads.mockClear();
    for (let repeat = 0; repeat < 3; repeat++) tuner.record(hashKey(0));
    expect([0, 3 * CANDIDATE_SHARES.length]).toContain(reads.mock.calls.length);
  });

  it('stays LRU on a recency-only workload', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(100, (share) => decided.push(share));
    for (const key of burstsOfThree(300_000)) tuner.record(hashKey(key));
    expect(decided).toEqual([]);
    expect(tuner.windowShare).toBe(1);
  });

  it('moves to the smallest window on a loop a little larger than the cache', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(512, (share) => decided.push(share));
    for (const key of loop(700, 200)) tuner.record(hashKey(key));
    expect(decided.length).toBeGreaterThan(0);
    expect(tuner.windowShare).toBe(CANDIDATE_SHARES[0]);
  });

  it('restarts the race from forks of the shadow that followed the cache when it switches', () => {
    const forks = vi.spyOn(ShadowCache.prototype, 'fork');
    const decided: number[] = [];
    const tuner = new WindowTuner(512, (share) => decided.push(share));
    for (const key of loop(700, 200)) tuner.record(hashKey(key));
    expect(decided.length).toBeGreaterThan(0);
    // the first switch leaves LRU: the LRU shadow is the one followed, the others are its forks
    const forkedShares = forks.mock.calls.map(([share]) => share);
    expect(forkedShares.slice(0, 3)).toEqual(CANDIDATE_SHARES.filter((share) => share !== 1));
    expect(forkedShares.length).toBe((CANDIDATE_SHARES.length - 1) * decided.length);
  });

  it('does not oscillate when two shares are equally good', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(1_000, (share) => decided.push(share));
    // everything fits: every shadow hits on every repeated read, so there is no evidence either way
    for (let i = 0; i < 500_000; i++) tuner.record(hashKey(i % 500));
    expect(decided).toEqual([]);
  });

  it('drives SmartCache: it matches LRU where LRU is best and beats it on a loop', () => {
    const adaptive = new SmartCache<number, true>({ maxEntries: 100 });
    const lru = new SmartCache<number, true>({ maxEntries: 100, windowFraction: 1 });
    let adaptiveHits = 0;
    let lruHits = 0;
    for (const key of burstsOfThree(600_000)) {
      if (readThrough(adaptive, key)) adaptiveHits++;
      if (readThrough(lru, key)) lruHits++;
    }
    expect(adaptive.windowFraction()).toBe(1);
    expect(adaptiveHits).toBeGreaterThan(lruHits * 0.99);

    const looping = new SmartCache<number, true>({ maxEntries: 500 });
    const loopingLru = new SmartCache<number, true>({ maxEntries: 500, windowFraction: 1 });
    let loopHits = 0;
    let loopLruHits = 0;
    for (const key of loop(600, 100)) {
      if (readThrough(looping, key)) loopHits++;
      if (readThrough(loopingLru, key)) loopLruHits++;
    }
    expect(loopLruHits).toBe(0);
    expect(loopHits / 60_000).toBeGreaterThan(0.5);
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
