/**
 * The rollout clock. Plans are written in real durations (a week of shadow, a five-minute breach,
 * an hour before a high-severity pause rolls back); a scaled clock runs them faster, so a test or
 * a demo carries out a week-long plan in seconds with every rule unchanged. `now()` is plan time
 * (milliseconds, starting at the real time the clock was made); timers wait `planMs / scale`.
 */
export interface RolloutClock {
  now(): number;
  /** How many plan milliseconds pass per real millisecond (1: real time). */
  readonly scale: number;
}

export const realClock: RolloutClock = { now: () => Date.now(), scale: 1 };

/** A clock `scale` times faster than real time, from now on. */
export function scaledClock(scale: number): RolloutClock {
  const startedAt = Date.now();
  const origin = performance.now();
  return { now: () => startedAt + (performance.now() - origin) * scale, scale };
}
