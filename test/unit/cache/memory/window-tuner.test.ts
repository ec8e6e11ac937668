import { describe, expect, it } from 'vitest';
import { hashKey } from '../../../../src/cache/memory/hash.js';
import { SmartCache } from '../../../../src/cache/memory/index.js';
import {
  CANDIDATE_SHARES,
  INITIAL_SHARE,
  type ShadowFactory,
  WindowTuner,
} from '../../../../src/cache/memory/window-tuner.js';

function readThrough(cache: SmartCache<number, true>, key: number): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, true);
  return false;
}

const shadows: ShadowFactory = (maxEntries, windowFraction) =>
  new SmartCache<number, true>({ maxEntries, windowFraction });

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
  it('starts as LRU and races one shadow per candidate share', () => {
    const created: number[] = [];
    const tuner = new WindowTuner(
      100,
      (maxEntries, share) => {
        created.push(share);
        expect(maxEntries).toBeGreaterThan(0);
        return shadows(maxEntries, share);
      },
      () => {},
    );
    expect(tuner.windowShare).toBe(INITIAL_SHARE);
    expect(INITIAL_SHARE).toBe(1);
    expect(created).toEqual([...CANDIDATE_SHARES]);
  });

  it('stays LRU on a recency-only workload', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(100, shadows, (share) => decided.push(share));
    for (const key of burstsOfThree(300_000)) tuner.record(hashKey(key));
    expect(decided).toEqual([]);
    expect(tuner.windowShare).toBe(1);
  });

  it('moves to the smallest window on a loop a little larger than the cache', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(512, shadows, (share) => decided.push(share));
    for (const key of loop(700, 200)) tuner.record(hashKey(key));
    expect(decided.length).toBeGreaterThan(0);
    expect(tuner.windowShare).toBe(CANDIDATE_SHARES[0]);
  });

  it('restarts the race from forks of the shadow that followed the cache when it switches', () => {
    const forks: number[] = [];
    const counting: ShadowFactory = (maxEntries, share) => {
      const shadow = new SmartCache<number, true>({ maxEntries, windowFraction: share });
      const fork = shadow.fork.bind(shadow);
      return Object.assign(shadow, {
        fork: (next: number) => {
          forks.push(next);
          return fork(next);
        },
      });
    };
    const decided: number[] = [];
    const tuner = new WindowTuner(512, counting, (share) => decided.push(share));
    for (const key of loop(700, 200)) tuner.record(hashKey(key));
    expect(decided.length).toBeGreaterThan(0);
    // the first switch leaves LRU: the LRU shadow is the one followed, the others are its forks
    expect(forks.slice(0, 3)).toEqual(CANDIDATE_SHARES.filter((share) => share !== 1));
    expect(forks.length).toBe((CANDIDATE_SHARES.length - 1) * decided.length);
  });

  it('does not oscillate when two shares are equally good', () => {
    const decided: number[] = [];
    const tuner = new WindowTuner(1_000, shadows, (share) => decided.push(share));
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
