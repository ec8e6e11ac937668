/**
 * The manager's counters and the reports built from them.
 *
 * The hot path only increments plain numeric fields of one `CacheCounters` object; every ratio,
 * percentile and list is computed when a report is asked for. Per-key figures come from a
 * Space-Saving top-K fed one request in `TOP_KEYS_SAMPLE_EVERY` (a sample keeps the heavy hitters
 * and their hit rates while costing the hot path one map update in eight), and latencies from
 * fixed-memory histograms; L1 hit latency is likewise sampled.
 */
import type { RedisTierStats } from './redis/redis-smart-cache.js';
import type { LatencySnapshot } from './stats/index.js';

/** One request in this many feeds the top-K tracker and the L1-hit latency histogram (a power of two). */
export const TOP_KEYS_SAMPLE_EVERY = 8;
export const SAMPLE_MASK = TOP_KEYS_SAMPLE_EVERY - 1;

export class CacheCounters {
  l1Hits = 0;
  l2Hits = 0;
  misses = 0;
  staleServed = 0;
  sets = 0;
  deletes = 0;
  invalidatedKeys = 0;
  /** L1 entries dropped because another instance changed them (invalidation bus). */
  remoteInvalidatedKeys = 0;
  /** Times L1 was cleared because bus messages may have been missed (reconnects). */
  l1Resyncs = 0;
  factoryCalls = 0;
  factoryErrors = 0;
  singleFlightJoins = 0;
  softTimeouts = 0;
  hardTimeouts = 0;
  oversizeRejections = 0;
  serializationErrors = 0;
  decodeErrors = 0;
  compressionsShed = 0;
  heapShrinks = 0;
}

export interface HitRateReport {
  /** Share of `get`/`getOrSet` requests answered from the cache (fresh), 0..1. */
  overall: number;
  /** Share of all requests answered by L1, and by L2 (so l1 + l2 = overall). */
  l1: number;
  l2: number;
}

export interface MemoryUsage {
  /** Bytes charged to the L1 budget (values plus per-entry overhead). */
  bytes: number;
  entries: number;
  /** The budget in force now (smaller than `configuredBudgetBytes` while shrunk under heap pressure). */
  budgetBytes: number;
  configuredBudgetBytes: number;
  maxEntries: number | undefined;
  /** bytes ÷ budgetBytes. */
  utilization: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
}

export interface PerformanceStats {
  hitRate: HitRateReport;
  requests: { total: number; l1Hits: number; l2Hits: number; misses: number; staleServed: number };
  writes: {
    sets: number;
    deletes: number;
    invalidatedKeys: number;
    remoteInvalidatedKeys: number;
    l1Resyncs: number;
  };
  factory: {
    calls: number;
    errors: number;
    singleFlightJoins: number;
    softTimeouts: number;
    hardTimeouts: number;
    inFlight: number;
  };
  latency: { l1Hit: LatencySnapshot; l2Hit: LatencySnapshot; miss: LatencySnapshot; set: LatencySnapshot };
  memory: MemoryUsage;
  eviction: { evictions: number; expirations: number; rejections: number; windowFraction: number };
  compression: {
    ratio: number;
    skippedDataTypes: string[];
    shedWhileBusy: number;
  };
  errors: { decode: number; serialization: number };
  topKeys: Array<{ key: string; requests: number; error: number; hitRate: number }>;
  load: { eventLoopLagMs: number; eventLoopUtilization: number; heapUsedRatio: number; shedding: string[] };
  /** The Redis tier's state and counters; undefined without Redis. */
  l2: RedisTierStats | undefined;
}

export function hitRates(counters: CacheCounters): HitRateReport {
  const total = counters.l1Hits + counters.l2Hits + counters.misses;
  if (total === 0) return { overall: 0, l1: 0, l2: 0 };
  return {
    overall: (counters.l1Hits + counters.l2Hits) / total,
    l1: counters.l1Hits / total,
    l2: counters.l2Hits / total,
  };
}
