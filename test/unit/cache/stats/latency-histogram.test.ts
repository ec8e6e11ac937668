import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../../src/cache/stats/latency-histogram.js';
import { isKeelError } from '../../../../src/errors.js';
import { mulberry32 } from '../../../../src/util/random.js';

/** Largest relative error of a reported percentile: half a bucket of width 1/32 of its bound. */
const RELATIVE_PRECISION = 1 / 64;
/** Plus the nanosecond the recorded value is truncated to, in ms. */
const ONE_NS_MS = 1e-6;

/** Nearest-rank percentile of sorted values. */
function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100));
  return sorted[rank - 1];
}

function expectWithinPrecision(actual: number, expected: number, label: string): void {
  expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(expected * RELATIVE_PRECISION + ONE_NS_MS);
}

function checkAgainstExact(values: number[]): void {
  const histogram = new LatencyHistogram();
  for (const value of values) histogram.record(value);
  const sorted = [...values].sort((a, b) => a - b);
  for (const p of [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]) {
    expectWithinPrecision(histogram.percentile(p), exactPercentile(sorted, p), `p${p}`);
  }
  expect(histogram.count).toBe(values.length);
  expect(histogram.max).toBe(sorted[sorted.length - 1]);
  expect(histogram.min).toBe(sorted[0]);
  expect(histogram.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
}

describe('LatencyHistogram', () => {
  it('returns zeros when empty', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.count).toBe(0);
    expect(histogram.mean).toBe(0);
    expect(histogram.min).toBe(0);
    expect(histogram.max).toBe(0);
    expect(histogram.percentile(50)).toBe(0);
    expect(histogram.snapshot()).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p95: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });

  it('reads a constant distribution back exactly', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) histogram.record(5.3);
    expect(histogram.snapshot()).toEqual({
      count: 1000,
      mean: expect.closeTo(5.3, 12),
      p50: 5.3,
      p90: 5.3,
      p95: 5.3,
      p99: 5.3,
      p999: 5.3,
      max: 5.3,
    });
  });

  it('answers a uniform distribution within bucket precision', () => {
    // 1 µs … 10 ms in 1 µs steps.
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 1000);
    checkAgainstExact(values);
    const histogram = new LatencyHistogram();
    for (const value of values) histogram.record(value);
    const snapshot = histogram.snapshot();
    expectWithinPrecision(snapshot.p50, 5, 'p50');
    expectWithinPrecision(snapshot.p90, 9, 'p90');
    expectWithinPrecision(snapshot.p99, 9.9, 'p99');
    expectWithinPrecision(snapshot.p999, 9.99, 'p999');
    expect(snapshot.mean).toBeCloseTo(5.0005, 9);
    expect(snapshot.max).toBe(10);
  });

  it('stays within precision across the whole range, 1 ns to 60 s (log-uniform samples)', () => {
    const random = mulberry32(42);
    const values = Array.from({ length: 20_000 }, () => 1e-6 * 6e10 ** random());
    checkAgainstExact(values);
  });

  it('stays within precision on a long-tailed distribution', () => {
    const random = mulberry32(7);
    // Mostly sub-millisecond hits, a tail of slow misses.
    const values = Array.from({ length: 50_000 }, () =>
      random() < 0.95 ? 0.05 + random() * 0.2 : 5 - Math.log(1 - random()) * 40,
    );
    checkAgainstExact(values);
  });

  it('is exact to the nanosecond below 64 ns', () => {
    const histogram = new LatencyHistogram();
    histogram.record(0.00001); // 10 ns
    histogram.record(0.00002); // 20 ns
    histogram.record(0.00004); // 40 ns
    expect(histogram.percentile(50)).toBeCloseTo(0.0000205, 12);
  });

  it('counts durations beyond the range in the last bucket and keeps the exact max', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1);
    histogram.record(120_000);
    histogram.record(3_600_000);
    expect(histogram.max).toBe(3_600_000);
    expect(histogram.percentile(100)).toBe(3_600_000);
    const p50 = histogram.percentile(50);
    expect(p50).toBeGreaterThan(60_000);
    expect(p50).toBeLessThan(2 ** 36 / 1e6);
  });

  it('records 0 ms', () => {
    const histogram = new LatencyHistogram();
    histogram.record(0);
    expect(histogram.snapshot()).toMatchObject({ count: 1, mean: 0, p50: 0, max: 0 });
  });

  it('rejects negative, NaN and infinite durations, and percentiles outside [0, 100]', () => {
    const histogram = new LatencyHistogram();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      let caught: unknown;
      try {
        histogram.record(bad);
      } catch (error) {
        caught = error;
      }
      expect(isKeelError(caught, 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(histogram.count).toBe(0);
    for (const bad of [-0.1, 100.1, Number.NaN]) {
      expect(() => histogram.percentile(bad)).toThrowError(/percentile/);
    }
  });

  it('resets', () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) histogram.record(i);
    histogram.reset();
    expect(histogram.snapshot()).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p95: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
    histogram.record(2);
    expect(histogram.snapshot()).toMatchObject({ count: 1, mean: 2, p50: 2, max: 2 });
    expect(histogram.min).toBe(2);
  });
});
