/**
 * HillClimber: adapts the share of SmartCache given to W-TinyLFU's admission window.
 *
 * Why. A small window (1 %) suits frequency-skewed workloads: almost everything lives in the main
 * space, guarded by the frequency filter. Recency-skewed workloads (a burst of new keys read a few
 * times each, then never) want a large window, where entries are kept for their recency alone.
 * No fixed share suits both, so the share follows the observed hit rate (Einziger, Eytan, Friedman,
 * Manes: "Adaptive Software Cache Management", Middleware 2018; Caffeine's `climb()`).
 *
 * How. Requests are counted in samples of `samplePeriod` (the frequency sketch's aging period, ten
 * times the capacity). At the end of a sample the climber compares its hit rate with the previous
 * sample's: if it improved it keeps moving the window share in the same direction, otherwise it
 * turns round. The step starts at STEP_FRACTION of the cache and decays by STEP_DECAY each sample
 * so the share settles; a change of the hit rate of RESTART_THRESHOLD or more (a new workload)
 * restores the full step. The first move grows the window: a cache starts empty, when recency is
 * all there is to go on, and on the traces of bench/hitratio.ts growing first converges faster.
 * The share may reach 0 (pure TinyLFU-guarded SLRU) or 1 (plain LRU).
 */

/** Initial step: the share of the cache the window grows or shrinks by per sample. */
const STEP_FRACTION = 0.0625;
/** Each sample the step is multiplied by this, so the window share converges. */
const STEP_DECAY = 0.98;
/** A hit-rate change at least this large is a new workload: the step is reset to STEP_FRACTION. */
const RESTART_THRESHOLD = 0.05;

export class HillClimber {
  private hits = 0;
  private misses = 0;
  private previousHitRate = 0;
  private step = STEP_FRACTION;

  recordHit(): void {
    this.hits++;
  }

  recordMiss(): void {
    this.misses++;
  }

  /** True once `samplePeriod` requests have been recorded since the last adjustment. */
  sampleComplete(samplePeriod: number): boolean {
    return this.hits + this.misses >= samplePeriod;
  }

  /** Ends the sample; returns the change of the window share (a fraction of the cache) it calls for. */
  adjust(): number {
    const hitRate = this.hits / Math.max(1, this.hits + this.misses);
    const change = hitRate - this.previousHitRate;
    const amount = change >= 0 ? this.step : -this.step;
    this.step =
      Math.abs(change) >= RESTART_THRESHOLD
        ? amount >= 0
          ? STEP_FRACTION
          : -STEP_FRACTION
        : amount * STEP_DECAY;
    this.previousHitRate = hitRate;
    this.hits = 0;
    this.misses = 0;
    return amount;
  }

  reset(): void {
    this.hits = 0;
    this.misses = 0;
    this.previousHitRate = 0;
    this.step = STEP_FRACTION;
  }
}
