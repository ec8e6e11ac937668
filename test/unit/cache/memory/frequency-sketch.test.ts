import { describe, expect, it } from 'vitest';
import {
  FrequencySketch,
  MAX_FREQUENCY,
  SAMPLE_FACTOR,
} from '../../../../src/cache/memory/frequency-sketch.js';
import { hashKey } from '../../../../src/cache/memory/hash.js';

describe('FrequencySketch', () => {
  it('counts accesses up to the 4-bit maximum, the first one absorbed by the doorkeeper', () => {
    const sketch = new FrequencySketch(1_000);
    const hash = hashKey('product:1');
    expect(sketch.frequency(hash)).toBe(0);
    sketch.increment(hash);
    expect(sketch.frequency(hash)).toBe(1);
    for (let i = 0; i < 5; i++) sketch.increment(hash);
    expect(sketch.frequency(hash)).toBe(6);
    for (let i = 0; i < 100; i++) sketch.increment(hash);
    expect(sketch.frequency(hash)).toBe(MAX_FREQUENCY);
  });

  it('rarely overestimates unrelated keys (count-min error stays small)', () => {
    const sketch = new FrequencySketch(1_000);
    for (let key = 0; key < 1_000; key++) sketch.increment(hashKey(key));
    let inflated = 0;
    for (let key = 1_000_000; key < 1_010_000; key++) if (sketch.frequency(hashKey(key)) > 0) inflated++;
    expect(inflated / 10_000).toBeLessThan(0.05);
  });

  it('halves every counter after a sample period, so old popularity fades', () => {
    const capacity = 100;
    const sketch = new FrequencySketch(capacity);
    const hot = hashKey('hot');
    for (let i = 0; i < 15; i++) sketch.increment(hot);
    expect(sketch.frequency(hot)).toBe(MAX_FREQUENCY);
    expect(sketch.samplePeriod).toBe(SAMPLE_FACTOR * capacity);
    for (let key = 0; key < sketch.samplePeriod * 2; key++) sketch.increment(hashKey(`cold${key}`));
    expect(sketch.frequency(hot)).toBeLessThanOrEqual(7);
    expect(sketch.frequency(hot)).toBeGreaterThan(0);
  });

  it('remembers a first sighting through one aging step, not two (the doorkeeper rotates)', () => {
    const capacity = 100;
    const sketch = new FrequencySketch(capacity);
    const once = hashKey('seen-once');
    sketch.increment(once);
    expect(sketch.frequency(once)).toBe(1);
    let filler = 0;
    const age = () => {
      // one aging period of distinct keys, none of which collides with the key under test
      for (let i = 0; i < sketch.samplePeriod; i++) sketch.increment(hashKey(`filler${filler++}`));
    };
    age();
    expect(sketch.frequency(once)).toBe(1);
    age();
    expect(sketch.frequency(once)).toBe(0);
  });

  it('clear forgets everything', () => {
    const sketch = new FrequencySketch(10);
    const hash = hashKey(42);
    sketch.increment(hash);
    sketch.increment(hash);
    sketch.clear();
    expect(sketch.frequency(hash)).toBe(0);
  });
});
