/**
 * SmartCache: Keel's synchronous in-process cache (the L1), bounded by entries and/or bytes, with
 * W-TinyLFU eviction and per-entry expiry.
 *
 * Policy (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache Admission Policy", ACM TOS
 * 2017; the design of Caffeine's BoundedLocalCache). The cache is split in three LRU queues:
 *
 *   - the admission window, an LRU that every new entry enters (the whole cache to start, so a
 *     young cache is plain LRU; then whatever share window-tuner.ts chooses, often 1–10 %);
 *   - probation and protected, together the main space, a segmented LRU: an entry hit in probation
 *     moves to protected (at most PROTECTED_SHARE of the main space), and protected overflow is
 *     demoted back to probation.
 *
 * An entry pushed out of the window becomes a candidate for the main space. When the cache is over
 * its bounds the candidate is compared with probation's least recently used entry, the victim:
 * the frequency sketch (frequency-sketch.ts) estimates how often each was used recently and the
 * more popular one stays. A long scan therefore passes through the window without flushing the
 * entries that earned their place, which is where plain LRU loses. A warm candidate that loses is
 * still let in once in HASH_FLOOD_ODDS, so an adversary cannot pin the cache by forging hot keys.
 * The window's share is chosen by a race of shadow caches (window-tuner.ts) so recency-skewed
 * workloads get a large window and frequency-skewed ones a small one. When the share shrinks,
 * entries the sketch has seen reused go straight to protected, as a small window would have put
 * them there.
 *
 * Size awareness. When `maxBytes` is set, every entry weighs its `size` and the queues' shares are
 * shares of bytes: a large candidate must out-rank each victim it displaces, one at a time, and an
 * entry larger than `maxEntryBytes` (or the whole budget) is refused outright. `maxEntries` bounds
 * the count in either mode; the cache never holds more than either bound once a call returns.
 * With both bounds, an entry weighs at least `maxBytes / maxEntries` (its share of the entry bound,
 * in bytes), so the queues' shares are shares of whichever bound the entries actually fill: 10,000
 * entries of 700 bytes under a 256 MB budget fill the entry bound, and a 1 % window must then hold
 * 100 of them, not 2.5 MB (every entry, which would make the cache plain LRU).
 *
 * Expiry. An entry with a TTL has a deadline in a hierarchical timer wheel (timer-wheel.ts). A read
 * of an expired entry removes it (lazy expiry); writes, and reads of entries that have a deadline,
 * advance the wheel by at most EXPIRY_BUDGET removals, so expired entries leave memory without a
 * background timer and without a pause when many expire at once. `purgeExpired()` sweeps them all.
 *
 * Storage (as lru-cache does it). A Map from key to a slot number; everything else lives in arrays
 * indexed by slot: keys, values, the key's hash (computed once, on insert), the size, the queue,
 * and the prev/next links of a doubly-linked list per queue. Slots 0..2 are the queues' sentinels.
 * A hit is a Map lookup plus a few array writes; it allocates nothing. Freed slots are reused; the
 * arrays grow by doubling up to `maxEntries`.
 *
 * Not thread-safe and not re-entrant: `onEvict` runs synchronously after the entry is gone and must
 * not call back into the cache.
 */
import { ConfigError, KeelError } from '../../errors.js';
import { coarseNow } from '../clock.js';
import { FrequencySketch } from './frequency-sketch.js';
import { hashKey } from './hash.js';
import {
  HASH_FLOOD_ODDS,
  HASH_FLOOD_THRESHOLD,
  PROTECTED_SHARE,
  RANDOM_SEED,
  REUSED_FREQUENCY,
  xorshift32,
} from './policy.js';
import { FIRST_SLOT, FREE, NONE, PROBATION, PROTECTED, SlotQueues, WINDOW } from './slot-queues.js';
import { TimerWheel } from './timer-wheel.js';
import { INITIAL_SHARE, WindowTuner } from './window-tuner.js';

export type EvictionReason = 'capacity' | 'expired';

export interface SmartCacheOptions<K, V> {
  /** Most entries held at once. */
  maxEntries?: number;
  /** Most bytes held at once, as the sum of the `size` of each `set`. Makes `size` mandatory. */
  maxBytes?: number;
  /** Larger entries are refused by `set`. Default: `maxBytes`. */
  maxEntryBytes?: number;
  /** Called after an entry leaves because of the bounds or its TTL (not on delete, clear or overwrite). */
  onEvict?: (key: K, value: V, reason: EvictionReason) => void;
  /**
   * Fixes the admission window's share of the cache (0..1; 1 is plain LRU). Without it the share
   * adapts to the workload (window-tuner.ts).
   */
  windowFraction?: number;
  /** The clock, in ms. Default: `Date.now` read at most once a millisecond (see clock.ts). */
  now?: () => number;
}

export interface SmartCacheSetOptions {
  /** Time to live in ms: > 0, or Infinity. Without it the entry never expires. */
  ttlMs?: number;
  /** Bytes charged to `maxBytes`; required when the cache has `maxBytes`. */
  size?: number;
}

export interface SmartCacheStats {
  hits: number;
  misses: number;
  /** Entries removed to respect `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Entries removed because their TTL passed. */
  expirations: number;
  /** `set` calls refused because the entry was too large. */
  rejections: number;
}

/**
 * The window tuner starts when the cache is this full: before, no share changes anything (nothing
 * is evicted), and a cache that never gets there pays nothing; starting before the first eviction
 * gives its shadows time to warm up.
 */
const TUNER_START_FILL = 0.25;
/** Resident entries whose frequency is sampled at the first eviction. */
const REUSE_SAMPLE = 256;
/** Most expired entries removed by the timer wheel during one operation. */
const EXPIRY_BUDGET = 16;
/** Slots allocated up front; the arrays double from there as the cache fills. */
const INITIAL_SLOTS = 256;

export class SmartCache<K extends string | number, V> {
  private readonly slotOf = new Map<K, number>();
  private keyAt: (K | undefined)[] = [];
  private valueAt: (V | undefined)[] = [];
  private hashAt: Int32Array;
  private sizeAt: Float64Array;
  private readonly queues: SlotQueues;
  private freeSlots: number[] = [];
  private nextUnusedSlot = FIRST_SLOT;
  private wheel: TimerWheel;
  private readonly sketch: FrequencySketch;
  /** Tunes the window share; created once the cache is TUNER_START_FILL full. */
  private tuner: WindowTuner | undefined;
  /** Whether the residents showed reuse at the first eviction; undefined before it. */
  private sampledReuse: boolean | undefined;
  private adaptWindow: boolean;
  /** With both bounds, `maxBytes / maxEntries`: the least an entry weighs (see the design note). */
  private weightFloor = 0;
  private byteCount = 0;
  private entryLimit: number | undefined;
  private byteLimit: number | undefined;
  private readonly entryByteLimit: number | undefined;
  private readonly weighBytes: boolean;
  private windowShare = INITIAL_SHARE;
  private windowLimit = 0;
  private protectedLimit = 0;
  private randomState = RANDOM_SEED;
  private readonly onEvict: ((key: K, value: V, reason: EvictionReason) => void) | undefined;
  private readonly clock: () => number;
  private readonly counters: SmartCacheStats = {
    hits: 0,
    misses: 0,
    evictions: 0,
    expirations: 0,
    rejections: 0,
  };

  constructor(options: SmartCacheOptions<K, V> = {}) {
    this.entryLimit = validLimit('maxEntries', options.maxEntries, true);
    this.byteLimit = validLimit('maxBytes', options.maxBytes, false);
    this.entryByteLimit = validLimit('maxEntryBytes', options.maxEntryBytes, false);
    if (this.entryLimit === undefined && this.byteLimit === undefined) {
      throw new ConfigError('maxEntries', 'a SmartCache needs maxEntries, maxBytes or both');
    }
    this.weighBytes = this.byteLimit !== undefined;
    this.onEvict = options.onEvict;
    this.clock = options.now ?? coarseNow;
    const slots = FIRST_SLOT + Math.min(INITIAL_SLOTS, this.slotLimit());
    this.hashAt = new Int32Array(slots);
    this.sizeAt = new Float64Array(slots);
    // Queue weights are bytes (at least `weightFloor` an entry) when bounded by bytes, else entries.
    this.queues = new SlotQueues(slots);
    this.wheel = new TimerWheel(slots, this.clock(), (slot) => this.remove(slot, 'expired'));
    this.sketch = new FrequencySketch(this.entryLimit ?? slots);
    this.adaptWindow = options.windowFraction === undefined;
    if (options.windowFraction !== undefined) this.windowShare = validShare(options.windowFraction);
    this.updateLimits();
  }

  /** The value of a live entry, or undefined. Counts a hit or a miss and records the access. */
  get(key: K): V | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined || this.expiredOnRead(slot)) {
      this.counters.misses++;
      this.tuner?.record(hashKey(key));
      return undefined;
    }
    this.counters.hits++;
    this.tuner?.record(this.hashAt[slot]);
    this.touch(slot);
    return this.valueAt[slot];
  }

  /** The value of a live entry, without counting or recording the access. */
  peek(key: K): V | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined || this.expiredOnRead(slot)) return undefined;
    return this.valueAt[slot];
  }

  has(key: K): boolean {
    const slot = this.slotOf.get(key);
    return slot !== undefined && !this.expiredOnRead(slot);
  }

  /**
   * Stores the entry. Returns false when it was refused (larger than `maxEntryBytes` or the whole
   * budget; an older value of the key is then removed too) or lost admission at once; true when
   * the cache holds it.
   */
  set(key: K, value: V, options: SmartCacheSetOptions = {}): boolean {
    const size = this.validSize(options.size);
    const ttlMs = options.ttlMs;
    if (ttlMs !== undefined && !(ttlMs > 0)) {
      throw new KeelError('INVALID_ARGUMENT', `ttlMs must be > 0 or Infinity (got ${ttlMs})`);
    }
    const existing = this.slotOf.get(key);
    if (this.tooLarge(size)) {
      this.counters.rejections++;
      if (existing !== undefined) this.remove(existing, undefined);
      return false;
    }
    const now = this.clock();
    let slot: number;
    if (existing === undefined) {
      slot = this.allocate(key, value, size);
    } else {
      slot = existing;
      this.valueAt[slot] = value;
      this.reweigh(slot, size);
      this.touch(slot);
    }
    if (ttlMs === undefined || ttlMs === Number.POSITIVE_INFINITY) {
      this.wheel.cancel(slot);
    } else {
      this.wheel.schedule(slot, now + ttlMs);
    }
    this.advanceWheel(now);
    this.evict();
    return this.slotOf.get(key) === slot;
  }

  delete(key: K): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    this.remove(slot, undefined);
    return true;
  }

  /** Removes every entry (without `onEvict`) and forgets the access history; stats are kept. */
  clear(): void {
    this.slotOf.clear();
    this.keyAt = [];
    this.valueAt = [];
    this.queues.clear();
    this.freeSlots = [];
    this.nextUnusedSlot = FIRST_SLOT;
    this.byteCount = 0;
    this.wheel = new TimerWheel(this.queues.slots, this.clock(), (slot) => this.remove(slot, 'expired'));
    this.sketch.clear();
    if (this.adaptWindow) {
      this.windowShare = INITIAL_SHARE;
      this.tuner = undefined;
      this.sampledReuse = undefined;
    }
    this.updateLimits();
  }

  /** Entries held, including expired ones not yet swept. */
  get size(): number {
    return this.slotOf.size;
  }

  /** Sum of the `size` of the entries held. */
  get bytes(): number {
    return this.byteCount;
  }

  get maxBytes(): number | undefined {
    return this.byteLimit;
  }

  get maxEntries(): number | undefined {
    return this.entryLimit;
  }

  /**
   * Changes the bounds; entries over the new bounds are evicted before it returns. A cache created
   * with `maxBytes` keeps a byte bound (it weighs entries by size), so `maxBytes` cannot be removed.
   */
  resize(bounds: { maxBytes?: number; maxEntries?: number }): void {
    if (bounds.maxEntries !== undefined) {
      this.entryLimit = validLimit('maxEntries', bounds.maxEntries, true);
      if (!this.weighBytes) this.sketch.ensureCapacity(this.entryLimit ?? 1);
      this.tuner?.resize(bounds.maxEntries);
    }
    if (bounds.maxBytes !== undefined) {
      if (!this.weighBytes)
        throw new ConfigError('maxBytes', 'only a cache created with maxBytes can be resized by bytes');
      this.byteLimit = validLimit('maxBytes', bounds.maxBytes, false);
    }
    this.updateLimits();
    this.reweighAll();
    this.evict();
  }

  /**
   * Keys of the live entries, in no particular order. The cache may change between two steps (a
   * caller that pauses between keys): a key removed meanwhile is not yielded, one added may be.
   */
  *keys(): IterableIterator<K> {
    const now = this.clock();
    for (const [key, slot] of this.slotOf) {
      if (this.wheel.deadlines[slot] > now) yield key;
    }
  }

  /** The sketch's estimate of the key's recent popularity, 0..15. */
  frequency(key: K): number {
    const slot = this.slotOf.get(key);
    return this.sketch.frequency(slot === undefined ? hashKey(key) : this.hashAt[slot]);
  }

  /**
   * For a value read from elsewhere (another tier): whether inserting it is worth it. It is when
   * the sketch has seen `key` before and either the cache has room or the key is more popular
   * than the entry the cache would evict next: TinyLFU's admission test, taken before the value is
   * inserted instead of when it leaves the window, so a value that would lose is not inserted only
   * to be evicted again. When the answer is no, the access is recorded, so the key's popularity
   * counts next time.
   */
  wouldAdmit(key: K): boolean {
    const slot = this.slotOf.get(key);
    const hash = slot === undefined ? hashKey(key) : this.hashAt[slot];
    const frequency = this.sketch.frequency(hash);
    let admitted = frequency > 0;
    if (admitted && this.filledPast(1)) {
      const victim = this.queues.oldestInMain();
      admitted = victim === NONE || this.outranks(frequency, this.sketch.frequency(this.hashAt[victim]));
    }
    if (!admitted) this.sketch.increment(hash);
    return admitted;
  }

  /** When the entry expires (ms, Infinity for never), or undefined when it is not held. */
  expiresAt(key: K): number | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.wheel.deadlines[slot];
  }

  /** Removes every expired entry now; returns how many. */
  purgeExpired(): number {
    return this.wheel.expireDue(this.clock());
  }

  get stats(): SmartCacheStats {
    return { ...this.counters };
  }

  /** The admission window's current share of the cache (0..1; adapted unless fixed). */
  windowFraction(): number {
    return this.windowShare;
  }

  /** Fixes the admission window's share (0..1) from now on; the cache stops adapting it. */
  setWindowFraction(share: number): void {
    this.adaptWindow = false;
    this.tuner = undefined;
    this.applyWindowShare(validShare(share));
  }

  // ---- access order ------------------------------------------------------------------------------

  /** Records an access: frequency, then recency within the entry's queue (probation → protected). */
  private touch(slot: number): void {
    this.sketch.increment(this.hashAt[slot]);
    const queue = this.queues.queueAt[slot];
    if (queue === PROBATION) {
      this.moveTo(slot, PROTECTED);
      this.demoteProtectedOverflow();
    } else {
      this.moveTo(slot, queue);
    }
  }

  private demoteProtectedOverflow(): void {
    while (this.queues.weight[PROTECTED] > this.protectedLimit) {
      const oldest = this.queues.first(PROTECTED);
      if (oldest === NONE) return;
      this.moveTo(oldest, PROBATION);
    }
  }

  /**
   * Brings the cache within its bounds. Window overflow moves to probation's newest end; those
   * entries are the candidates, taken oldest first (then the window's own, oldest first), and they
   * compete with the victims (probation's oldest, then protected's, then the window's) until the
   * bounds hold. On a tie the victim stays: it has already proved itself in the main space.
   */
  private evict(): void {
    // Every write and resize passes here, and no eviction happens before the cache is filled past
    // TUNER_START_FILL, so this is the one place the tuner needs to start.
    if (this.tuner === undefined && this.adaptWindow && this.filledPast(TUNER_START_FILL)) {
      this.tuner = this.createTuner(this.entryLimit ?? this.queues.slots);
    }
    if (this.sampledReuse === undefined && this.tuner !== undefined && this.overBounds()) {
      this.sampledReuse = this.residentsShowReuse();
      this.tuner.firstEviction(this.sampledReuse);
    }
    let candidate = this.moveWindowOverflowToProbation();
    if (!this.overBounds()) return;
    let candidateQueue = PROBATION;
    let victimQueue = PROBATION;
    let victim = this.queues.first(PROBATION);
    while (this.overBounds()) {
      if (candidate === NONE && candidateQueue === PROBATION) {
        candidateQueue = WINDOW;
        candidate = this.queues.first(WINDOW);
      }
      if (candidate === NONE && victim === NONE) {
        if (victimQueue === WINDOW) return;
        victimQueue = victimQueue === PROBATION ? PROTECTED : WINDOW;
        victim = this.queues.first(victimQueue);
      } else if (
        victim === NONE ||
        (candidate !== NONE && this.weightOf(this.sizeAt[candidate]) > this.budget())
      ) {
        candidate = this.evictAndAdvance(candidate);
      } else if (candidate === NONE) {
        victim = this.evictAndAdvance(victim);
      } else if (candidate === victim) {
        victim = this.evictAndAdvance(victim);
        candidate = NONE;
      } else if (this.admit(candidate, victim)) {
        victim = this.evictAndAdvance(victim);
        candidate = this.queues.after(candidate);
      } else {
        candidate = this.evictAndAdvance(candidate);
      }
    }
  }

  /** True when the sketch has seen the sampled resident entries reused, on average. */
  private residentsShowReuse(): boolean {
    let total = 0;
    let sampled = 0;
    for (const slot of this.slotOf.values()) {
      total += this.sketch.frequency(this.hashAt[slot]);
      if (++sampled === REUSE_SAMPLE) break;
    }
    return sampled > 0 && total >= REUSED_FREQUENCY * sampled;
  }

  /** Moves the window's oldest entries to probation until the window fits; returns the first moved. */
  private moveWindowOverflowToProbation(): number {
    let firstMoved = NONE;
    while (this.queues.weight[WINDOW] > this.windowLimit) {
      const oldest = this.queues.first(WINDOW);
      if (oldest === NONE) break;
      this.moveTo(oldest, PROBATION);
      if (firstMoved === NONE) firstMoved = oldest;
    }
    return firstMoved;
  }

  /** Evicts the entry and returns the one after it in its queue (NONE at the end). */
  private evictAndAdvance(slot: number): number {
    const following = this.queues.after(slot);
    this.remove(slot, 'capacity');
    return following;
  }

  /** TinyLFU admission: the more popular entry stays; warm losers win at random (hash flooding). */
  private admit(candidate: number, victim: number): boolean {
    return this.outranks(
      this.sketch.frequency(this.hashAt[candidate]),
      this.sketch.frequency(this.hashAt[victim]),
    );
  }

  /** Whether a candidate of this frequency displaces a victim of that one (see `admit`). */
  private outranks(candidateFrequency: number, victimFrequency: number): boolean {
    if (candidateFrequency > victimFrequency) return true;
    if (candidateFrequency < HASH_FLOOD_THRESHOLD) return false;
    this.randomState = xorshift32(this.randomState);
    return (this.randomState >>> 0) % HASH_FLOOD_ODDS === 0;
  }

  /** After the window's share grew: hands main's oldest entries to the window until it is full. */
  private fillWindowFromMain(): void {
    // Main's entries join the window's oldest end in the order main would have evicted them
    // (probation's oldest first), so the window evicts them in that order too.
    let anchor = WINDOW;
    while (this.queues.weight[WINDOW] < this.windowLimit) {
      const oldest = this.queues.oldestInMain();
      if (oldest === NONE) return;
      const weight = this.slotWeight(oldest);
      if (this.queues.weight[WINDOW] + weight > this.windowLimit) return;
      this.queues.unlink(oldest, weight);
      this.queues.linkAfter(WINDOW, anchor, oldest, weight);
      anchor = oldest;
    }
  }

  private applyWindowShare(share: number): void {
    this.windowShare = share;
    this.updateLimits();
    this.fillWindowFromMain();
    this.moveWindowOverflowToMain();
    this.demoteProtectedOverflow();
  }

  /**
   * After the window's share shrank: hands the window's oldest entries to main. Those the sketch
   * has seen reused go to protected while it has room, as they would have had the window been
   * small all along; the others to probation. Without this, a cache moving from LRU to a small
   * window would leave everything in probation, and the first scan would flush its hottest keys.
   */
  private moveWindowOverflowToMain(): void {
    while (this.queues.weight[WINDOW] > this.windowLimit) {
      const oldest = this.queues.first(WINDOW);
      if (oldest === NONE) break;
      const reused = this.sketch.frequency(this.hashAt[oldest]) >= REUSED_FREQUENCY;
      const fits = this.queues.weight[PROTECTED] + this.slotWeight(oldest) <= this.protectedLimit;
      this.moveTo(oldest, reused && fits ? PROTECTED : PROBATION);
    }
  }

  private createTuner(capacity: number): WindowTuner {
    return new WindowTuner(capacity, (share) => this.applyWindowShare(share));
  }

  private updateLimits(): void {
    this.weightFloor =
      this.weighBytes && this.entryLimit !== undefined ? (this.byteLimit as number) / this.entryLimit : 0;
    const budget = this.budget();
    this.windowLimit = this.weighBytes ? budget * this.windowShare : Math.floor(budget * this.windowShare);
    const main = budget - this.windowLimit;
    this.protectedLimit = this.weighBytes ? main * PROTECTED_SHARE : Math.floor(main * PROTECTED_SHARE);
  }

  /** The bound the queue shares are shares of: bytes when weighing bytes, else entries. */
  private budget(): number {
    return (this.weighBytes ? this.byteLimit : this.entryLimit) as number;
  }

  /** True once the entries or bytes held reach this share of a bound. */
  private filledPast(share: number): boolean {
    return (
      (this.byteLimit !== undefined && this.byteCount >= this.byteLimit * share) ||
      (this.entryLimit !== undefined && this.slotOf.size >= this.entryLimit * share)
    );
  }

  private overBounds(): boolean {
    return (
      (this.byteLimit !== undefined && this.byteCount > this.byteLimit) ||
      (this.entryLimit !== undefined && this.slotOf.size > this.entryLimit)
    );
  }

  // ---- expiry ------------------------------------------------------------------------------------

  /** True (and the entry removed) when the entry's deadline has passed. Reads the clock only for entries with a TTL. */
  private expiredOnRead(slot: number): boolean {
    const deadline = this.wheel.deadlines[slot];
    if (deadline === Number.POSITIVE_INFINITY) return false;
    const now = this.clock();
    if (deadline > now) {
      this.advanceWheel(now);
      return false;
    }
    this.remove(slot, 'expired');
    this.advanceWheel(now);
    return true;
  }

  private advanceWheel(now: number): void {
    if (now >= this.wheel.nextTickAt && this.wheel.scheduled > 0) this.wheel.advance(now, EXPIRY_BUDGET);
  }

  // ---- slots -------------------------------------------------------------------------------------

  private allocate(key: K, value: V, size: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.nextUnusedSlot === this.queues.slots) this.grow();
      slot = this.nextUnusedSlot++;
    }
    this.slotOf.set(key, slot);
    this.keyAt[slot] = key;
    this.valueAt[slot] = value;
    this.hashAt[slot] = hashKey(key);
    this.sizeAt[slot] = size;
    this.byteCount += size;
    this.sketch.increment(this.hashAt[slot]);
    this.queues.append(WINDOW, slot, this.weightOf(size));
    return slot;
  }

  /** Removes the entry in `slot`; with a reason it counts and reports an eviction. */
  private remove(slot: number, reason: EvictionReason | undefined): void {
    const key = this.keyAt[slot] as K;
    const value = this.valueAt[slot] as V;
    this.queues.free(slot, this.slotWeight(slot));
    this.byteCount -= this.sizeAt[slot];
    this.slotOf.delete(key);
    this.wheel.cancel(slot);
    this.keyAt[slot] = undefined;
    this.valueAt[slot] = undefined;
    this.freeSlots.push(slot);
    if (reason === undefined) return;
    if (reason === 'capacity') this.counters.evictions++;
    else this.counters.expirations++;
    this.onEvict?.(key, value, reason);
  }

  private reweigh(slot: number, size: number): void {
    this.queues.weight[this.queues.queueAt[slot]] += this.weightOf(size) - this.slotWeight(slot);
    this.byteCount += size - this.sizeAt[slot];
    this.sizeAt[slot] = size;
  }

  private grow(): void {
    const slots = Math.min(FIRST_SLOT + this.slotLimit(), FIRST_SLOT + (this.queues.slots - FIRST_SLOT) * 2);
    this.hashAt = grown(this.hashAt, new Int32Array(slots));
    this.sizeAt = grown(this.sizeAt, new Float64Array(slots));
    this.queues.grow(slots);
    this.wheel.grow(slots);
    if (this.entryLimit === undefined) {
      this.sketch.ensureCapacity(slots);
      this.tuner?.resize(slots);
    }
  }

  /** Slots the cache may need: one over `maxEntries` (a new entry is linked before eviction), or unbounded. */
  private slotLimit(): number {
    return this.entryLimit === undefined ? Number.MAX_SAFE_INTEGER : this.entryLimit + 1;
  }

  // ---- queues ------------------------------------------------------------------------------------

  private moveTo(slot: number, queue: number): void {
    this.queues.moveTo(slot, queue, this.slotWeight(slot));
  }

  private slotWeight(slot: number): number {
    return this.weightOf(this.sizeAt[slot]);
  }

  private weightOf(size: number): number {
    return this.weighBytes ? Math.max(size, this.weightFloor) : 1;
  }

  /** Sums the queues' weights afresh (after the bounds, and so the weight floor, changed). */
  private reweighAll(): void {
    const { weight, queueAt } = this.queues;
    weight.fill(0);
    for (let slot = FIRST_SLOT; slot < this.nextUnusedSlot; slot++) {
      if (queueAt[slot] !== FREE) weight[queueAt[slot]] += this.slotWeight(slot);
    }
  }

  // ---- validation and helpers --------------------------------------------------------------------

  private validSize(size: number | undefined): number {
    if (size === undefined) {
      if (this.weighBytes)
        throw new KeelError('INVALID_ARGUMENT', 'size is required: this SmartCache has maxBytes');
      return 0;
    }
    if (!Number.isFinite(size) || size < 0) {
      throw new KeelError('INVALID_ARGUMENT', `size must be a finite number ≥ 0 (got ${size})`);
    }
    return size;
  }

  private tooLarge(size: number): boolean {
    return (
      (this.entryByteLimit !== undefined && size > this.entryByteLimit) ||
      (this.byteLimit !== undefined && size > this.byteLimit)
    );
  }
}

function validLimit(setting: string, value: number | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const valid = integer ? Number.isSafeInteger(value) && value > 0 : Number.isFinite(value) && value > 0;
  if (!valid)
    throw new ConfigError(setting, `must be a positive ${integer ? 'integer' : 'number'} (got ${value})`);
  return value;
}

function validShare(share: number): number {
  if (!(share >= 0 && share <= 1))
    throw new ConfigError('windowFraction', `must be between 0 and 1 (got ${share})`);
  return share;
}

function grown<T extends Int32Array | Float64Array>(old: T, fresh: T): T {
  fresh.set(old);
  return fresh;
}
