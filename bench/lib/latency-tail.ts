/**
 * Latency tails of several load windows pooled into one, and how sure a ratio of two pools is.
 *
 * A window's 99th percentile on a shared machine moves by 10–20 % from one window to the next
 * (another tenant's burst, a timer firing in one window and not the next), more than a small
 * effect being measured. Pooling all the requests of the windows taken in one condition averages
 * those bursts instead of letting the median window pick one: the pooled 99th percentile is the
 * latency that 1 % of all the condition's requests exceed. Each window gives its count and its
 * tail as wrk measured it (the latency at every 0.01 % from the 90th percentile up,
 * gateway/wrk.ts), which is enough to know, for any latency v above a window's 90th percentile,
 * how many of its requests took longer.
 *
 * The windows come in pairs measured at the same time, one in each condition (two processes on
 * one core, under the same load), so that what the machine does at a moment weighs on both. A
 * bootstrap over pairs (draw as many pairs as were measured, with replacement; 2,000 draws; a
 * fixed seed so a run's figures repeat for the same windows) gives the 95 % interval of the
 * ratio: when it straddles a target, the run could not tell.
 */
import { mulberry32 } from '../../src/util/random.js';
import { TAIL_FROM, TAIL_STEP } from '../gateway/wrk.js';

/** Bootstrap draws. */
const DRAWS = 2_000;
/** Halvings of the search for a pooled percentile: far below a microsecond. */
const BISECTIONS = 50;

export interface TailWindow {
  requests: number;
  /** Latency (ms) at the 90.00th, 90.01th, … 99.99th percentile. */
  tail: readonly number[];
}

/** The share of `window`'s requests slower than `latencyMs`. */
function shareAbove(window: TailWindow, latencyMs: number): number {
  const { tail } = window;
  let low = 0;
  let high = tail.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((tail[middle] as number) <= latencyMs) low = middle + 1;
    else high = middle;
  }
  // `low` points of the tail are at or below latencyMs; below the first one, all that is known is
  // that at most (100 - TAIL_FROM) % is slower, which is what a pooled 99th percentile needs.
  return 1 - (TAIL_FROM + low * TAIL_STEP) / 100;
}

/** The latency (ms) that `100 - percentile` % of all the windows' requests together exceed. */
export function pooledPercentile(windows: readonly TailWindow[], percentile = 99): number {
  const total = windows.reduce((sum, window) => sum + window.requests, 0);
  const allowed = ((100 - percentile) / 100) * total;
  const slower = (latencyMs: number) =>
    windows.reduce((sum, window) => sum + window.requests * shareAbove(window, latencyMs), 0);
  // The slower share only falls as the latency grows: bisect between the lowest and highest point.
  let low = Math.min(...windows.map((window) => window.tail[0] as number));
  let high = Math.max(...windows.map((window) => window.tail.at(-1) as number));
  for (let step = 0; step < BISECTIONS; step++) {
    const middle = (low + high) / 2;
    if (slower(middle) <= allowed) high = middle;
    else low = middle;
  }
  return high;
}

/** Two windows measured at the same time: one in the condition studied, one not. */
export interface WindowPair {
  on: TailWindow;
  off: TailWindow;
}

export interface PooledRatio {
  /** Pooled 99th percentile of the "on" windows ÷ that of the "off" windows. */
  ratio: number;
  /** The bootstrap's 95 % interval of the ratio. */
  low: number;
  high: number;
}

/**
 * The ratio of the pooled 99th percentiles of the pairs' "on" and "off" windows, with its 95 %
 * interval. The bootstrap draws whole pairs, so that what a moment of the machine did to both
 * windows of a pair stays on both sides of every draw.
 */
export function pooledRatio(pairs: readonly WindowPair[]): PooledRatio {
  const ratioOf = (drawn: readonly WindowPair[]) =>
    pooledPercentile(drawn.map((pair) => pair.on)) / pooledPercentile(drawn.map((pair) => pair.off));
  const random = mulberry32(0x5eed);
  const draws: number[] = [];
  for (let draw = 0; draw < DRAWS; draw++)
    draws.push(ratioOf(pairs.map(() => pairs[Math.floor(random() * pairs.length)] as WindowPair)));
  draws.sort((a, b) => a - b);
  return {
    ratio: ratioOf(pairs),
    low: draws[Math.floor(0.025 * DRAWS)] as number,
    high: draws[Math.ceil(0.975 * DRAWS) - 1] as number,
  };
}
