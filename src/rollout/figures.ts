/**
 * The gateway's own figures for its rollouts, per switch target (a route, or a group of routes)
 * and per variant: requests, server errors (5xx) and latency of the `stable` side and of the
 * `candidate` side (for a cache rollout: the bypassed side and the cached side), and the shadow
 * comparisons (compared, matched). They are what guards read when no Prometheus is needed: one
 * instance, or the instance's own view.
 *
 * Recording is on request paths: counters, a fixed-size latency histogram (cache/stats) and a
 * fixed ring of the latest latencies (for the Mann–Whitney test); nothing is allocated. The guard
 * evaluator reads by intervals: `rotate()` closes the current interval of the targets it asks
 * about and opens a new one, so each evaluation sees exactly the requests since the previous one;
 * the evaluator sums intervals into a stage's totals itself.
 */
import { LatencyHistogram } from '../cache/index.js';

/** Latest latencies kept per variant and interval, for rank tests. */
export const LATENCY_SAMPLES = 1_000;

export type Variant = 'stable' | 'candidate';

/** One variant's figures over an interval (or, summed, a stage). */
export class VariantFigures {
  requests = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();
  private readonly ring = new Float64Array(LATENCY_SAMPLES);
  private ringCount = 0;

  record(status: number, latencyMs: number): void {
    this.requests++;
    if (status >= 500) this.errors++;
    this.latency.record(latencyMs);
    this.ring[this.ringCount % LATENCY_SAMPLES] = latencyMs;
    this.ringCount++;
  }

  /** The latest latencies (at most LATENCY_SAMPLES), in ms. */
  samples(): number[] {
    return Array.from(this.ring.subarray(0, Math.min(this.ringCount, LATENCY_SAMPLES)));
  }

  /** Adds `other`'s counts and latencies to these. */
  addAll(other: VariantFigures): void {
    this.requests += other.requests;
    this.errors += other.errors;
    this.latency.addAll(other.latency);
    for (const sample of other.samples()) {
      this.ring[this.ringCount % LATENCY_SAMPLES] = sample;
      this.ringCount++;
    }
  }
}

export class ShadowFigures {
  compared = 0;
  matched = 0;

  addAll(other: ShadowFigures): void {
    this.compared += other.compared;
    this.matched += other.matched;
  }
}

export interface IntervalFigures {
  stable: VariantFigures;
  candidate: VariantFigures;
  shadow: ShadowFigures;
}

export function emptyInterval(): IntervalFigures {
  return { stable: new VariantFigures(), candidate: new VariantFigures(), shadow: new ShadowFigures() };
}

export class RolloutFigures {
  private readonly current = new Map<string, IntervalFigures>();

  /** Counts one answer of `variant` for `target` (route name). */
  record(target: string, variant: Variant, status: number, latencyMs: number): void {
    this.interval(target)[variant].record(status, latencyMs);
  }

  /** Counts one shadow comparison for `target`. */
  recordShadow(target: string, matched: boolean): void {
    const shadow = this.interval(target).shadow;
    shadow.compared++;
    if (matched) shadow.matched++;
  }

  /** Closes the current interval of `targets` and returns their figures summed. */
  rotate(targets: Iterable<string>): IntervalFigures {
    const sum = emptyInterval();
    for (const target of targets) {
      const closed = this.current.get(target);
      if (closed === undefined) continue;
      this.current.delete(target);
      sum.stable.addAll(closed.stable);
      sum.candidate.addAll(closed.candidate);
      sum.shadow.addAll(closed.shadow);
    }
    return sum;
  }

  /** Forgets every open interval (an instance that starts evaluating judges from then on). */
  reset(): void {
    this.current.clear();
  }

  private interval(target: string): IntervalFigures {
    let figures = this.current.get(target);
    if (figures === undefined) {
      figures = emptyInterval();
      this.current.set(target, figures);
    }
    return figures;
  }
}

/** Adds `interval` into `total` (a stage's running totals). */
export function addInterval(total: IntervalFigures, interval: IntervalFigures): void {
  total.stable.addAll(interval.stable);
  total.candidate.addAll(interval.candidate);
  total.shadow.addAll(interval.shadow);
}
