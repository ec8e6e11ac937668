/**
 * Seeded randomness for workloads (demo, benchmarks, tests): the same seed gives the same run.
 *
 * - mulberry32: a 32-bit PRNG (Tommy Ettinger) — tiny state, fast, good enough for load shapes.
 * - Zipf(s) over ranks 0..n−1 by inverse transform on a precomputed CDF (binary search), the skew
 *   that web and database key popularity follows (Breslau et al., "Web caching and Zipf-like
 *   distributions", INFOCOM 1999).
 */

export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Zipf {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly s: number,
    private readonly random: () => number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let rank = 0; rank < n; rank++) {
      sum += 1 / (rank + 1) ** s;
      this.cdf[rank] = sum;
    }
    for (let rank = 0; rank < n; rank++) this.cdf[rank] /= sum;
  }

  /** A rank in 0..n−1; rank 0 is the most popular. */
  next(): number {
    const u = this.random();
    let low = 0;
    let high = this.n - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cdf[mid] < u) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
