/**
 * OptimizedCacheManager: the orchestrator of Keel's cache.
 *
 * Read path: L1 (SmartCache, W-TinyLFU, in process) → L2 (Redis, optional) → the caller's factory.
 * An L1 hit is a map lookup, a freshness check and a counter increment; everything else (decoding,
 * single flight, timers, statistics) happens off that path. Writes serialize the value once: the
 * serialized length is the size charged to the memory budget and fed to the adaptive TTL, and a
 * value that cannot be serialized fails before anything is stored.
 *
 * getOrSet follows the stale-while-revalidate discipline of HTTP caches (RFC 5861) and of
 * BentoCache: an entry lives in L1 for its TTL plus a grace period; within grace a stale value is
 * the fallback when the factory fails, and with a soft timeout it is returned while the factory
 * keeps running in the background to refresh the entry. A hard timeout bounds the wait when there
 * is nothing to fall back on. Concurrent misses on one key share one factory call (single flight).
 *
 * Invalidation: tags and dependencies are indexed per entry (invalidation.ts); patterns are Redis
 * globs over the keys of this manager's namespace. `set` is a data change, so it also invalidates
 * the entries that depend on the key; a read-through fill after a miss is not.
 *
 * Load awareness (load-monitor.ts): while the event loop lags, new entries skip compression; while
 * the heap is above its high-water mark, the L1 budget shrinks step by step, and it comes back once
 * the heap falls below the low-water mark. Both show in `getPerformanceStats().load.shedding`.
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { isKeelError, KeelError } from '../errors.js';
import { coarseNow } from './clock.js';
import { Codec, serializeValue } from './codec.js';
import { chargedBytes, L1Entry } from './entry.js';
import { InvalidationIndex } from './invalidation.js';
import { assertValidKey, globToRegExp } from './keys.js';
import { LoadMonitor, type LoadState } from './load-monitor.js';
import {
  CacheCounters,
  type HitRateReport,
  hitRates,
  type MemoryUsage,
  type PerformanceStats,
  SAMPLE_MASK,
  TOP_KEYS_SAMPLE_EVERY,
} from './manager-stats.js';
import { SmartCache } from './memory/index.js';
import { type CacheManagerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { SingleFlight } from './single-flight.js';
import { LatencyHistogram, SpaceSaving } from './stats/index.js';
import { TtlPolicy } from './ttl-policy.js';

export interface SetOptions {
  /** TTL in ms; without it (or with `adaptive: true`, which uses it as the base) the adaptive policy decides. */
  ttlMs?: number;
  adaptive?: boolean;
  /** Data type for the TTL multipliers and the compression monitor ("product", "inventory", …). */
  dataType?: string;
  tags?: readonly string[];
  /** Keys this entry is derived from: invalidating one of them invalidates this entry. */
  dependsOn?: readonly string[];
  /** How long after its TTL the entry may still be served as a fallback by getOrSet. */
  graceMs?: number;
}

export interface GetOrSetOptions extends SetOptions {
  /** With a stale value in grace: return it after this many ms and let the factory finish in the background. */
  softTimeoutMs?: number;
  /** Give up waiting after this many ms: the stale value if there is one, else FACTORY_TIMEOUT. */
  hardTimeoutMs?: number;
  /** Skip the cached value and call the factory (the result is cached). */
  forceFresh?: boolean;
}

export type Factory<T> = () => T | Promise<T>;

/** Data type used when a write names none. */
const DEFAULT_DATA_TYPE = 'default';
/** Under heap pressure each check shrinks the L1 budget to this share of what it holds. */
const HEAP_SHRINK_FACTOR = 0.75;
/** ...but never below this share of the configured budget. */
const MIN_BUDGET_SHARE = 0.1;
/** Number of most-requested keys listed in getPerformanceStats(). */
const TOP_KEYS_REPORTED = 10;
const NO_STRINGS: readonly string[] = Object.freeze([]);

export class OptimizedCacheManager {
  readonly namespace: string;
  private readonly options: ResolvedOptions;
  private readonly l1: SmartCache<string, L1Entry>;
  private readonly codec: Codec;
  private readonly ttl: TtlPolicy;
  private readonly index = new InvalidationIndex();
  private readonly flights = new SingleFlight();
  private readonly counters = new CacheCounters();
  private readonly topKeys: SpaceSaving;
  private readonly l1HitLatency = new LatencyHistogram();
  private readonly missLatency = new LatencyHistogram();
  private readonly setLatency = new LatencyHistogram();
  private readonly loadMonitor: LoadMonitor | undefined;
  private requestSeq = 0;
  private closed = false;

  constructor(options: CacheManagerOptions = {}) {
    this.options = resolveOptions(options);
    this.namespace = this.options.namespace;
    this.ttl = new TtlPolicy(this.options.ttl);
    this.codec = new Codec(this.options.compression);
    this.topKeys = new SpaceSaving(this.options.stats.topKeys);
    this.l1 = new SmartCache<string, L1Entry>({
      maxBytes: this.options.memory.resolvedMaxBytes,
      maxEntries: this.options.memory.maxEntries,
      onEvict: (key, entry) => this.index.unlink(key, entry.tags, entry.dependsOn),
    });
    this.loadMonitor =
      this.options.load === false
        ? undefined
        : new LoadMonitor(this.options.load, (state) => this.adaptToLoad(state));
  }

  /** The fresh cached value, or undefined. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    this.assertOpen();
    assertValidKey(key);
    const sampled = (++this.requestSeq & SAMPLE_MASK) === 0;
    const started = sampled ? performance.now() : 0;
    const entry = this.l1.get(key);
    if (entry !== undefined && coarseNow() < entry.freshUntil) {
      const value = entry.encoded ? this.decodeEntry(key, entry) : entry.value;
      if (value !== undefined) {
        this.counters.l1Hits++;
        if (sampled) this.sampleHit(key, started);
        return value as T;
      }
    }
    this.counters.misses++;
    if (sampled) this.topKeys.record(key, false);
    return undefined;
  }

  /**
   * Stores `value` in the cache. Throws SERIALIZATION_FAILED (nothing stored) when the value cannot
   * be serialized; a value over `memory.maxEntryBytes` is not stored (counted as rejected) and any
   * older value of the key is removed. Entries depending on `key` are invalidated.
   */
  async set<T>(key: string, value: T, options: SetOptions = {}): Promise<void> {
    this.assertOpen();
    assertValidKey(key);
    assertSetOptions(options);
    const started = performance.now();
    const serialized = serializeValue(value);
    const dependents = this.index.closure([key]);
    dependents.delete(key);
    this.removeKeys(dependents);
    this.store(key, value, serialized, options);
    this.counters.sets++;
    this.setLatency.record(performance.now() - started);
  }

  /**
   * The cached value, or the factory's result (cached on the way). Concurrent calls for one key
   * share one factory call. See the file's design note for grace and the two timeouts.
   */
  async getOrSet<T>(key: string, factory: Factory<T>, options: GetOrSetOptions = {}): Promise<T> {
    this.assertOpen();
    assertValidKey(key);
    if (typeof factory !== 'function') {
      throw new KeelError('INVALID_ARGUMENT', 'getOrSet needs a factory function that returns the value.');
    }
    assertGetOrSetOptions(options);
    const sampled = (++this.requestSeq & SAMPLE_MASK) === 0;
    const started = sampled ? performance.now() : 0;
    let stale: L1Entry | undefined;
    if (options.forceFresh !== true) {
      const entry = this.l1.get(key);
      if (entry !== undefined) {
        if (coarseNow() < entry.freshUntil) {
          const value = entry.encoded ? this.decodeEntry(key, entry) : entry.value;
          if (value !== undefined) {
            this.counters.l1Hits++;
            if (sampled) this.sampleHit(key, started);
            return value as T;
          }
        } else stale = entry;
      }
    }
    this.counters.misses++;
    if (sampled) this.topKeys.record(key, false);
    let flight = this.flights.get<T>(key);
    if (flight === undefined) flight = this.flights.start(key, () => this.load(key, factory, options));
    else this.counters.singleFlightJoins++;
    return this.awaitFlight(key, flight, stale, options);
  }

  /** Removes `key` and the entries that depend on it; true when `key` was cached. */
  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertValidKey(key);
    const wasCached = this.l1.has(key);
    this.removeKeys(this.index.closure([key]));
    this.counters.deletes++;
    return wasCached;
  }

  /** Removes the keys of this namespace matching a Redis glob (and their dependents); returns how many. */
  async invalidate(pattern: string): Promise<number> {
    this.assertOpen();
    const matcher = globToRegExp(pattern);
    const matched: string[] = [];
    for (const key of this.l1.keys()) if (matcher.test(key)) matched.push(key);
    return this.removeKeys(this.index.closure(matched));
  }

  /** Removes every entry written with one of `tags` (and their dependents); returns how many. */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.assertOpen();
    assertStringList(tags, 'tags');
    return this.removeKeys(this.index.closure(this.index.keysWithTags(tags)));
  }

  /** Empties the cache. */
  async clear(): Promise<void> {
    this.assertOpen();
    this.l1.clear();
    this.index.clear();
  }

  /** Share of requests answered fresh from the cache, 0..1 (by tier in getPerformanceStats). */
  getHitRate(): number {
    return this.hitRateReport().overall;
  }

  getMemoryUsage(): MemoryUsage {
    const heap = getHeapStatistics();
    const budgetBytes = this.l1.maxBytes ?? this.options.memory.resolvedMaxBytes;
    return {
      bytes: this.l1.bytes,
      entries: this.l1.size,
      budgetBytes,
      configuredBudgetBytes: this.options.memory.resolvedMaxBytes,
      maxEntries: this.options.memory.maxEntries,
      utilization: this.l1.bytes / budgetBytes,
      heapUsedBytes: heap.used_heap_size,
      heapLimitBytes: heap.heap_size_limit,
    };
  }

  getPerformanceStats(): PerformanceStats {
    const c = this.counters;
    const l1Stats = this.l1.stats;
    const load = this.loadMonitor?.state;
    return {
      hitRate: this.hitRateReport(),
      requests: {
        total: c.l1Hits + c.misses,
        l1Hits: c.l1Hits,
        l2Hits: 0,
        misses: c.misses,
        staleServed: c.staleServed,
      },
      writes: { sets: c.sets, deletes: c.deletes, invalidatedKeys: c.invalidatedKeys },
      factory: {
        calls: c.factoryCalls,
        errors: c.factoryErrors,
        singleFlightJoins: c.singleFlightJoins,
        softTimeouts: c.softTimeouts,
        hardTimeouts: c.hardTimeouts,
        inFlight: this.flights.size,
      },
      latency: {
        l1Hit: this.l1HitLatency.snapshot(),
        miss: this.missLatency.snapshot(),
        set: this.setLatency.snapshot(),
      },
      memory: this.getMemoryUsage(),
      eviction: {
        evictions: l1Stats.evictions,
        expirations: l1Stats.expirations,
        rejections: l1Stats.rejections + c.oversizeRejections,
        windowFraction: this.l1.windowFraction(),
      },
      compression: {
        ratio: this.codec.compressionRatio(),
        skippedDataTypes: this.codec.skippedDataTypes(),
        shedWhileBusy: c.compressionsShed,
      },
      errors: { decode: c.decodeErrors, serialization: c.serializationErrors },
      topKeys: this.topKeys.top(TOP_KEYS_REPORTED).map((top) => ({
        key: top.key,
        requests: top.count * TOP_KEYS_SAMPLE_EVERY,
        error: top.error * TOP_KEYS_SAMPLE_EVERY,
        hitRate: top.hitRate,
      })),
      load: {
        eventLoopLagMs: load?.eventLoopLagMs ?? 0,
        eventLoopUtilization: load?.eventLoopUtilization ?? 0,
        heapUsedRatio: load?.heapUsedRatio ?? 0,
        shedding: this.shedding(),
      },
    };
  }

  /** Stops the background monitor and drops every entry; later calls throw CACHE_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.loadMonitor?.stop();
    this.l1.clear();
    this.index.clear();
  }

  private hitRateReport(): HitRateReport {
    return hitRates(this.counters);
  }

  private sampleHit(key: string, started: number): void {
    this.topKeys.record(key, true);
    this.l1HitLatency.record(performance.now() - started);
  }

  /** Stores one serialized value in L1, replacing any older one. */
  private store(key: string, value: unknown, serialized: Uint8Array, options: SetOptions): void {
    if (serialized.byteLength > this.options.memory.resolvedMaxEntryBytes) {
      this.drop(key);
      this.counters.oversizeRejections++;
      return;
    }
    // Overwrite in place (the key keeps its place in the eviction policy); only the index moves.
    const previous = this.l1.peek(key);
    if (previous !== undefined) this.index.unlink(key, previous.tags, previous.dependsOn);
    const dataType = options.dataType ?? DEFAULT_DATA_TYPE;
    const ttlMs = this.ttl.ttlFor({
      key,
      dataType,
      sizeBytes: serialized.byteLength,
      accessCount: this.accessCount(key),
      explicitTtlMs: options.ttlMs,
      adaptive: options.adaptive,
    });
    const graceMs = options.graceMs ?? this.options.defaults.graceMs;
    const now = coarseNow();
    const tags = options.tags ?? NO_STRINGS;
    const dependsOn = options.dependsOn ?? NO_STRINGS;
    let stored: unknown = value;
    let storedBytes = serialized.byteLength;
    const compressAbove = this.options.memory.compressAboveBytes;
    const encode = compressAbove !== false && serialized.byteLength >= compressAbove;
    if (encode) {
      const compress = !this.loadMonitor?.state.cpuPressure;
      if (!compress) this.counters.compressionsShed++;
      const envelope = this.codec.encode(
        serialized,
        { createdAt: now, ttlMs, graceMs, dataType, tags },
        { compress },
      );
      stored = envelope;
      storedBytes = envelope.byteLength;
    }
    const entry = new L1Entry(stored, encode, now + ttlMs, now + ttlMs + graceMs, dataType, tags, dependsOn);
    // Link first: if W-TinyLFU turns the newcomer away, its eviction callback unlinks it again.
    this.index.link(key, tags, dependsOn);
    const admitted = this.l1.set(key, entry, {
      ttlMs: ttlMs + graceMs,
      size: chargedBytes(key, storedBytes),
    });
    // Refused as too large (counted by the L1) or lost admission (an eviction): either way not held.
    if (!admitted) this.index.unlink(key, tags, dependsOn);
  }

  /** How often `key` is requested: the sketch's estimate, or the top-K's larger count for hot keys. */
  private accessCount(key: string): number {
    return Math.max(this.l1.frequency(key), this.topKeys.estimate(key) * TOP_KEYS_SAMPLE_EVERY);
  }

  /** Runs the factory for a missing key and caches its result. */
  private async load<T>(key: string, factory: Factory<T>, options: GetOrSetOptions): Promise<T> {
    this.counters.factoryCalls++;
    const started = performance.now();
    let value: T;
    try {
      value = await factory();
    } catch (error) {
      this.counters.factoryErrors++;
      throw error;
    } finally {
      this.missLatency.record(performance.now() - started);
    }
    if (value !== undefined && !this.closed) this.fill(key, value, options);
    return value;
  }

  /** Caches a factory's result; a value that cannot be cached is still returned to the callers. */
  private fill(key: string, value: unknown, options: SetOptions): void {
    let serialized: Uint8Array;
    try {
      serialized = serializeValue(value);
    } catch (error) {
      if (!isKeelError(error, 'SERIALIZATION_FAILED')) throw error;
      this.counters.serializationErrors++;
      return;
    }
    this.store(key, value, serialized, options);
  }

  private awaitFlight<T>(
    key: string,
    flight: Promise<T>,
    stale: L1Entry | undefined,
    options: GetOrSetOptions,
  ): Promise<T> {
    const softTimeoutMs =
      stale === undefined ? undefined : (options.softTimeoutMs ?? this.options.defaults.softTimeoutMs);
    const hardTimeoutMs = options.hardTimeoutMs ?? this.options.defaults.hardTimeoutMs;
    if (stale === undefined && hardTimeoutMs === undefined) return flight;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let softTimer: NodeJS.Timeout | undefined;
      let hardTimer: NodeJS.Timeout | undefined;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(softTimer);
        clearTimeout(hardTimer);
        outcome();
      };
      const fallBack = (error: unknown) => {
        const value = stale === undefined ? undefined : this.staleValue(key, stale);
        if (value === undefined) reject(error);
        else {
          this.counters.staleServed++;
          resolve(value as T);
        }
      };
      flight.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => fallBack(error)),
      );
      if (softTimeoutMs !== undefined) {
        softTimer = setTimeout(() => {
          this.counters.softTimeouts++;
          finish(() => fallBack(timeoutError(key, softTimeoutMs)));
        }, softTimeoutMs);
      }
      if (hardTimeoutMs !== undefined) {
        hardTimer = setTimeout(() => {
          this.counters.hardTimeouts++;
          finish(() => fallBack(timeoutError(key, hardTimeoutMs)));
        }, hardTimeoutMs);
      }
    });
  }

  private staleValue(key: string, entry: L1Entry): unknown {
    return entry.encoded ? this.decodeEntry(key, entry) : entry.value;
  }

  /** Decodes an L1 entry held as an envelope; a corrupt one is dropped, counted, and reads as a miss. */
  private decodeEntry(key: string, entry: L1Entry): unknown {
    try {
      return this.codec.decode(entry.value as Uint8Array).value;
    } catch (error) {
      if (!isKeelError(error, 'DECODE_FAILED')) throw error;
      this.counters.decodeErrors++;
      this.drop(key);
      return undefined;
    }
  }

  /** Invalidates keys: removes them from L1 and the indexes; returns how many were cached. */
  private removeKeys(keys: Iterable<string>): number {
    let removed = 0;
    for (const key of keys) if (this.drop(key)) removed++;
    this.counters.invalidatedKeys += removed;
    return removed;
  }

  /** Removes one key from L1 and the indexes; true when it was cached. */
  private drop(key: string): boolean {
    const entry = this.l1.peek(key);
    if (entry === undefined) return false;
    this.index.unlink(key, entry.tags, entry.dependsOn);
    return this.l1.delete(key);
  }

  private adaptToLoad(state: LoadState): void {
    const configured = this.options.memory.resolvedMaxBytes;
    const current = this.l1.maxBytes ?? configured;
    if (state.heapOverHighWater) {
      const target = Math.max(
        Math.floor(this.l1.bytes * HEAP_SHRINK_FACTOR),
        Math.floor(configured * MIN_BUDGET_SHARE),
      );
      if (target < current) {
        this.l1.resize({ maxBytes: target });
        this.counters.heapShrinks++;
      }
    } else if (!state.heapPressure && current < configured) {
      this.l1.resize({ maxBytes: configured });
    }
  }

  private shedding(): string[] {
    const shed: string[] = [];
    if (this.loadMonitor?.state.cpuPressure) shed.push('compression');
    if ((this.l1.maxBytes ?? 0) < this.options.memory.resolvedMaxBytes) shed.push('l1-budget');
    return shed;
  }

  private assertOpen(): void {
    if (this.closed) throw new KeelError('CACHE_CLOSED', 'This cache manager was closed; create a new one.');
  }
}

function timeoutError(key: string, ms: number): KeelError {
  return new KeelError(
    'FACTORY_TIMEOUT',
    `The factory for "${key}" did not finish within ${ms} ms; raise hardTimeoutMs or set graceMs to serve stale values.`,
  );
}

function assertSetOptions(options: SetOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new KeelError('INVALID_ARGUMENT', 'Cache write options must be an object.');
  }
  const { ttlMs, graceMs } = options;
  if (ttlMs !== undefined && !(typeof ttlMs === 'number' && ttlMs > 0)) {
    throw new KeelError(
      'INVALID_ARGUMENT',
      'ttlMs must be a positive number of milliseconds (Infinity: no expiry).',
    );
  }
  if (graceMs !== undefined && !(typeof graceMs === 'number' && graceMs >= 0 && Number.isFinite(graceMs))) {
    throw new KeelError('INVALID_ARGUMENT', 'graceMs must be a non-negative, finite number of milliseconds.');
  }
  if (options.dataType !== undefined && (typeof options.dataType !== 'string' || options.dataType === '')) {
    throw new KeelError('INVALID_ARGUMENT', 'dataType must be a non-empty string such as "product".');
  }
  if (options.tags !== undefined) assertStringList(options.tags, 'tags');
  if (options.dependsOn !== undefined) assertStringList(options.dependsOn, 'dependsOn');
}

function assertGetOrSetOptions(options: GetOrSetOptions): void {
  assertSetOptions(options);
  for (const name of ['softTimeoutMs', 'hardTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new KeelError('INVALID_ARGUMENT', `${name} must be a positive whole number of milliseconds.`);
    }
  }
}

function assertStringList(list: unknown, name: string): void {
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new KeelError('INVALID_ARGUMENT', `${name} must be an array of non-empty strings.`);
  }
}
