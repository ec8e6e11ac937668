/**
 * Load awareness: is this process too busy for optional cache work?
 *
 * A cache that competes with its own application for CPU or heap makes an overload worse. Once a
 * second (by default) the monitor reads two signals and hands the verdict to the manager:
 *
 * - event-loop saturation: the longest lag of a 20 ms ticker over the last interval (how late it
 *   fired; `monitorEventLoopDelay` was not used because on Node 20 it misses a single long block),
 *   and the event-loop utilization (`performance.eventLoopUtilization`, the share of time the loop
 *   was busy). Above `lagThresholdMs` or `utilizationThreshold` the loop is saturated, and the
 *   manager stops compressing new entries (compression is CPU the application needs more).
 * - heap pressure: used heap ÷ V8's heap limit. Above `heapHighWater` the manager shrinks L1 step by
 *   step; below `heapLowWater` it restores the configured budget. The gap between the two marks is
 *   hysteresis, so the budget does not flap around one threshold.
 *
 * Nothing here runs on the hot path: the manager reads two booleans the monitor keeps current. The
 * timer is unref'd, so a cache never keeps a process alive. The probes are injectable for tests.
 */
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface LoadSample {
  /** Longest event-loop lag over the last interval, ms. */
  eventLoopLagMs: number;
  /** Share of the last interval the event loop was busy, 0..1. */
  eventLoopUtilization: number;
  /** used heap ÷ heap size limit, 0..1. */
  heapUsedRatio: number;
}

export interface LoadMonitorOptions {
  intervalMs?: number;
  lagThresholdMs?: number;
  utilizationThreshold?: number;
  heapHighWater?: number;
  heapLowWater?: number;
  /** Replaces the real probes (tests). */
  probe?: () => LoadSample;
}

export interface LoadState extends LoadSample {
  /** The loop is lagging: optional CPU work (compression) is being skipped. */
  cpuPressure: boolean;
  /** The heap went above the high-water mark and has not yet fallen below the low-water mark. */
  heapPressure: boolean;
  /** The heap is above the high-water mark now. */
  heapOverHighWater: boolean;
}

/** How often the signals are read. */
const DEFAULT_INTERVAL_MS = 1000;
/** Loop lag beyond which the loop counts as saturated; far above a healthy server's 1–5 ms. */
const DEFAULT_LAG_THRESHOLD_MS = 50;
/** Loop utilization beyond which the loop counts as saturated: it is almost never idle. */
const DEFAULT_UTILIZATION_THRESHOLD = 0.95;
/** Heap share at which L1 starts shrinking; V8 collects aggressively and slows down past ~90%. */
const DEFAULT_HEAP_HIGH_WATER = 0.85;
/** Heap share below which the configured L1 budget comes back. */
const DEFAULT_HEAP_LOW_WATER = 0.7;
/** Period of the lag ticker, ms: fine enough to see a 50 ms stall, cheap enough to be free. */
const LAG_TICK_MS = 20;

export class LoadMonitor {
  readonly state: LoadState = {
    eventLoopLagMs: 0,
    eventLoopUtilization: 0,
    heapUsedRatio: 0,
    cpuPressure: false,
    heapPressure: false,
    heapOverHighWater: false,
  };
  private readonly lagThresholdMs: number;
  private readonly utilizationThreshold: number;
  private readonly heapHighWater: number;
  private readonly heapLowWater: number;
  private readonly probe: () => LoadSample;
  private readonly timer: NodeJS.Timeout;
  private ticker: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private longestLagMs = 0;
  private lastUtilization: EventLoopUtilization | undefined;

  constructor(
    options: LoadMonitorOptions,
    private readonly onChange: (state: LoadState) => void,
  ) {
    this.lagThresholdMs = options.lagThresholdMs ?? DEFAULT_LAG_THRESHOLD_MS;
    this.utilizationThreshold = options.utilizationThreshold ?? DEFAULT_UTILIZATION_THRESHOLD;
    this.heapHighWater = options.heapHighWater ?? DEFAULT_HEAP_HIGH_WATER;
    this.heapLowWater = options.heapLowWater ?? DEFAULT_HEAP_LOW_WATER;
    if (options.probe) this.probe = options.probe;
    else {
      this.startTicker();
      this.probe = () => this.readRealSignals();
    }
    this.timer = setInterval(() => this.check(), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  /** Reads the signals now and updates the state (the timer calls it; tests may too). */
  check(): LoadState {
    const sample = this.probe();
    const state = this.state;
    state.eventLoopLagMs = sample.eventLoopLagMs;
    state.eventLoopUtilization = sample.eventLoopUtilization;
    state.heapUsedRatio = sample.heapUsedRatio;
    state.cpuPressure =
      sample.eventLoopLagMs > this.lagThresholdMs || sample.eventLoopUtilization > this.utilizationThreshold;
    state.heapOverHighWater = sample.heapUsedRatio > this.heapHighWater;
    if (state.heapOverHighWater) state.heapPressure = true;
    else if (sample.heapUsedRatio < this.heapLowWater) state.heapPressure = false;
    this.onChange(state);
    return state;
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.ticker);
  }

  private startTicker(): void {
    this.lastTick = performance.now();
    this.lastUtilization = performance.eventLoopUtilization();
    this.ticker = setInterval(() => {
      const now = performance.now();
      this.longestLagMs = Math.max(this.longestLagMs, now - this.lastTick - LAG_TICK_MS);
      this.lastTick = now;
    }, LAG_TICK_MS);
    this.ticker.unref();
  }

  private readRealSignals(): LoadSample {
    // A stall still under way (the ticker has not fired since) counts too.
    const lagMs = Math.max(this.longestLagMs, performance.now() - this.lastTick - LAG_TICK_MS, 0);
    this.longestLagMs = 0;
    const utilization = performance.eventLoopUtilization(this.lastUtilization);
    this.lastUtilization = performance.eventLoopUtilization();
    const heap = getHeapStatistics();
    return {
      eventLoopLagMs: lagMs,
      eventLoopUtilization: utilization.utilization,
      heapUsedRatio: heap.used_heap_size / heap.heap_size_limit,
    };
  }
}
