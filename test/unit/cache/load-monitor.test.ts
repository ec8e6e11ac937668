import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LoadMonitor, type LoadSample, type LoadState } from '../../../src/cache/load-monitor.js';

describe('LoadMonitor', () => {
  it('detects a blocked event loop with the real probe', async () => {
    const states: LoadState[] = [];
    const monitor = new LoadMonitor({ intervalMs: 60_000, lagThresholdMs: 50 }, (state) =>
      states.push({ ...state }),
    );
    const busyUntil = performance.now() + 250;
    setTimeout(() => {
      while (performance.now() < busyUntil) {
        // block the loop
      }
    }, 5);
    await sleep(350);
    const state = monitor.check();
    monitor.stop();
    expect(state.eventLoopLagMs).toBeGreaterThan(50);
    expect(state.cpuPressure).toBe(true);
    expect(state.heapUsedRatio).toBeGreaterThan(0);
    expect(state.heapUsedRatio).toBeLessThan(1);
  });

  it('applies hysteresis between the heap water marks', () => {
    let sample: LoadSample = { eventLoopLagMs: 0, eventLoopUtilization: 0, heapUsedRatio: 0.5 };
    const monitor = new LoadMonitor(
      { intervalMs: 60_000, heapHighWater: 0.85, heapLowWater: 0.7, probe: () => sample },
      () => {},
    );
    const at = (heapUsedRatio: number) => {
      sample = { eventLoopLagMs: 0, eventLoopUtilization: 0, heapUsedRatio };
      const { heapPressure, heapOverHighWater } = monitor.check();
      return [heapPressure, heapOverHighWater];
    };
    expect(at(0.8)).toEqual([false, false]);
    expect(at(0.9)).toEqual([true, true]);
    expect(at(0.8)).toEqual([true, false]);
    expect(at(0.6)).toEqual([false, false]);
    monitor.stop();
  });
});
