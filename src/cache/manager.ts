/**
 * OptimizedCacheManager: the orchestrator of Keel's cache.
 *
 * Read path: L1 (SmartCache, W-TinyLFU, in process) → L2 (Redis, optional) → the caller's factory.
 * An L1 hit is a map lookup, a freshness check and a counter increment; everything else (decoding,
 * single flight, timers, statistics) happens off that path. Writes serialize the value once: the
 * serialized length is the size charged to the memory budget and fed to the adaptive TTL, and a
 * value that cannot be serialized fails before anything is stored.
 *
 * L1 hits allocate one promise. `get` and `getOrSet` are not async functions: an async function
 * allocates its frame (a promise and room for every local, ~480 bytes for getOrSet) on every call,
 * even one that never waits. A hit returns `Promise.resolve(value)`; only what goes beyond L1 runs
 * in an async function (`getBeyondL1`, `getOrSetBeyondL1`), and a bad argument is still a rejected
 * promise, never a throw. Measured: L1-hit getOrSet 1.15× as fast, and a tenth less garbage in
 * `npm run bench:l2`'s Zipf scenario.
 *
 * With Redis (redis/redis-smart-cache.ts): an L1 miss reads L2 (reads of one tick share an MGET);
 * an L2 hit is decoded and promoted into L1, with what remains of its TTL and grace, when the L1
 * would keep it (`SmartCache.wouldAdmit`): the key was read before (the L1's frequency sketch
 * remembers it), and the L1 has room or the key is more popular than the entry it would evict
 * next. Not promoting on the first read is TinyLFU's doorkeeper applied between the tiers: most
 * keys a Redis-backed service reads are read once by a given instance, and keeping each of them
 * would cost L1 memory and the garbage collector the work of carrying it (measured: promoting
 * every first read costs a fresh instance a quarter of its L2 read throughput). Testing the
 * admission before promoting, rather than when the entry leaves the window, spares the promotions
 * that would be evicted again: over the shared cache traces, simulated with every L1 miss served
 * by L2, it makes 3.6 times fewer promotions for 0.3 points of L1 hit ratio, and in
 * `npm run bench:l2`'s Zipf scenario it halves the evictions and gains a tenth in throughput. `set` writes
 * through both tiers and the invalidation bus tells the other instances to drop the key from their
 * L1; `delete` and the invalidations reach both tiers and the bus. A promotion is skipped when an
 * invalidation arrived while the L2 read was in flight, so a value read just before another
 * instance's write cannot settle in L1 after that write's notice. Redis failures never reach the
 * caller: the tier answers "miss" and the cache works from L1 (see resilience.ts).
 *
 * getOrSet follows the stale-while-revalidate discipline of HTTP caches (RFC 5861) and of
 * BentoCache: an entry lives in L1 for its TTL plus a grace period; within grace a stale value is
 * the fallback when the factory fails, and with a soft timeout it is returned while the factory
 * keeps running in the background to refresh the entry. A hard timeout bounds the wait when there
 * is nothing to fall back on. Concurrent misses on one key share one factory call (single flight).
 *
 * Envelopes name their key. Every envelope the manager writes (to Redis, and to L1 for large
 * values) carries a hash of its key (codec/envelope.ts), and every one it reads must carry the
 * hash of the key it was read for: a value copied to another key in Redis is a counted decode
 * error and a miss, never the other key's value. The hash is the key's `hashString`, which a write
 * and an L2 read compute anyway for the ChangeClock, XORed with a hash of the key prefix and
 * namespace, so a copy into another namespace does not match either. Envelopes without a key hash
 * (written before it existed) are misses too: accepting them would let any copy of one through.
 *
 * Invalidation: tags and dependencies are indexed per entry (invalidation.ts); patterns are Redis
 * globs over the keys of this manager's namespace. `set` is a data change, so it also invalidates
 * the entries that depend on the key; a read-through fill after a miss is not. The L1 is swept in
 * slices that yield to the event loop (l1-sweeper.ts), and after the invalidation has been applied
 * to Redis: a key leaves L1 no earlier than Redis, where the tier removes large tags and dependency
 * closures chunk by chunk and tells this instance each chunk's keys once they are gone from Redis
 * (`onUnlinked`), so a read never refills L1 from a value the invalidation has passed. The keys a
 * `delete` names leave L1 at once: their removal from Redis is issued in the same call, ahead of
 * any later read.
 *
 * Load awareness (load-monitor.ts): while the event loop lags, new entries skip compression; while
 * the heap is above its high-water mark, the L1 budget shrinks step by step, and it comes back once
 * the heap falls below the low-water mark. Both show in `getPerformanceStats().load.shedding`.
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { isKeelError, KeelError } from '../errors.js';
import {
  assertGetOrSetOptions,
  assertSetOptions,
  assertStringList,
  type Factory,
  type GetOrSetOptions,
  type SetOptions,
  timeoutError,
} from './call-options.js';
import { ChangeClock } from './change-clock.js';
import { coarseNow } from './clock.js';
import { Codec, ownedCopy, serializeValue } from './codec.js';
import { chargedBytes, L1Entry } from './entry.js';
import { InvalidationIndex } from './invalidation.js';
import { assertValidKey, globToRegExp } from './keys.js';
import { L1Sweeper } from './l1-sweeper.js';
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
import { hashString, SmartCache } from './memory/index.js';
import { type CacheManagerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { BusChanges } from './redis/bus.js';
import { RedisSmartCache } from './redis/redis-smart-cache.js';
import { FillNotifier, loadOnce } from './redis/stampede.js';
import { SingleFlight } from './single-flight.js';
import { LatencyHistogram, SpaceSaving } from './stats/index.js';
import { isAdaptiveTtl, TtlPolicy } from './ttl-policy.js';

export type { Factory, GetOrSetOptions, SetOptions } from './call-options.js';

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
  /** The Redis tier, when configured. */
  private readonly l2: RedisSmartCache | undefined;
  private readonly codec: Codec;
  private readonly ttl: TtlPolicy;
  private readonly index = new InvalidationIndex();
  private readonly sweeper = new L1Sweeper(this.index, (key) => this.dropChanged(key));
  private readonly flights = new SingleFlight();
  private readonly fills = new FillNotifier();
  private readonly counters = new CacheCounters();
  private readonly topKeys: SpaceSaving;
  private readonly l1HitLatency = new LatencyHistogram();
  private readonly l2HitLatency = new LatencyHistogram();
  private readonly missLatency = new LatencyHistogram();
  private readonly setLatency = new LatencyHistogram();
  private readonly loadMonitor: LoadMonitor | undefined;
  private requestSeq = 0;
  /** Which keys changed while an L2 read was in flight (change-clock.ts). */
  private readonly changes = new ChangeClock();
  /** XORed with a key's hashString to name the key in its envelopes (see the file's note). */
  private readonly envelopeSeed: number;
  /** The connection to Redis the constructor started (settled: connected, or working from L1). */
  private readonly connecting: Promise<void>;
  private closed = false;

  /**
   * Creates a manager and waits for Redis (see `connect`). With `redis.required`, rejects with
   * REDIS_UNAVAILABLE when Redis cannot be reached.
   */
  static async create(options: CacheManagerOptions = {}): Promise<OptimizedCacheManager> {
    const manager = new OptimizedCacheManager(options);
    try {
      await manager.connect();
    } catch (error) {
      await manager.close();
      throw error;
    }
    return manager;
  }

  constructor(options: CacheManagerOptions = {}) {
    this.options = resolveOptions(options);
    this.namespace = this.options.namespace;
    const keyPrefix = this.options.redis === false ? '' : this.options.redis.keyPrefix;
    this.envelopeSeed = hashString(`${keyPrefix}${this.namespace}#`);
    this.ttl = new TtlPolicy(this.options.ttl);
    this.codec = new Codec(this.options.compression);
    this.topKeys = new SpaceSaving(this.options.stats.topKeys);
    this.l1 = new SmartCache<string, L1Entry>({
      maxBytes: this.options.memory.resolvedMaxBytes,
      maxEntries: this.options.memory.maxEntries,
      windowFraction: this.options.memory.windowFraction,
      onEvict: (key, entry) => this.index.unlink(key, entry.tags, entry.dependsOn),
    });
    this.l2 =
      this.options.redis === false
        ? undefined
        : new RedisSmartCache(this.options.redis, this.namespace, {
            onChanges: (changes) => this.applyRemoteChanges(changes),
            onResync: () => this.resyncL1(),
            onUnlinked: (keys) => this.dropUnlinked(keys),
            onUnavailable: (message) => this.options.logger.warn(message),
          });
    // Connects at once, as ioredis does: a manager made with `new` and never `connect()`ed still
    // reaches Redis. Until then calls use L1; a failure is reported by the logger and by connect().
    this.connecting = this.l2?.connect() ?? Promise.resolve();
    this.connecting.catch(() => {});
    this.loadMonitor =
      this.options.load === false
        ? undefined
        : new LoadMonitor(this.options.load, (state) => this.adaptToLoad(state));
  }

  /**
   * Waits for the connection to Redis the constructor started, if Redis is configured. Without
   * `redis.required` it resolves even when Redis is down (the cache works from L1, says so once
   * through `logger`, and takes Redis into use when it answers); with it, rejects with
   * REDIS_UNAVAILABLE naming the server. Calls made before it resolves use L1 only.
   */
  async connect(): Promise<void> {
    this.assertOpen();
    await this.connecting;
  }

  /** The fresh cached value, or undefined. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    // Not an async function, nor is getOrSet: see "L1 hits allocate one promise" in the file's note.
    try {
      this.assertOpen();
      assertValidKey(key);
      const sampled = (++this.requestSeq & SAMPLE_MASK) === 0;
      const started = sampled ? performance.now() : 0;
      const entry = this.l1.get(key);
      const value = entry === undefined ? undefined : this.freshValue(key, entry);
      if (value !== undefined) {
        this.countL1Hit(key, sampled, started);
        return Promise.resolve(value as T);
      }
      return this.getBeyondL1<T>(key, sampled, started);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stores `value` in the cache (both tiers). Throws SERIALIZATION_FAILED (nothing stored) when the
   * value cannot be serialized; a value over `memory.maxEntryBytes` is not stored in L1 (counted as
   * rejected) and any older value of the key is removed. Entries depending on `key` are invalidated.
   */
  async set<T>(key: string, value: T, options: SetOptions = {}): Promise<void> {
    this.assertOpen();
    assertValidKey(key);
    assertSetOptions(options);
    const started = performance.now();
    const serialized = serializeValue(value);
    await this.store(key, value, serialized, options, true);
    this.counters.invalidatedKeys += await this.sweeper.removeClosure([key], false);
    this.counters.sets++;
    this.setLatency.record(performance.now() - started);
  }

  /**
   * The cached value, or the factory's result (cached on the way). Concurrent calls for one key
   * share one factory call; with `lock` (or `redis.lock`), so do the instances sharing Redis. See
   * the file's design note for grace and the two timeouts.
   */
  getOrSet<T>(key: string, factory: Factory<T>, options: GetOrSetOptions = {}): Promise<T> {
    try {
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
          // A fresh entry that fails to decode is dropped (decodeEntry), so it is no stale fallback.
          if (coarseNow() >= entry.freshUntil) stale = entry;
          else {
            const value = this.valueOf(key, entry);
            if (value !== undefined) {
              this.countL1Hit(key, sampled, started);
              return Promise.resolve(value as T);
            }
          }
        }
      }
      return this.getOrSetBeyondL1(key, factory, options, stale, sampled, started);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes `key` and the entries that depend on it, in both tiers; true when `key` was cached. */
  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertValidKey(key);
    const wasCached = this.dropChanged(key);
    const removed = await this.l2?.deleteKeys([key]);
    this.counters.invalidatedKeys += (wasCached ? 1 : 0) + (await this.sweeper.removeClosure([key], false));
    this.counters.deletes++;
    return wasCached || (removed ?? 0) > 0;
  }

  /**
   * Removes the keys of this namespace matching a Redis glob (and their dependents) from both
   * tiers; returns how many entries were removed (from Redis when it is used, else from L1).
   */
  async invalidate(pattern: string): Promise<number> {
    this.assertOpen();
    const matched = await this.sweeper.matching(this.l1.keys(), globToRegExp(pattern));
    const remote = await this.l2?.invalidatePattern(pattern);
    const local = await this.sweeper.removeClosure(matched);
    this.counters.invalidatedKeys += local;
    return Math.max(local, remote ?? 0);
  }

  /**
   * Removes every entry written with one of `tags` (and their dependents); returns how many.
   * Resolves once they are gone from Redis and from this L1, however many there are; the other
   * instances drop them as the bus tells them (see redis/index-drain.ts and l1-sweeper.ts).
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.assertOpen();
    assertStringList(tags, 'tags');
    const [remote, local] = await this.sweeper.sweepTags(tags, async () =>
      tags.length === 0 ? 0 : this.l2?.invalidateTags(tags),
    );
    this.counters.invalidatedKeys += local;
    return Math.max(local, remote ?? 0);
  }

  /** Empties the cache: L1, this namespace in Redis, and (through the bus) the other instances' L1. */
  async clear(): Promise<void> {
    this.assertOpen();
    this.clearL1();
    await this.l2?.flush();
  }

  /**
   * The adaptive TTL `set` would give `key` now (data type, size, how often it is read), for a
   * caller that keeps its own notion of freshness on top of the cache (the HTTP gateway does).
   */
  adaptiveTtlMs(key: string, dataType: string, sizeBytes: number): number {
    return this.ttl.ttlFor({ key, dataType, sizeBytes, accessCount: this.accessCount(key), adaptive: true });
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
        total: c.l1Hits + c.l2Hits + c.misses,
        l1Hits: c.l1Hits,
        l2Hits: c.l2Hits,
        misses: c.misses,
        staleServed: c.staleServed,
      },
      writes: {
        sets: c.sets,
        deletes: c.deletes,
        invalidatedKeys: c.invalidatedKeys,
        remoteInvalidatedKeys: c.remoteInvalidatedKeys,
        l1Resyncs: c.l1Resyncs,
      },
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
        l2Hit: this.l2HitLatency.snapshot(),
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
      l2: this.l2?.stats(),
    };
  }

  /** Stops the background monitor, drops every L1 entry and closes Redis; later calls throw CACHE_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.loadMonitor?.stop();
    this.clearL1();
    await this.l2?.close();
  }

  private hitRateReport(): HitRateReport {
    return hitRates(this.counters);
  }

  /** Counts an L1 hit; a sampled request also feeds the top keys and the latency histogram. */
  private countL1Hit(key: string, sampled: boolean, started: number): void {
    this.counters.l1Hits++;
    if (!sampled) return;
    this.topKeys.record(key, true);
    this.l1HitLatency.record(performance.now() - started);
  }

  private countL2Hit(key: string, sampled: boolean, started: number): void {
    this.counters.l2Hits++;
    if (!sampled) return;
    this.topKeys.record(key, true);
    this.l2HitLatency.record(performance.now() - started);
  }

  private countMiss(key: string, sampled: boolean): void {
    this.counters.misses++;
    if (sampled) this.topKeys.record(key, false);
  }

  /** `get` after an L1 miss: Redis, if configured. */
  private async getBeyondL1<T>(key: string, sampled: boolean, started: number): Promise<T | undefined> {
    if (this.l2 !== undefined) {
      const found = await this.readL2(key);
      if (found !== undefined && coarseNow() < found.freshUntil) {
        this.countL2Hit(key, sampled, started);
        return found.value as T;
      }
    }
    this.countMiss(key, sampled);
    return undefined;
  }

  /** `getOrSet` after an L1 miss (or with `forceFresh`): Redis, then the factory's shared flight. */
  private async getOrSetBeyondL1<T>(
    key: string,
    factory: Factory<T>,
    options: GetOrSetOptions,
    staleInL1: L1Entry | undefined,
    sampled: boolean,
    started: number,
  ): Promise<T> {
    let stale = staleInL1;
    if (options.forceFresh !== true && this.l2 !== undefined && this.flights.get(key) === undefined) {
      const found = await this.readL2(key);
      if (found !== undefined) {
        if (coarseNow() < found.freshUntil) {
          this.countL2Hit(key, sampled, started);
          return found.value as T;
        }
        stale = found;
      }
    }
    this.countMiss(key, sampled);
    let flight = this.flights.get<T>(key);
    if (flight === undefined) flight = this.flights.start(key, () => this.loadShared(key, factory, options));
    else this.counters.singleFlightJoins++;
    return this.awaitFlight(key, flight, stale, options);
  }

  /**
   * Stores one serialized value in both tiers, replacing any older one. `changesData` is true for
   * `set` (Redis-side dependents are invalidated and the bus told) and false for a factory's fill.
   */
  private async store(
    key: string,
    value: unknown,
    serialized: Uint8Array,
    options: SetOptions,
    changesData: boolean,
  ): Promise<void> {
    const dataType = options.dataType ?? DEFAULT_DATA_TYPE;
    const ttlMs = this.ttl.ttlFor({
      key,
      dataType,
      sizeBytes: serialized.byteLength,
      accessCount: isAdaptiveTtl(options.adaptive, options.ttlMs) ? this.accessCount(key) : 0,
      explicitTtlMs: options.ttlMs,
      adaptive: options.adaptive,
    });
    const graceMs = options.graceMs ?? this.options.defaults.graceMs;
    const now = coarseNow();
    const tags = options.tags ?? NO_STRINGS;
    const dependsOn = options.dependsOn ?? NO_STRINGS;
    const compressAbove = this.options.memory.compressAboveBytes;
    const encodeForL1 = compressAbove !== false && serialized.byteLength >= compressAbove;
    const keyHash = hashString(key);
    let envelope: Buffer | undefined;
    if (this.l2 !== undefined || encodeForL1) {
      const compress = !this.loadMonitor?.state.cpuPressure;
      if (!compress) this.counters.compressionsShed++;
      envelope = this.codec.encode(
        serialized,
        { createdAt: now, ttlMs, graceMs, dataType, tags },
        { compress, owned: encodeForL1, keyHash: keyHash ^ this.envelopeSeed },
      );
    }
    const staleUntil = now + ttlMs + graceMs;
    this.changes.keyChanged(keyHash);
    if (serialized.byteLength > this.options.memory.resolvedMaxEntryBytes) {
      this.drop(key);
      this.counters.oversizeRejections++;
    } else {
      const stored = encodeForL1 ? envelope : value;
      const entry = new L1Entry(stored, encodeForL1, now + ttlMs, staleUntil, dataType, tags, dependsOn);
      this.holdInL1(key, entry, encodeForL1 ? (envelope as Buffer).byteLength : serialized.byteLength);
    }
    if (this.l2 === undefined || envelope === undefined) return;
    const write = { key, envelope, expiresAt: staleUntil, tags, dependsOn };
    if (changesData) {
      await Promise.all([this.l2.deleteDependents([key]), this.l2.write(write)]);
      this.l2.announceChanged([key]);
    } else {
      await this.l2.write(write);
    }
  }

  /** Puts an entry into L1 (overwriting in place) and links it into the indexes; true if held. */
  private holdInL1(key: string, entry: L1Entry, storedBytes: number): boolean {
    // Overwrite in place (the key keeps its place in the eviction policy); only the index moves.
    const previous = this.l1.peek(key);
    if (previous !== undefined) this.index.unlink(key, previous.tags, previous.dependsOn);
    // Link first: if W-TinyLFU turns the newcomer away, its eviction callback unlinks it again.
    this.index.link(key, entry.tags, entry.dependsOn);
    const lifetimeMs = entry.staleUntil - coarseNow();
    const admitted =
      lifetimeMs > 0 &&
      this.l1.set(key, entry, { ttlMs: lifetimeMs, size: chargedBytes(key, storedBytes, entry) });
    // Refused as too large (counted by the L1) or lost admission (an eviction): either way not held.
    if (!admitted) this.index.unlink(key, entry.tags, entry.dependsOn);
    return admitted;
  }

  /**
   * Reads `key` from Redis: its value as a live L1 entry (check `freshUntil`: it may be stale),
   * promoted into L1 when the key was read before (see the file's note). Undefined on a miss, when
   * Redis is unavailable, or when the stored bytes cannot be decoded (counted).
   */
  private async readL2(key: string): Promise<L1Entry | undefined> {
    const readStarted = this.changes.now();
    const envelope = await (this.l2 as RedisSmartCache).read(key);
    if (envelope === null || this.closed) return undefined;
    const keyHash = hashString(key);
    let decoded: ReturnType<Codec['decode']>;
    try {
      decoded = this.codec.decode(envelope, keyHash ^ this.envelopeSeed);
    } catch (error) {
      if (!isKeelError(error, 'DECODE_FAILED')) throw error;
      this.counters.decodeErrors++;
      return undefined;
    }
    const { createdAt, ttlMs, graceMs, dataType, tags } = decoded.meta;
    const freshUntil = createdAt + ttlMs;
    const staleUntil = freshUntil + graceMs;
    if (coarseNow() >= staleUntil) return undefined;
    const entry = new L1Entry(decoded.value, false, freshUntil, staleUntil, dataType, tags, NO_STRINGS);
    if (
      this.l1.wouldAdmit(key) &&
      !this.changes.changedSince(keyHash, readStarted) &&
      envelope.byteLength <= this.options.memory.resolvedMaxEntryBytes
    ) {
      const compressAbove = this.options.memory.compressAboveBytes;
      if (compressAbove !== false && envelope.byteLength >= compressAbove) {
        // A large value stays encoded; copied, as the reply may be a view into the client's read buffer.
        const encoded = new L1Entry(
          ownedCopy(envelope),
          true,
          freshUntil,
          staleUntil,
          dataType,
          tags,
          NO_STRINGS,
        );
        this.holdInL1(key, encoded, envelope.byteLength);
      } else {
        this.holdInL1(key, entry, envelope.byteLength);
      }
    }
    return entry;
  }

  /** How often `key` is requested: the sketch's estimate, or the top-K's larger count for hot keys. */
  private accessCount(key: string): number {
    return Math.max(this.l1.frequency(key), this.topKeys.estimate(key) * TOP_KEYS_SAMPLE_EVERY);
  }

  /** Runs the factory once per key in this process, and with a lock once across instances. */
  private loadShared<T>(key: string, factory: Factory<T>, options: GetOrSetOptions): Promise<T> {
    const l2 = this.l2;
    if (l2 === undefined || !(options.lock ?? (this.options.redis !== false && this.options.redis.lock))) {
      return this.load(key, factory, options);
    }
    const redis = this.options.redis as Exclude<ResolvedOptions['redis'], false>;
    return loadOnce<T>(
      {
        acquire: () => l2.acquireLock(key),
        release: (token) => l2.releaseLock(key, token),
        available: () => l2.available,
        load: async () => {
          const value = await this.load(key, factory, options);
          l2.announceFilled(key);
          return value;
        },
        readStored: async () => {
          const found = await this.readL2(key);
          return found !== undefined && coarseNow() < found.freshUntil
            ? { value: found.value as T }
            : undefined;
        },
        waitForFill: (ms) => this.fills.wait(key, ms),
      },
      redis.lockTtlMs,
      redis.lockPollMs,
    );
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
    if (value !== undefined && !this.closed) await this.fill(key, value, options);
    return value;
  }

  /** Caches a factory's result; a value that cannot be cached is still returned to the callers. */
  private async fill(key: string, value: unknown, options: SetOptions): Promise<void> {
    let serialized: Uint8Array;
    try {
      serialized = serializeValue(value);
    } catch (error) {
      if (!isKeelError(error, 'SERIALIZATION_FAILED')) throw error;
      this.counters.serializationErrors++;
      return;
    }
    await this.store(key, value, serialized, options, false);
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
        const value = stale === undefined ? undefined : this.valueOf(key, stale);
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

  /** The entry's value, decoded when it is held encoded (undefined if that fails: see decodeEntry). */
  private valueOf(key: string, entry: L1Entry): unknown {
    return entry.encoded ? this.decodeEntry(key, entry) : entry.value;
  }

  /** The entry's value while it is fresh, else undefined. */
  private freshValue(key: string, entry: L1Entry): unknown {
    return coarseNow() < entry.freshUntil ? this.valueOf(key, entry) : undefined;
  }

  /** Decodes an L1 entry held as an envelope; a corrupt one is dropped, counted, and reads as a miss. */
  private decodeEntry(key: string, entry: L1Entry): unknown {
    try {
      return this.codec.decode(entry.value as Uint8Array, hashString(key) ^ this.envelopeSeed).value;
    } catch (error) {
      if (!isKeelError(error, 'DECODE_FAILED')) throw error;
      this.counters.decodeErrors++;
      this.drop(key);
      return undefined;
    }
  }

  /**
   * Applies another instance's changes, received on the bus, to this L1 (swept in slices: the
   * first at once, the rest in the turns that follow).
   */
  private applyRemoteChanges(changes: BusChanges): void {
    if (changes.clear) this.clearL1();
    if (changes.tags.length > 0 || changes.patterns.length > 0) {
      // Their keys may include some this instance is reading from Redis and does not know yet.
      this.changes.everythingChanged();
    }
    if (changes.keys.length > 0) this.countRemote(this.sweeper.removeClosure(changes.keys));
    if (changes.tags.length > 0) {
      this.countRemote(this.sweeper.sweepTags(changes.tags, async () => 0).then(([, removed]) => removed));
    }
    for (const pattern of changes.patterns) {
      this.countRemote(
        this.sweeper
          .matching(this.l1.keys(), globToRegExp(pattern))
          .then((keys) => this.sweeper.removeClosure(keys)),
      );
    }
    if (changes.filled.length > 0) this.fills.notify(changes.filled);
  }

  private countRemote(sweep: Promise<number>): void {
    void sweep.then((removed) => {
      this.counters.remoteInvalidatedKeys += removed;
    });
  }

  /** The tier removed these keys' values from Redis (a chunk of a drain): drop them here too. */
  private dropUnlinked(keys: readonly string[]): void {
    for (const key of keys) if (this.dropChanged(key)) this.counters.invalidatedKeys++;
  }

  /** The bus may have missed messages: nothing in L1 can be trusted any more. */
  private resyncL1(): void {
    this.counters.l1Resyncs++;
    this.clearL1();
  }

  private clearL1(): void {
    this.changes.everythingChanged();
    this.l1.clear();
    this.index.clear();
  }

  /** Invalidates a key: notes the change (change-clock.ts) and drops it; true when it was cached. */
  private dropChanged(key: string): boolean {
    this.changes.keyChanged(hashString(key));
    return this.drop(key);
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
