/**
 * Fixed-memory latency histogram.
 *
 * Records durations (given in milliseconds, stored as whole nanoseconds) into 1024 counters and
 * answers percentiles, in the manner of HdrHistogram (Gil Tene, hdrhistogram.org) reduced to what
 * the cache needs: one fixed range, one precision, no auto-resize, no serialization.
 *
 * Buckets are log-linear. Below 64 ns every nanosecond has its own bucket. From there on each
 * power-of-two range [2^e, 2^(e+1)) is cut into 32 equal sub-buckets of width 2^(e−5), so a bucket
 * is at most 1/32 of its lower bound wide and the value reported for it — its midpoint — is within
 * 1/64 (≈ 1.6%) of every value in it. Ranges run up to e = 35, i.e. to 2^36 ns ≈ 68.7 s; a longer
 * duration is counted in the last bucket (its percentiles read ≈ 68 s) while `max` keeps the exact
 * figure. 64 linear + 30 ranges × 32 = 1024 buckets, 8 KiB of Float64Array (counts exact to 2^53,
 * so they do not wrap in a long-lived process).
 *
 * The bucket index comes from the position of the highest set bit (`Math.clz32`, on the high word
 * above 2^32 ns), so `record` is a few integer operations and allocates nothing. A percentile walks
 * the counters once (1024 steps); reported percentiles are clamped into [min, max], so a constant
 * distribution reads back exactly, and the top rank (p100, or any p whose rank is the last) is the
 * exact `max`. Percentiles use the nearest-rank definition: the smallest
 * recorded value with at least p% of the values at or below it.
 */

import { KeelError } from '../../errors.js';

const NS_PER_MS = 1_000_000;

/** log2 of the sub-buckets per power-of-two range; 5 → 32 sub-buckets → ≤ 1/64 error. */
const SUB_BUCKET_BITS = 5;
const SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS;

/** Values below this many nanoseconds (2 × 32) get one bucket per nanosecond. */
const LINEAR_LIMIT_NS = 2 * SUB_BUCKET_COUNT;

/** Exponent of the first log-linear range: 2^6 = LINEAR_LIMIT_NS. */
const FIRST_EXPONENT = SUB_BUCKET_BITS + 1;

/** Exponent of the last range, [2^35, 2^36) ns = [34.4 s, 68.7 s). */
const LAST_EXPONENT = 35;

const BUCKET_COUNT = LINEAR_LIMIT_NS + (LAST_EXPONENT - FIRST_EXPONENT + 1) * SUB_BUCKET_COUNT;

const TWO_POW_32 = 2 ** 32;

export interface LatencySnapshot {
  count: number;
  /** All in milliseconds; 0 when nothing was recorded. */
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** The bucket of a whole number of nanoseconds. */
function bucketIndex(ns: number): number {
  if (ns < LINEAR_LIMIT_NS) return ns;
  const exponent = ns < TWO_POW_32 ? 31 - Math.clz32(ns) : 63 - Math.clz32(Math.floor(ns / TWO_POW_32));
  if (exponent > LAST_EXPONENT) return BUCKET_COUNT - 1;
  const shift = exponent - SUB_BUCKET_BITS;
  const subBucket = (ns < TWO_POW_32 ? ns >>> shift : Math.floor(ns / 2 ** shift)) - SUB_BUCKET_COUNT;
  return LINEAR_LIMIT_NS + (exponent - FIRST_EXPONENT) * SUB_BUCKET_COUNT + subBucket;
}

/** The midpoint of a bucket, in nanoseconds. */
function bucketMidpointNs(index: number): number {
  if (index < LINEAR_LIMIT_NS) return index + 0.5;
  const offset = index - LINEAR_LIMIT_NS;
  const exponent = FIRST_EXPONENT + Math.floor(offset / SUB_BUCKET_COUNT);
  const width = 2 ** (exponent - SUB_BUCKET_BITS);
  return (SUB_BUCKET_COUNT + (offset % SUB_BUCKET_COUNT) + 0.5) * width;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sumMs = 0;
  private minMs = Number.POSITIVE_INFINITY;
  private maxMs = 0;

  /** Counts one duration; throws INVALID_ARGUMENT unless it is a finite number >= 0. */
  record(durationMs: number): void {
    if (!(durationMs >= 0 && durationMs < Number.POSITIVE_INFINITY)) {
      throw new KeelError('INVALID_ARGUMENT', `durationMs must be a finite number >= 0, got ${durationMs}`);
    }
    this.counts[bucketIndex(Math.floor(durationMs * NS_PER_MS))]++;
    this.total++;
    this.sumMs += durationMs;
    if (durationMs < this.minMs) this.minMs = durationMs;
    if (durationMs > this.maxMs) this.maxMs = durationMs;
  }

  get count(): number {
    return this.total;
  }

  /** Exact arithmetic mean, in ms (0 when empty). */
  get mean(): number {
    return this.total === 0 ? 0 : this.sumMs / this.total;
  }

  /** Exact smallest duration, in ms (0 when empty). */
  get min(): number {
    return this.total === 0 ? 0 : this.minMs;
  }

  /** Exact largest duration, in ms (0 when empty). */
  get max(): number {
    return this.maxMs;
  }

  /** The p-th percentile (p in [0, 100]), in ms, within 1/64 of the true value; 0 when empty. */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new KeelError('INVALID_ARGUMENT', `percentile must be in [0, 100], got ${p}`);
    }
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p * this.total) / 100));
    if (rank === this.total) return this.maxMs;
    let seen = 0;
    let index = 0;
    for (; index < BUCKET_COUNT - 1; index++) {
      seen += this.counts[index];
      if (seen >= rank) break;
    }
    const valueMs = bucketMidpointNs(index) / NS_PER_MS;
    return Math.min(this.maxMs, Math.max(this.minMs, valueMs));
  }

  /** Adds every duration `other` recorded to this histogram (a window's figures into a longer one's). */
  addAll(other: LatencyHistogram): void {
    for (let index = 0; index < BUCKET_COUNT; index++) this.counts[index] += other.counts[index] as number;
    this.total += other.total;
    this.sumMs += other.sumMs;
    if (other.minMs < this.minMs) this.minMs = other.minMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Forgets every recorded duration. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumMs = 0;
    this.minMs = Number.POSITIVE_INFINITY;
    this.maxMs = 0;
  }

  snapshot(): LatencySnapshot {
    return {
      count: this.total,
      mean: this.mean,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p95: this.percentile(95),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.maxMs,
    };
  }
}
