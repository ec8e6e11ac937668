/**
 * Polling with a deadline, for "wait until the server answers" loops.
 *
 * Tests must not sleep longer than needed, and must not hang forever when a server never comes up:
 * poll a cheap check at a short interval and give up at a deadline, leaving the error message to
 * the caller, which knows what it was waiting for.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Between two checks: short enough to add little latency, long enough not to spin. */
const POLL_INTERVAL_MS = 50;

/**
 * Calls `check` until it returns true (true) or `timeoutMs` has passed (false). A check that
 * throws counts as not yet. `stop` ends the wait early with false (for example: the process died).
 */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  stop: () => boolean = never,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stop()) return false;
    if (await check().catch(() => false)) return true;
    if (Date.now() >= deadline || stop()) return false;
    await sleep(POLL_INTERVAL_MS);
  }
}

function never(): boolean {
  return false;
}
