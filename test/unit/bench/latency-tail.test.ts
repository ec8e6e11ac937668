import { describe, expect, it } from 'vitest';
import { parseReport, TAIL_FROM, TAIL_STEP } from '../../../bench/gateway/wrk.js';
import { pooledPercentile, pooledRatio, type TailWindow } from '../../../bench/lib/latency-tail.js';

/** A window whose latencies are spread evenly from 0 to `maxMs`: percentile p is at p % of it. */
function evenWindow(requests: number, maxMs: number): TailWindow {
  const tail = Array.from({ length: 1_000 }, (_, i) => ((TAIL_FROM + i * TAIL_STEP) / 100) * maxMs);
  return { requests, tail };
}

describe('pooled latency tails', () => {
  it('gives one window its own 99th percentile', () => {
    expect(pooledPercentile([evenWindow(10_000, 10)])).toBeCloseTo(9.9, 6);
  });

  it('pools windows by their requests, not by a vote of windows', () => {
    // Two quiet windows and one whose every request took twice as long: the pooled 99th
    // percentile is where 1 % of the 30,000 requests are slower, all of them from the slow
    // window (the median window would say 9.9 ms and ignore it).
    const quiet = evenWindow(10_000, 10);
    const slow = evenWindow(10_000, 20);
    const pooled = pooledPercentile([quiet, quiet, slow]);
    // The slow window alone holds the 300 slowest requests: its latencies above its 97th percentile.
    expect(pooled).toBeCloseTo(0.97 * 20, 1);
    // A window with more requests weighs more.
    expect(pooledPercentile([quiet, { ...slow, requests: 1_000 }])).toBeLessThan(pooled);
  });

  it('gives a ratio whose interval holds 1 for alike windows and not for a clear effect', () => {
    const pairsOf = (on: number[], off: number[]) =>
      on.map((max, i) => ({ on: evenWindow(10_000, max), off: evenWindow(10_000, off[i] as number) }));
    const alike = pooledRatio(pairsOf([9.6, 10.4, 10, 10.3], [9.8, 10.2, 10.1, 9.7]));
    expect(alike.low).toBeLessThanOrEqual(1);
    expect(alike.high).toBeGreaterThanOrEqual(1);
    // The machine slowed down in the third pair; both of its windows carry it.
    const slower = pairsOf([12.5, 13, 25.6, 12.8], [10, 10.4, 20, 9.8]);
    const effect = pooledRatio(slower);
    expect(effect.ratio).toBeCloseTo(
      pooledPercentile(slower.map((pair) => pair.on)) / pooledPercentile(slower.map((pair) => pair.off)),
      9,
    );
    expect(effect.low).toBeGreaterThan(1.2);
    expect(effect.high).toBeLessThan(1.35);
    // The same windows give the same figures (a seeded bootstrap).
    expect(pooledRatio(slower)).toEqual(effect);
  });

  it("reads the tail a wrk script's done hook printed", () => {
    const report = [
      '  Latency Distribution',
      '     99%    1.50ms',
      '  30000 requests in 10.00s, 3.00MB read',
      'Requests/sec:   3000.00',
      `tail-us ${Array.from({ length: 1_000 }, (_, i) => 900 + i).join(' ')}`,
    ].join('\n');
    const result = parseReport(report);
    expect(result.tail).toHaveLength(1_000);
    expect(result.tail?.[0]).toBe(0.9);
    expect(result.tail?.[999]).toBe(1.899);
    expect(parseReport(report.replace(/^tail-us.*$/m, '')).tail).toBeUndefined();
  });
});
