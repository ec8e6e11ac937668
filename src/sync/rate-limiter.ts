/**
 * The pace of requests to the source: a token bucket refilled at SYNC_RATE_LIMIT_PER_SECOND and
 * holding a second's worth (so a run starts at full speed and never bursts past a second's
 * allowance), plus a hold: a 429's Retry-After stops every request until it has passed.
 *
 * API usage is what the deployment guide watches (target < 80 % of the limit, warning > 90 %,
 * critical > 95 %): requests sent in the last minute over what the limit allows in a minute.
 * A limit of 0 means none: requests go out at once and usage is not defined.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Usage is counted over the last minute, in one-second slots. */
const USAGE_SLOTS = 60;

export class RateLimiter {
  private tokens: number;
  private refilledAt = performance.now();
  private heldUntil = 0;
  /** Requests sent in each of the last USAGE_SLOTS seconds (slot = second % USAGE_SLOTS). */
  private readonly sentPerSecond = new Uint32Array(USAGE_SLOTS);
  /** The second each slot counts. */
  private readonly slotSecond = new Float64Array(USAGE_SLOTS).fill(-1);

  constructor(readonly perSecond: number) {
    this.tokens = Math.max(1, perSecond);
  }

  /** Waits until a request may go out, and counts it as sent. */
  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      if (now < this.heldUntil) {
        await sleep(this.heldUntil - now, undefined, { signal });
        continue;
      }
      if (this.perSecond === 0) break;
      this.tokens = Math.min(
        Math.max(1, this.perSecond),
        this.tokens + ((now - this.refilledAt) * this.perSecond) / 1_000,
      );
      this.refilledAt = now;
      if (this.tokens >= 1) {
        this.tokens--;
        break;
      }
      await sleep(((1 - this.tokens) * 1_000) / this.perSecond, undefined, { signal });
    }
    this.countSent();
  }

  private countSent(): void {
    const second = Math.floor(performance.now() / 1_000);
    const slot = second % USAGE_SLOTS;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.sentPerSecond[slot] = 0;
    }
    this.sentPerSecond[slot]++;
  }

  /** Holds every request for `ms` (a Retry-After). */
  hold(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, performance.now() + ms);
  }

  /** Whether requests are held by a Retry-After now. */
  get held(): boolean {
    return performance.now() < this.heldUntil;
  }

  /** Requests of the last minute over the limit's allowance for a minute (0–1+); undefined without a limit. */
  usage(): number | undefined {
    if (this.perSecond === 0) return undefined;
    const now = Math.floor(performance.now() / 1_000);
    let sent = 0;
    for (let slot = 0; slot < USAGE_SLOTS; slot++)
      if (now - (this.slotSecond[slot] as number) < USAGE_SLOTS) sent += this.sentPerSecond[slot] as number;
    return sent / (this.perSecond * USAGE_SLOTS);
  }
}
