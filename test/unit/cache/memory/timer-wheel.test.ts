import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../../../src/cache/memory/timer-wheel.js';

function wheelAt(start: number, capacity = 64) {
  const expired: number[] = [];
  const wheel = new TimerWheel(capacity, start, (index) => expired.push(index));
  return { wheel, expired };
}

describe('TimerWheel', () => {
  it('expires each node once its deadline has passed, at every level of the wheel', () => {
    const start = 1_700_000_000_000;
    const { wheel, expired } = wheelAt(start);
    const delays = [500, 5_000, 120_000, 3 * 3_600_000, 2 * 86_400_000, 30 * 86_400_000];
    for (const [index, delay] of delays.entries()) wheel.schedule(index, start + delay);
    expect(wheel.scheduled).toBe(delays.length);
    for (const [index, delay] of delays.entries()) {
      wheel.advance(start + delay - 1, Number.POSITIVE_INFINITY);
      expect(expired).not.toContain(index);
      wheel.expireDue(start + delay);
      expect(expired).toContain(index);
    }
    expect(expired).toEqual([0, 1, 2, 3, 4, 5]);
    expect(wheel.scheduled).toBe(0);
  });

  it('cancel and reschedule replace the deadline', () => {
    const start = 0;
    const { wheel, expired } = wheelAt(start);
    wheel.schedule(1, 2_000);
    wheel.schedule(2, 2_000);
    wheel.cancel(1);
    wheel.schedule(2, 900_000);
    wheel.expireDue(10_000);
    expect(expired).toEqual([]);
    wheel.expireDue(900_000);
    expect(expired).toEqual([2]);
  });

  it('spreads a burst of simultaneous expiries over several advances (bounded work per call)', () => {
    const { wheel, expired } = wheelAt(0, 1_000);
    for (let i = 0; i < 1_000; i++) wheel.schedule(i, 1_500);
    expect(wheel.advance(5_000, 100)).toBe(100);
    expect(expired.length).toBe(100);
    let calls = 1;
    while (wheel.scheduled > 0) {
      expect(wheel.advance(5_000 + calls, 100)).toBeLessThanOrEqual(100);
      calls++;
    }
    expect(new Set(expired).size).toBe(1_000);
    expect(calls).toBe(10);
  });
});
