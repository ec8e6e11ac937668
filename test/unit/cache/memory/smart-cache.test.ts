import { describe, expect, it } from 'vitest';
import { type EvictionReason, SmartCache } from '../../../../src/cache/memory/index.js';
import { isKeelError } from '../../../../src/errors.js';

function manualClock(start = 1_000_000) {
  const clock = { time: start, now: () => clock.time };
  return clock;
}

describe('SmartCache basics', () => {
  it('stores, reads, overwrites and deletes', () => {
    const cache = new SmartCache<string, number>({ maxEntries: 10 });
    expect(cache.set('a', 1)).toBe(true);
    expect(cache.get('a')).toBe(1);
    expect(cache.has('a')).toBe(true);
    cache.set('a', 2);
    expect(cache.get('a')).toBe(2);
    expect(cache.size).toBe(1);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats).toMatchObject({ hits: 2, misses: 1 });
  });

  it('accepts numeric keys and iterates live keys', () => {
    const cache = new SmartCache<number, string>({ maxEntries: 100 });
    for (let i = 0; i < 50; i++) cache.set(i, `v${i}`);
    expect([...cache.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    cache.clear();
    expect(cache.size).toBe(0);
    expect([...cache.keys()]).toEqual([]);
    cache.set(7, 'again');
    expect(cache.get(7)).toBe('again');
  });

  it('peek reads without counting and has checks presence', () => {
    const cache = new SmartCache<string, number>({ maxEntries: 4 });
    cache.set('k', 1);
    expect(cache.peek('k')).toBe(1);
    expect(cache.stats.hits).toBe(0);
    expect(cache.has('missing')).toBe(false);
  });

  it('rejects bad options and arguments with typed errors', () => {
    const expectCode = (fn: () => unknown, code: string) => {
      try {
        fn();
        expect.unreachable('should have thrown');
      } catch (error) {
        expect(isKeelError(error)).toBe(true);
        expect((error as { code: string }).code).toBe(code);
      }
    };
    expectCode(() => new SmartCache({}), 'CONFIG_INVALID');
    expectCode(() => new SmartCache({ maxEntries: 0 }), 'CONFIG_INVALID');
    expectCode(() => new SmartCache({ maxEntries: 1.5 }), 'CONFIG_INVALID');
    expectCode(() => new SmartCache({ maxBytes: -1 }), 'CONFIG_INVALID');
    const byBytes = new SmartCache<string, string>({ maxBytes: 100 });
    expectCode(() => byBytes.set('k', 'v'), 'INVALID_ARGUMENT');
    expectCode(() => byBytes.set('k', 'v', { size: Number.NaN }), 'INVALID_ARGUMENT');
    expectCode(() => byBytes.set('k', 'v', { size: 1, ttlMs: 0 }), 'INVALID_ARGUMENT');
    expectCode(() => byBytes.set('k', 'v', { size: 1, ttlMs: -5 }), 'INVALID_ARGUMENT');
  });
});

describe('SmartCache bounds', () => {
  it('never holds more than maxEntries and reports capacity evictions', () => {
    const evicted: [string, EvictionReason][] = [];
    const cache = new SmartCache<string, number>({
      maxEntries: 100,
      onEvict: (key, _value, reason) => evicted.push([key, reason]),
    });
    for (let i = 0; i < 10_000; i++) {
      cache.set(`k${i % 3000}`, i);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.size).toBe(100);
    expect(cache.stats.evictions).toBe(evicted.length);
    expect(evicted.every(([, reason]) => reason === 'capacity')).toBe(true);
    // every key is either held or was reported evicted: nothing disappears silently
    const held = new Set(cache.keys());
    const written = new Set(Array.from({ length: 3000 }, (_, i) => `k${i}`));
    const lastEviction = new Map(evicted.map(([key], order) => [key, order]));
    for (const key of written) expect(held.has(key) || lastEviction.has(key)).toBe(true);
  });

  it('never holds more than maxBytes and refuses entries over maxEntryBytes', () => {
    const cache = new SmartCache<string, string>({ maxBytes: 10_000, maxEntryBytes: 2_000 });
    for (let i = 0; i < 5_000; i++) {
      cache.set(`k${i % 700}`, 'x', { size: 50 + ((i * 37) % 900) });
      expect(cache.bytes).toBeLessThanOrEqual(10_000);
    }
    expect(cache.set('big', 'x', { size: 2_001 })).toBe(false);
    expect(cache.stats.rejections).toBe(1);
    expect(cache.has('big')).toBe(false);
    const sum = [...cache.keys()].length;
    expect(sum).toBe(cache.size);
  });

  it('removes the old value when an overwrite is refused', () => {
    const cache = new SmartCache<string, string>({ maxBytes: 1_000, maxEntryBytes: 100 });
    cache.set('k', 'small', { size: 10 });
    expect(cache.set('k', 'huge', { size: 500 })).toBe(false);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('tracks bytes through overwrites, deletes and clear', () => {
    const cache = new SmartCache<string, string>({ maxBytes: 1_000 });
    cache.set('a', 'x', { size: 100 });
    cache.set('b', 'x', { size: 200 });
    cache.set('a', 'y', { size: 50 });
    expect(cache.bytes).toBe(250);
    cache.delete('b');
    expect(cache.bytes).toBe(50);
    cache.clear();
    expect(cache.bytes).toBe(0);
  });

  it('resize evicts at once down to the new bounds', () => {
    const cache = new SmartCache<number, number>({ maxBytes: 100_000, maxEntries: 1_000 });
    for (let i = 0; i < 1_000; i++) cache.set(i, i, { size: 100 });
    expect(cache.bytes).toBe(100_000);
    cache.resize({ maxBytes: 20_000 });
    expect(cache.bytes).toBeLessThanOrEqual(20_000);
    expect(cache.maxBytes).toBe(20_000);
    cache.resize({ maxEntries: 50 });
    expect(cache.size).toBeLessThanOrEqual(50);
    expect(cache.maxEntries).toBe(50);
  });

  it('admits by frequency in an entry-bounded cache whatever the sizes given', () => {
    // Sizes are only counted here (no maxBytes): a size above maxEntries must not count as "too heavy".
    const cache = new SmartCache<number, string>({ maxEntries: 10 });
    for (let i = 0; i < 10; i++) cache.set(i, 'cold', { size: 500 });
    let hits = 0;
    for (let round = 0; round < 20; round++) {
      if (cache.get(100) !== undefined) hits++;
      else cache.set(100, 'hot', { size: 500 });
    }
    expect(hits).toBeGreaterThan(15);
    expect(cache.bytes).toBe(cache.size * 500);
  });

  it('keeps frequently used keys through a scan (the point of TinyLFU)', () => {
    const cache = new SmartCache<number, number>({ maxEntries: 1_000 });
    for (let round = 0; round < 20; round++) {
      for (let hot = 0; hot < 500; hot++) if (cache.get(hot) === undefined) cache.set(hot, hot);
    }
    expect(cache.frequency(1)).toBeGreaterThan(cache.frequency(59_999));
    for (let cold = 10_000; cold < 60_000; cold++) if (cache.get(cold) === undefined) cache.set(cold, cold);
    let hotKept = 0;
    for (let hot = 0; hot < 500; hot++) if (cache.peek(hot) !== undefined) hotKept++;
    // an LRU of this size would keep none of them
    expect(hotKept).toBeGreaterThan(400);
  });

  it('shares its queues by the bound the entries fill: a byte budget that never binds changes nothing', () => {
    const hitsOf = (cache: SmartCache<number, true>) => {
      let seed = 7;
      let hits = 0;
      for (let i = 0; i < 100_000; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const key = i % 4 === 0 ? 1_000_000 + i : Math.floor(5_000 * (seed / 2 ** 32) ** 4);
        if (cache.get(key) !== undefined) hits++;
        else cache.set(key, true, { size: 100 });
      }
      return hits;
    };
    for (const windowFraction of [0.01, 0.1, 0.35]) {
      const byEntries = hitsOf(new SmartCache({ maxEntries: 1_000, windowFraction }));
      // 1,000 entries of 100 bytes use a thousandth of this budget: the entry bound is the one that binds.
      const byBoth = hitsOf(new SmartCache({ maxEntries: 1_000, maxBytes: 100_000_000, windowFraction }));
      expect(byBoth).toBe(byEntries);
    }
  });

  it("keeps a byte budget's queue shares right after resize changes the bounds", () => {
    const cache = new SmartCache<number, true>({
      maxEntries: 1_000,
      maxBytes: 10_000_000,
      windowFraction: 0.1,
    });
    for (let key = 0; key < 1_000; key++) cache.set(key, true, { size: 100 });
    cache.resize({ maxEntries: 500 });
    expect(cache.size).toBe(500);
    // Fresh keys churn through the window; the 500 survivors in main must still be there.
    const survivors = [...cache.keys()];
    for (let round = 0; round < 5; round++) for (const key of survivors) cache.get(key);
    for (let key = 10_000; key < 12_000; key++)
      if (cache.get(key) === undefined) cache.set(key, true, { size: 100 });
    const kept = survivors.filter((key) => cache.peek(key) !== undefined).length;
    expect(kept).toBeGreaterThan(400);
  });

  it('wouldAdmit: a key seen before, while there is room; then only one more popular than the next victim', () => {
    const cache = new SmartCache<number, true>({ maxEntries: 100, windowFraction: 0.01 });
    expect(cache.wouldAdmit(1)).toBe(false); // first sighting: recorded, not admitted
    expect(cache.wouldAdmit(1)).toBe(true); // seen before, and the cache has room
    for (let key = 0; key < 100; key++) cache.set(key, true);
    for (let round = 0; round < 3; round++) for (let key = 0; key < 100; key++) cache.get(key);
    // Full, and every resident was read four times: a key read twice loses to the next victim...
    cache.wouldAdmit(500);
    expect(cache.wouldAdmit(500)).toBe(false);
    // ...and wins once it is read more often than the victim.
    for (let read = 0; read < 6; read++) cache.wouldAdmit(500);
    expect(cache.wouldAdmit(500)).toBe(true);
  });

  it('beats LRU on a skewed workload with a scan mixed in', () => {
    const size = 500;
    const cache = new SmartCache<number, true>({ maxEntries: size });
    const lru = new Map<number, true>();
    let smartHits = 0;
    let lruHits = 0;
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let scan = 1_000_000;
    for (let i = 0; i < 200_000; i++) {
      const key = i % 3 === 0 ? scan++ : Math.floor(2_000 * random() ** 3);
      if (cache.get(key) !== undefined) smartHits++;
      else cache.set(key, true);
      if (lru.has(key)) {
        lruHits++;
        lru.delete(key);
      } else if (lru.size === size) {
        lru.delete(lru.keys().next().value as number);
      }
      lru.set(key, true);
    }
    expect(smartHits).toBeGreaterThan(lruHits * 1.1);
  });
});

describe('SmartCache window share changes', () => {
  it('keeps reused entries protected when the window shrinks, so a scan cannot flush them', () => {
    const cache = new SmartCache<number, number>({ maxEntries: 1_000, windowFraction: 1 });
    for (let round = 0; round < 5; round++)
      for (let hot = 0; hot < 400; hot++) cache.get(hot) ?? cache.set(hot, hot);
    for (let once = 1_000; once < 1_600; once++) cache.set(once, once);
    cache.setWindowFraction(0.01);
    for (let cold = 10_000; cold < 30_000; cold++) cache.get(cold) ?? cache.set(cold, cold);
    let hotKept = 0;
    for (let hot = 0; hot < 400; hot++) if (cache.peek(hot) !== undefined) hotKept++;
    expect(hotKept).toBe(400);
  });

  it('hands main entries back to the window in the order main would have evicted them', () => {
    const evicted: number[] = [];
    const cache = new SmartCache<number, number>({
      maxEntries: 100,
      windowFraction: 0.01,
      onEvict: (key) => evicted.push(key),
    });
    for (let key = 0; key < 100; key++) cache.set(key, key);
    cache.setWindowFraction(1);
    for (let key = 1_000; key < 1_010; key++) cache.set(key, key);
    expect(evicted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('an adaptive cache starts as LRU and stays LRU when its first eviction finds no reuse', () => {
    const cache = new SmartCache<number, number>({ maxEntries: 100 });
    expect(cache.windowFraction()).toBe(1);
    for (let key = 0; key < 150; key++) cache.set(key, key);
    expect(cache.windowFraction()).toBe(1);
    expect([...cache.keys()].sort((a, b) => a - b)[0]).toBe(50);
  });

  it('an adaptive cache whose residents were reused leaves LRU at its first eviction', () => {
    const cache = new SmartCache<number, number>({ maxEntries: 100 });
    for (let round = 0; round < 3; round++)
      for (let key = 0; key < 100; key++) cache.get(key) ?? cache.set(key, key);
    cache.set(1_000, 0);
    expect(cache.windowFraction()).toBeLessThan(1);
  });
});

describe('SmartCache expiry', () => {
  it('expires lazily on read and reports the expiry', () => {
    const clock = manualClock();
    const evicted: EvictionReason[] = [];
    const cache = new SmartCache<string, number>({
      maxEntries: 10,
      now: clock.now,
      onEvict: (_key, _value, reason) => evicted.push(reason),
    });
    cache.set('short', 1, { ttlMs: 1_000 });
    cache.set('forever', 2, { ttlMs: Number.POSITIVE_INFINITY });
    cache.set('plain', 3);
    expect(cache.expiresAt('short')).toBe(clock.time + 1_000);
    expect(cache.expiresAt('forever')).toBe(Number.POSITIVE_INFINITY);
    clock.time += 999;
    expect(cache.get('short')).toBe(1);
    clock.time += 1;
    expect(cache.get('short')).toBeUndefined();
    expect(evicted).toEqual(['expired']);
    expect(cache.stats.expirations).toBe(1);
    expect(cache.get('forever')).toBe(2);
    expect(cache.get('plain')).toBe(3);
  });

  it('sweeps unread expired entries as writes go on, so they do not hold memory', () => {
    const clock = manualClock();
    const cache = new SmartCache<string, number>({ maxEntries: 100_000, now: clock.now });
    for (let i = 0; i < 1_000; i++) cache.set(`old${i}`, i, { ttlMs: 5_000 });
    clock.time += 10_000;
    // later writes advance the timer wheel a bounded number of removals at a time
    for (let i = 0; i < 200; i++) {
      clock.time += 50;
      cache.set(`new${i}`, i);
    }
    expect(cache.size).toBe(200);
    expect(cache.stats.expirations).toBe(1_000);
  });

  it('purgeExpired removes everything due, however recent', () => {
    const clock = manualClock();
    const cache = new SmartCache<number, number>({ maxEntries: 1_000, now: clock.now });
    for (let i = 0; i < 100; i++) cache.set(i, i, { ttlMs: 10 + i });
    clock.time += 60;
    expect(cache.purgeExpired()).toBe(51);
    expect(cache.size).toBe(49);
    expect([...cache.keys()].length).toBe(49);
  });

  it('an overwrite replaces the deadline', () => {
    const clock = manualClock();
    const cache = new SmartCache<string, number>({ maxEntries: 10, now: clock.now });
    cache.set('k', 1, { ttlMs: 100 });
    cache.set('k', 2);
    clock.time += 1_000;
    expect(cache.get('k')).toBe(2);
    expect(cache.expiresAt('k')).toBe(Number.POSITIVE_INFINITY);
  });
});
