/**
 * HillClimber: adapts the share of the cache given to W-TinyLFU's admission window.
 *
 * (design note to be completed once tuned)
 */

export class HillClimber {
  private hits = 0;
  private misses = 0;
  private previousHitRate = Number.NaN;
  private step: number;

  constructor(
    private readonly samplePeriod: number,
    private readonly initialStep: number,
    private readonly decay: number,
    private readonly restartThreshold: number,
  ) {
    this.step = initialStep;
  }

  recordHit(): void {
    this.hits++;
  }

  recordMiss(): void {
    this.misses++;
  }

  get sampleComplete(): boolean {
    return this.hits + this.misses >= this.samplePeriod;
  }

  /** Ends the sample and returns the change of the window share it calls for. */
  adjust(): number {
    const hitRate = this.hits / (this.hits + this.misses);
    const change = Number.isNaN(this.previousHitRate) ? 0 : hitRate - this.previousHitRate;
    const amount = change >= 0 ? this.step : -this.step;
    this.step = Math.abs(change) >= this.restartThreshold ? Math.sign(amount) * this.initialStep : amount * this.decay;
    this.previousHitRate = hitRate;
    this.hits = 0;
    this.misses = 0;
    return amount;
  }
}
