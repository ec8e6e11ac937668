/**
 * ConnectionSlots: the gateway's connections to the origin, handed out one per exchange, with a
 * deadline for waiting.
 *
 * The pool (undici) would queue a request for a busy origin without bound, so one slow route could
 * keep every other request waiting for its connections. Here each exchange first takes a slot
 * (there are as many as the pool has connections, so the pool itself never queues); when none is
 * free it waits in FIFO order, and gives up at its deadline with UPSTREAM_BUSY, which the gateway
 * answers with 503 and Retry-After.
 */
import { KeelError } from '../errors.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

export class ConnectionSlots {
  private free: number;
  private readonly waiting: Waiter[] = [];
  /** Waits that ended at their deadline. */
  timeouts = 0;

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves when a slot is taken; rejects with UPSTREAM_BUSY after `waitMs`. */
  take(waitMs: number): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.timeouts++;
          reject(
            new KeelError(
              'UPSTREAM_BUSY',
              `all ${this.size} origin connections stayed busy for ${Math.round(waitMs)} ms`,
            ),
          );
        }, waitMs),
      };
      this.waiting.push(waiter);
    });
  }

  /** Returns a slot: to the longest waiter, or to the free ones. */
  give(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.free++;
      return;
    }
    clearTimeout(next.timer);
    next.grant();
  }

  get inUse(): number {
    return this.size - this.free;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
