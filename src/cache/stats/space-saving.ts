/**
 * Space-Saving top-k tracker of the most requested cache keys.
 *
 * The manager wants "the hit rate of the most requested keys" without a counter per key ever seen.
 * Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient Computation of Frequent and Top-k Elements
 * in Data Streams", ICDT 2005) keeps at most `capacity` counters:
 *
 * - a tracked key's counter is incremented;
 * - an untracked key takes over the counter with the smallest count `min`: its count becomes
 *   `min + 1` and its error `min` (the most it can have been overestimated by); its hits and misses
 *   start again from this request.
 *
 * Guarantees, for a stream of N requests: a tracked key's `count` never underestimates its true
 * frequency and overestimates it by at most `error` (so `count − error ≤ true ≤ count`), and every
 * key whose true frequency exceeds N / capacity is tracked.
 *
 * Structure: the paper's Stream-Summary. Counters with equal counts share a bucket; buckets form a
 * doubly linked list in ascending count order, and each bucket holds a doubly linked list of its
 * counters. Because every update adds exactly 1, a counter only ever moves to the next bucket (or
 * a new one right after its own), so an update is O(1), and the minimum is the head bucket.
 *
 * Layout: as lru-cache does, counters and buckets are slots in preallocated typed arrays linked by
 * index (`NIL` = no link), not objects, so an update of a tracked key allocates nothing; a new key
 * costs one `Map` entry. At most `capacity` buckets exist at once (each holds at least one counter,
 * and a bucket is only added when the counter leaves a bucket shared with another one), so the
 * bucket arrays have `capacity` slots and a free stack.
 */

import { ConfigError, KeelError } from '../../errors.js';

/** Keys tracked when no capacity is given. */
export const DEFAULT_TOP_K_CAPACITY = 100;

/** "No slot": the end of a linked list. */
const NIL = -1;

export interface TopKey {
  key: string;
  /** Estimated request count: never below the true count, above it by at most `error`. */
  count: number;
  /** Upper bound of the overestimation in `count`. */
  error: number;
  /** Hits and misses since the key was last (re)admitted to the tracker. */
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 when there were none. */
  hitRate: number;
}

export class SpaceSaving {
  readonly capacity: number;

  private readonly slotByKey = new Map<string, number>();
  private readonly keys: string[];
  // Per counter slot.
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly hits: Float64Array;
  private readonly misses: Float64Array;
  private readonly bucketOf: Int32Array;
  private readonly prevInBucket: Int32Array;
  private readonly nextInBucket: Int32Array;
  // Per bucket slot.
  private readonly bucketCount: Float64Array;
  private readonly firstInBucket: Int32Array;
  private readonly prevBucket: Int32Array;
  private readonly nextBucket: Int32Array;
  private readonly freeBuckets: Int32Array;
  private freeBucketTop = 0;
  /** The bucket with the smallest count, and the one with the largest. */
  private minBucket = NIL;
  private maxBucket = NIL;
  private used = 0;

  constructor(capacity: number = DEFAULT_TOP_K_CAPACITY) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) {
      throw new ConfigError('topK.capacity', `must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.keys = new Array<string>(capacity).fill('');
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.hits = new Float64Array(capacity);
    this.misses = new Float64Array(capacity);
    this.bucketOf = new Int32Array(capacity);
    this.prevInBucket = new Int32Array(capacity);
    this.nextInBucket = new Int32Array(capacity);
    this.bucketCount = new Float64Array(capacity);
    this.firstInBucket = new Int32Array(capacity);
    this.prevBucket = new Int32Array(capacity);
    this.nextBucket = new Int32Array(capacity);
    this.freeBuckets = new Int32Array(capacity);
    this.clear();
  }

  /** Number of keys tracked (at most `capacity`). */
  get size(): number {
    return this.used;
  }

  /** Counts one request for `key`, and whether the cache answered it. */
  record(key: string, hit: boolean): void {
    let slot = this.slotByKey.get(key);
    if (slot === undefined) {
      slot = this.admit(key);
    } else {
      this.increment(slot);
    }
    if (hit) this.hits[slot]++;
    else this.misses[slot]++;
  }

  /** The estimated count of `key`, or 0 when it is not tracked. */
  estimate(key: string): number {
    const slot = this.slotByKey.get(key);
    return slot === undefined ? 0 : this.counts[slot];
  }

  /** The `n` (default: all) tracked keys with the highest counts, highest first. */
  top(n: number = this.capacity): TopKey[] {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new KeelError('INVALID_ARGUMENT', `top(n): n must be an integer >= 0, got ${n}`);
    }
    const result: TopKey[] = [];
    for (let bucket = this.maxBucket; bucket !== NIL && result.length < n; bucket = this.prevBucket[bucket]) {
      for (
        let slot = this.firstInBucket[bucket];
        slot !== NIL && result.length < n;
        slot = this.nextInBucket[slot]
      ) {
        const hits = this.hits[slot];
        const requests = hits + this.misses[slot];
        result.push({
          key: this.keys[slot],
          count: this.counts[slot],
          error: this.errors[slot],
          hits,
          misses: this.misses[slot],
          hitRate: requests === 0 ? 0 : hits / requests,
        });
      }
    }
    return result;
  }

  /** Forgets every key. */
  clear(): void {
    this.slotByKey.clear();
    this.keys.fill('');
    this.used = 0;
    this.minBucket = NIL;
    this.maxBucket = NIL;
    for (let i = 0; i < this.capacity; i++) this.freeBuckets[i] = this.capacity - 1 - i;
    this.freeBucketTop = this.capacity;
  }

  /** Starts tracking `key`, in a free slot or in place of a key with the smallest count. */
  private admit(key: string): number {
    if (this.used < this.capacity) {
      const slot = this.used++;
      this.keys[slot] = key;
      this.slotByKey.set(key, slot);
      this.counts[slot] = 1;
      this.errors[slot] = 0;
      this.hits[slot] = 0;
      this.misses[slot] = 0;
      let bucket = this.minBucket;
      if (bucket === NIL || this.bucketCount[bucket] !== 1) {
        bucket = this.newBucket(1, NIL);
      }
      this.attach(slot, bucket);
      return slot;
    }
    const slot = this.firstInBucket[this.minBucket];
    this.slotByKey.delete(this.keys[slot]);
    this.keys[slot] = key;
    this.slotByKey.set(key, slot);
    this.errors[slot] = this.counts[slot];
    this.hits[slot] = 0;
    this.misses[slot] = 0;
    this.increment(slot);
    return slot;
  }

  /** Adds 1 to the counter in `slot`, moving it to the bucket of its new count. */
  private increment(slot: number): void {
    const bucket = this.bucketOf[slot];
    const count = this.counts[slot] + 1;
    this.counts[slot] = count;
    const next = this.nextBucket[bucket];
    const alone = this.firstInBucket[bucket] === slot && this.nextInBucket[slot] === NIL;
    if (next !== NIL && this.bucketCount[next] === count) {
      this.detach(slot, bucket);
      this.attach(slot, next);
    } else if (alone) {
      // The next bucket, if any, counts more than `count`: the bucket keeps its place.
      this.bucketCount[bucket] = count;
    } else {
      const target = this.newBucket(count, bucket);
      this.detach(slot, bucket);
      this.attach(slot, target);
    }
  }

  /** Takes a free bucket with `count` and links it right after `after` (NIL: as the new head). */
  private newBucket(count: number, after: number): number {
    const bucket = this.freeBuckets[--this.freeBucketTop];
    this.bucketCount[bucket] = count;
    this.firstInBucket[bucket] = NIL;
    const next = after === NIL ? this.minBucket : this.nextBucket[after];
    this.prevBucket[bucket] = after;
    this.nextBucket[bucket] = next;
    if (after === NIL) this.minBucket = bucket;
    else this.nextBucket[after] = bucket;
    if (next === NIL) this.maxBucket = bucket;
    else this.prevBucket[next] = bucket;
    return bucket;
  }

  /** Puts `slot` first in `bucket`'s list. */
  private attach(slot: number, bucket: number): void {
    const first = this.firstInBucket[bucket];
    this.bucketOf[slot] = bucket;
    this.prevInBucket[slot] = NIL;
    this.nextInBucket[slot] = first;
    if (first !== NIL) this.prevInBucket[first] = slot;
    this.firstInBucket[bucket] = slot;
  }

  /** Takes `slot` out of `bucket`'s list, and frees the bucket if that empties it. */
  private detach(slot: number, bucket: number): void {
    const prev = this.prevInBucket[slot];
    const next = this.nextInBucket[slot];
    if (prev === NIL) this.firstInBucket[bucket] = next;
    else this.nextInBucket[prev] = next;
    if (next !== NIL) this.prevInBucket[next] = prev;
    if (this.firstInBucket[bucket] !== NIL) return;
    const before = this.prevBucket[bucket];
    const after = this.nextBucket[bucket];
    if (before === NIL) this.minBucket = after;
    else this.nextBucket[before] = after;
    if (after === NIL) this.maxBucket = before;
    else this.prevBucket[after] = before;
    this.freeBuckets[this.freeBucketTop++] = bucket;
  }
}
