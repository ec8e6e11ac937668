/**
 * coarseNow: wall-clock milliseconds, read at most once per CLOCK_RESOLUTION_MS.
 *
 * `Date.now()` costs about 40 ns on Node 20, as much as the rest of an L1 hit; a hit needs the time
 * twice (the entry's deadline, its freshness). Like lru-cache's `ttlResolution`, the first read
 * caches the time and an unref'd timer forgets it CLOCK_RESOLUTION_MS later, so every read within
 * one millisecond shares one system call.
 *
 * The cost: while one synchronous stretch of code runs (no timer can fire), the time stands still
 * for it. A TTL is therefore honoured to within the longest event-loop block, which for cache TTLs
 * of seconds to hours is far below anything observable; a loop blocked that long has worse problems,
 * and the load monitor reports it.
 */

/** How long a read of the clock is reused. */
export const CLOCK_RESOLUTION_MS = 1;

let cachedNow = 0;

function forget(): void {
  cachedNow = 0;
}

export function coarseNow(): number {
  if (cachedNow === 0) {
    cachedNow = Date.now();
    setTimeout(forget, CLOCK_RESOLUTION_MS).unref();
  }
  return cachedNow;
}
