import { describe, expect, it } from 'vitest';
import { DEFAULT_TOP_K_CAPACITY, SpaceSaving } from '../../../../src/cache/stats/space-saving.js';
import { ConfigError, isKeelError } from '../../../../src/errors.js';
import { mulberry32 } from '../../../../src/util/random.js';

/** A sampler of ranks 0..n-1 with P(rank r) ∝ 1 / (r + 1)^s. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) {
    total += 1 / (r + 1) ** s;
    cumulative[r] = total;
  }
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** The structural invariants that hold after every update. */
function checkInvariants(tracker: SpaceSaving, streamLength: number): void {
  const all = tracker.top();
  expect(all.length).toBe(tracker.size);
  expect(tracker.size).toBeLessThanOrEqual(tracker.capacity);
  expect(new Set(all.map((entry) => entry.key)).size).toBe(all.length);
  let sum = 0;
  for (let i = 0; i < all.length; i++) {
    if (i > 0) expect(all[i].count).toBeLessThanOrEqual(all[i - 1].count);
    expect(all[i].error).toBeLessThan(all[i].count);
    expect(tracker.estimate(all[i].key)).toBe(all[i].count);
    sum += all[i].count;
  }
  // Space-Saving conserves the stream length: the counters always sum to N.
  expect(sum).toBe(streamLength);
}

describe('SpaceSaving', () => {
  it('validates the capacity', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SpaceSaving(bad)).toThrowError(ConfigError);
    }
    expect(new SpaceSaving().capacity).toBe(DEFAULT_TOP_K_CAPACITY);
    expect(DEFAULT_TOP_K_CAPACITY).toBe(100);
  });

  it('starts empty', () => {
    const tracker = new SpaceSaving(4);
    expect(tracker.size).toBe(0);
    expect(tracker.top()).toEqual([]);
    expect(tracker.estimate('a')).toBe(0);
  });

  it('counts exactly, with no error, while the distinct keys fit', () => {
    const tracker = new SpaceSaving(10);
    const truth = new Map<string, number>();
    const random = mulberry32(7);
    for (let i = 0; i < 5000; i++) {
      const key = `k${Math.floor(random() * 10)}`;
      tracker.record(key, random() < 0.5);
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    expect(tracker.size).toBe(10);
    for (const [key, count] of truth) expect(tracker.estimate(key)).toBe(count);
    for (const entry of tracker.top()) {
      expect(entry.error).toBe(0);
      expect(entry.hits + entry.misses).toBe(entry.count);
    }
    checkInvariants(tracker, 5000);
  });

  it('sorts by count, highest first, and honours n', () => {
    const tracker = new SpaceSaving(5);
    const plan: Array<[string, number]> = [
      ['a', 1],
      ['b', 5],
      ['c', 3],
      ['d', 4],
      ['e', 2],
    ];
    for (const [key, times] of plan) for (let i = 0; i < times; i++) tracker.record(key, true);
    expect(tracker.top().map((entry) => entry.key)).toEqual(['b', 'd', 'c', 'e', 'a']);
    expect(tracker.top(2).map((entry) => [entry.key, entry.count])).toEqual([
      ['b', 5],
      ['d', 4],
    ]);
    expect(tracker.top(0)).toEqual([]);
    expect(tracker.top(50)).toHaveLength(5);
    for (const bad of [-1, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        tracker.top(bad);
      } catch (error) {
        caught = error;
      }
      expect(isKeelError(caught, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('replaces the minimum: count = min + 1, error = min, hits and misses reset', () => {
    const tracker = new SpaceSaving(2);
    for (let i = 0; i < 4; i++) tracker.record('a', true);
    tracker.record('b', true);
    tracker.record('b', false);
    // b (2) is the minimum; c takes its counter.
    tracker.record('c', false);
    expect(tracker.estimate('b')).toBe(0);
    expect(tracker.size).toBe(2);
    expect(tracker.top()).toEqual([
      { key: 'a', count: 4, error: 0, hits: 4, misses: 0, hitRate: 1 },
      { key: 'c', count: 3, error: 2, hits: 0, misses: 1, hitRate: 0 },
    ]);
    checkInvariants(tracker, 7);
  });

  it('reports per-key hit rates', () => {
    const tracker = new SpaceSaving(3);
    for (let i = 0; i < 10; i++) tracker.record('hot', i % 10 !== 0);
    for (let i = 0; i < 4; i++) tracker.record('cold', i === 0);
    const [hot, cold] = tracker.top();
    expect(hot).toMatchObject({ key: 'hot', hits: 9, misses: 1, hitRate: 0.9 });
    expect(cold).toMatchObject({ key: 'cold', hits: 1, misses: 3, hitRate: 0.25 });
  });

  it('finds the heavy hitters of a Zipf stream within the Space-Saving bounds', () => {
    const capacity = 100;
    const streamLength = 200_000;
    const tracker = new SpaceSaving(capacity);
    const truth = new Map<string, number>();
    const truthHits = new Map<string, number>();
    const random = mulberry32(20050101);
    const next = zipf(50_000, 1.1, random);
    for (let i = 0; i < streamLength; i++) {
      const key = `item:${next()}`;
      const hit = random() < 0.8;
      tracker.record(key, hit);
      truth.set(key, (truth.get(key) ?? 0) + 1);
      if (hit) truthHits.set(key, (truthHits.get(key) ?? 0) + 1);
      if (tracker.size > capacity) throw new Error(`tracker grew to ${tracker.size} keys`);
    }
    checkInvariants(tracker, streamLength);

    for (const entry of tracker.top()) {
      const real = truth.get(entry.key) ?? 0;
      expect(entry.count).toBeGreaterThanOrEqual(real);
      expect(entry.count - entry.error).toBeLessThanOrEqual(real);
      expect(entry.hits).toBeLessThanOrEqual(truthHits.get(entry.key) ?? 0);
    }
    // Every key more frequent than N / capacity is tracked.
    const threshold = streamLength / capacity;
    const heavy = [...truth].filter(([, count]) => count > threshold);
    expect(heavy.length).toBeGreaterThan(5);
    for (const [key] of heavy) expect(tracker.estimate(key)).toBeGreaterThan(0);
    // The ten most frequent keys are the tracker's top ten, and in a heavy-tailed stream their
    // hit rates are measured on nearly all of their requests.
    const trueTop = [...truth]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([key]) => key);
    const top = tracker.top(10);
    expect(new Set(top.map((entry) => entry.key))).toEqual(new Set(trueTop));
    for (const entry of top) {
      expect(entry.error / entry.count).toBeLessThan(0.05);
      expect(entry.hitRate).toBeGreaterThan(0.75);
      expect(entry.hitRate).toBeLessThan(0.85);
    }
  });

  it('keeps its invariants under heavy churn with a tiny capacity', () => {
    const tracker = new SpaceSaving(3);
    const random = mulberry32(3);
    for (let i = 1; i <= 2000; i++) {
      tracker.record(`k${Math.floor(random() * 50)}`, random() < 0.5);
      if (i % 97 === 0) checkInvariants(tracker, i);
    }
    checkInvariants(tracker, 2000);
  });

  it('clears, and works again afterwards', () => {
    const tracker = new SpaceSaving(3);
    for (const key of ['a', 'b', 'c', 'd', 'a']) tracker.record(key, true);
    tracker.clear();
    expect(tracker.size).toBe(0);
    expect(tracker.top()).toEqual([]);
    expect(tracker.estimate('a')).toBe(0);
    for (const key of ['x', 'y', 'x', 'z', 'w']) tracker.record(key, false);
    expect(tracker.size).toBe(3);
    expect(tracker.estimate('x')).toBe(2);
    checkInvariants(tracker, 5);
  });

  it('holds a single key with capacity 1', () => {
    const tracker = new SpaceSaving(1);
    tracker.record('a', true);
    tracker.record('b', true);
    tracker.record('b', false);
    expect(tracker.top()).toEqual([{ key: 'b', count: 3, error: 1, hits: 1, misses: 1, hitRate: 0.5 }]);
  });
});
