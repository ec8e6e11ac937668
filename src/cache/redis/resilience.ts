/**
 * Resilience: how the Redis tier behaves when Redis is slow, failing or gone — it costs speed,
 * never errors.
 *
 * Every call to Redis goes through a circuit breaker (cockatiel's ConsecutiveBreaker): after
 * `breaker.failures` consecutive failures it opens, calls fail at once without touching Redis, and
 * after `breaker.halfOpenAfterMs` one call is let through as a probe; its success closes the
 * breaker. Reads (idempotent) are retried with exponential backoff and jitter inside the breaker,
 * so each attempt counts; writes are not retried (a late duplicate write could overwrite a newer
 * value). Callers get `undefined` or `false`, never an exception: a failed read is a miss, a failed
 * write leaves the value in L1 only.
 *
 * Timeouts are ioredis's `commandTimeout`; a failure is classified as a timeout when its message
 * says so, for the statistics.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  handleWhen,
  retry,
  wrap,
} from 'cockatiel';
import type { ResolvedRedisOptions } from './options.js';

/** Longest pause between two attempts of a read. */
const READ_RETRY_MAX_DELAY_MS = 50;
/** First pause between two attempts of a read. */
const READ_RETRY_INITIAL_DELAY_MS = 5;

export type BreakerState = 'closed' | 'open' | 'half-open';

export class ResilienceCounters {
  /** Calls that reached Redis and failed (each attempt of a retried read counts). */
  errors = 0;
  /** Of those, the ones that timed out. */
  timeouts = 0;
  /** Read attempts repeated after a failure. */
  retries = 0;
  /** Calls refused at once because the breaker was open. */
  shortCircuited = 0;
  /** Times the breaker opened. */
  breakerOpens = 0;
}

export class Resilience {
  readonly counters = new ResilienceCounters();
  private readonly breaker;
  private readonly readPolicy;

  constructor(options: ResolvedRedisOptions, onRecovered: () => void) {
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: options.breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker.failures),
    });
    this.breaker.onBreak(() => this.counters.breakerOpens++);
    this.breaker.onReset(onRecovered);
    this.breaker.onFailure(({ reason }) => {
      if (!('error' in reason) || reason.error instanceof BrokenCircuitError) return;
      this.counters.errors++;
      if (/timed? ?out/i.test(reason.error.message)) this.counters.timeouts++;
    });
    const readRetry = retry(
      handleWhen((error) => !(error instanceof BrokenCircuitError)),
      {
        maxAttempts: options.readAttempts - 1,
        backoff: new ExponentialBackoff({
          initialDelay: READ_RETRY_INITIAL_DELAY_MS,
          maxDelay: READ_RETRY_MAX_DELAY_MS,
        }),
      },
    );
    readRetry.onRetry(() => this.counters.retries++);
    this.readPolicy = wrap(readRetry, this.breaker);
  }

  get state(): BreakerState {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  /** Runs an idempotent read with retries; undefined when it could not be done. */
  async read<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.readPolicy.execute(call);
    } catch (error) {
      this.noteRefusal(error);
      return undefined;
    }
  }

  /** Runs a write once; false when it could not be done (the caller remembers what was lost). */
  async write(call: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.breaker.execute(call);
      return true;
    } catch (error) {
      this.noteRefusal(error);
      return false;
    }
  }

  /** Like `write`, but returns the call's result, or undefined when it could not be done. */
  async run<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.breaker.execute(call);
    } catch (error) {
      this.noteRefusal(error);
      return undefined;
    }
  }

  private noteRefusal(error: unknown): void {
    if (error instanceof BrokenCircuitError) this.counters.shortCircuited++;
  }
}
