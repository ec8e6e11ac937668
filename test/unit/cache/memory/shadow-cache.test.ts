import { describe, expect, it } from 'vitest';
import { FrequencySketch } from '../../../../src/cache/memory/frequency-sketch.js';
import { hashNumber } from '../../../../src/cache/memory/hash.js';
import { SmartCache } from '../../../../src/cache/memory/index.js';
import { ShadowCache } from '../../../../src/cache/memory/shadow-cache.js';
import { CANDIDATE_SHARES } from '../../../../src/cache/memory/window-tuner.js';
import { mulberry32, Zipf } from '../../../../src/util/random.js';

const CAPACITY = 64;

/** Reads as an application would: a get, and a set on a miss. */
function readThrough(cache: SmartCache<number, true>, key: number): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, true);
  return false;
}

/**
 * Keys that exercise every path: Zipf-popular keys (admission contests, probation → protected),
 * warm keys read often enough to reach the hash-flooding draw, scans of new keys, and a loop.
 */
function mixedKeys(count: number, seed: number): number[] {
  const zipf = new Zipf(2_000, 0.9, mulberry32(seed));
  const random = mulberry32(seed + 1);
  const keys: number[] = [];
  let fresh = 1_000_000;
  while (keys.length < count) {
    const phase = Math.floor(keys.length / 2_500) % 4;
    if (phase === 0 || phase === 2) keys.push(zipf.next());
    else if (phase === 1) keys.push(random() < 0.5 ? fresh++ : zipf.next());
    else keys.push(keys.length % (CAPACITY + 20));
  }
  return keys;
}

describe('ShadowCache', () => {
  it('hits exactly where a SmartCache of the same fixed share hits', () => {
    const keys = mixedKeys(40_000, 7);
    for (const share of CANDIDATE_SHARES) {
      const reference = new SmartCache<number, true>({ maxEntries: CAPACITY, windowFraction: share });
      const sketch = new FrequencySketch(CAPACITY);
      const shadow = new ShadowCache(CAPACITY, share, sketch);
      keys.forEach((key, read) => {
        const hashed = hashNumber(key);
        sketch.increment(hashed);
        const hit = shadow.read(hashed);
        expect(hit, `share ${share}, read ${read}`).toBe(readThrough(reference, key));
      });
    }
  });

  it('a fork continues as the same cache would after its share changed', () => {
    const keys = mixedKeys(30_000, 11);
    // [from share, to share, read at which to fork]: in the Zipf phase, and in the loop, where
    // every entry of the window has been reused and protected fills before the window is empty
    for (const [from, to, forkAt] of [
      [1, 0.01, 12_000],
      [1, 0.01, 19_000],
      [0.01, 1, 12_000],
      [0.1, 0.35, 12_000],
      [0.35, 0.1, 19_000],
    ]) {
      const sketch = new FrequencySketch(CAPACITY);
      const original = new ShadowCache(CAPACITY, from, sketch);
      const reference = new SmartCache<number, true>({ maxEntries: CAPACITY, windowFraction: from });
      let fork: ShadowCache | undefined;
      keys.forEach((key, read) => {
        if (read === forkAt) {
          fork = original.fork(to);
          reference.setWindowFraction(to);
        }
        const hashed = hashNumber(key);
        sketch.increment(hashed);
        const expected = readThrough(reference, key);
        if (fork === undefined) original.read(hashed);
        else expect(fork.read(hashed), `${from} → ${to}, read ${read}`).toBe(expected);
      });
    }
  });

  it('a fork lives on its own: what it reads leaves the original unchanged', () => {
    const sketch = new FrequencySketch(8);
    const original = new ShadowCache(8, 0.25, sketch);
    for (let key = 0; key < 8; key++) original.read(key);
    const fork = original.fork(1);
    for (let key = 100; key < 116; key++) fork.read(key);
    for (let key = 0; key < 8; key++) expect(original.read(key)).toBe(true);
    for (let key = 0; key < 8; key++) expect(fork.read(key)).toBe(false);
  });

  it('keeps finding its keys while insertions and evictions shift the probe sequences', () => {
    // Keys with the same low bits collide in the table; a plain LRU of them must still behave as one.
    const capacity = 16;
    const shadow = new ShadowCache(capacity, 1, new FrequencySketch(capacity));
    const colliding = (i: number) => i << 12;
    for (let i = 0; i < capacity; i++) expect(shadow.read(colliding(i))).toBe(false);
    for (let i = 0; i < capacity; i++) expect(shadow.read(colliding(i))).toBe(true);
    for (let i = capacity; i < capacity + 8; i++) expect(shadow.read(colliding(i))).toBe(false);
    // LRU evicted the 8 oldest; the 8 newest of the first batch and the new ones remain
    for (let i = 0; i < 8; i++) expect(shadow.read(colliding(i + 8))).toBe(true);
    for (let i = capacity; i < capacity + 8; i++) expect(shadow.read(colliding(i))).toBe(true);
    for (let i = 0; i < 8; i++) expect(shadow.read(colliding(i))).toBe(false);
  });
});
