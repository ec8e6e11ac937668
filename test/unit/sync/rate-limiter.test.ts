import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/sync/index.js';
import { retryAfterMs } from '../../../src/sync/rest-source.js';

describe('the sync’s rate limiter', () => {
  it('lets a second’s worth through at once, then paces at the limit', async () => {
    const limiter = new RateLimiter(20);
    const started = performance.now();
    for (let i = 0; i < 30; i++) await limiter.take();
    const elapsed = performance.now() - started;
    // 20 at once, then 10 more at 20 a second: about 500 ms.
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(900);
    expect(limiter.usage()).toBeCloseTo(30 / (20 * 60), 5);
  });

  it('holds every request for a Retry-After', async () => {
    const limiter = new RateLimiter(0);
    limiter.hold(300);
    expect(limiter.held).toBe(true);
    const started = performance.now();
    await limiter.take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(limiter.usage()).toBeUndefined();
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z'))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
