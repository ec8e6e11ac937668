/**
 * Stampede protection across instances: one instance runs the factory for a missing key, the
 * others wait for its result.
 *
 * In-process single flight (single-flight.ts) already folds concurrent misses within one instance
 * into one call; this folds the instances. The first to take the key's lock (`SET NX PX` with a
 * random token, released by a compare-and-delete script so an instance never frees a lock that
 * expired and was taken by another) runs the factory and writes the value through; the bus then
 * carries a "filled" notice for the key. The others wait for that notice, re-reading Redis every
 * `lockPollMs` as a fallback (a notice can be lost), and try the lock again each time: if the
 * holder died, its lock expires after `lockTtlMs` and one waiter takes over. A waiter gives up
 * waiting after `lockTtlMs` plus one poll and runs the factory itself, so a lost lock costs at
 * most one duplicate call. Whoever takes the lock reads Redis once more before calling the factory:
 * the previous holder may have filled the key and released the lock in between. When Redis is
 * unavailable every instance simply runs its own factory.
 */

/** Wakes the callers waiting for keys to be filled. */
export class FillNotifier {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Resolves when `key` is reported filled or after `ms`, whichever comes first. */
  wait(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.waiting.get(key);
      if (waiters === undefined) {
        waiters = new Set();
        this.waiting.set(key, waiters);
      }
      const set = waiters;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }

  notify(keys: Iterable<string>): void {
    for (const key of keys) {
      const waiters = this.waiting.get(key);
      if (waiters !== undefined) for (const wake of [...waiters]) wake();
    }
  }
}

export interface LockedLoad<T> {
  /** Takes the lock; its token, or undefined when another instance holds it or Redis is unavailable. */
  acquire(): Promise<string | undefined>;
  release(token: string): Promise<void>;
  /** Whether Redis can be used at all right now. */
  available(): boolean;
  /** Runs the factory and stores its result in both tiers (announcing the fill). */
  load(): Promise<T>;
  /** The value another instance stored, if it is there and fresh. */
  readStored(): Promise<{ value: T } | undefined>;
  /** Resolves when the key is reported filled, or after `ms`. */
  waitForFill(ms: number): Promise<void>;
}

/** Runs `load` on one instance at a time per key (see the file's note). */
export async function loadOnce<T>(steps: LockedLoad<T>, lockTtlMs: number, pollMs: number): Promise<T> {
  const giveUpAt = Date.now() + lockTtlMs + pollMs;
  for (;;) {
    const token = await steps.acquire();
    if (token !== undefined) {
      try {
        // The previous holder may have filled the key and released the lock since our last read.
        const stored = await steps.readStored();
        return stored === undefined ? await steps.load() : stored.value;
      } finally {
        await steps.release(token);
      }
    }
    if (!steps.available() || Date.now() >= giveUpAt) return steps.load();
    await steps.waitForFill(pollMs);
    const stored = await steps.readStored();
    if (stored !== undefined) return stored.value;
  }
}
