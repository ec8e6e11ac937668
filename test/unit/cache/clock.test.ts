import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { coarseNow } from '../../../src/cache/clock.js';

describe('coarseNow', () => {
  it('follows the wall clock to within its resolution and moves once timers run', async () => {
    const before = Date.now();
    const first = coarseNow();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    expect(coarseNow()).toBe(first); // reused within the same synchronous stretch
    await sleep(20);
    const later = coarseNow();
    expect(later - first).toBeGreaterThanOrEqual(15);
    expect(Math.abs(later - Date.now())).toBeLessThanOrEqual(5);
  });
});
