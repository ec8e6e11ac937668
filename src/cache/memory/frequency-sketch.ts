/**
 * FrequencySketch: the popularity history behind SmartCache's admission decisions.
 *
 * What it is. A 4-bit Count-Min sketch (Cormode & Muthukrishnan) with a doorkeeper, as TinyLFU
 * describes it (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache Admission Policy",
 * ACM TOS 2017). `increment(hash)` records one access to a key, `frequency(hash)` estimates how
 * often it was accessed in the recent past (0..15). The cache compares the estimate of a newcomer
 * with the estimates of the entries it would displace, and keeps the more popular side.
 *
 * Layout. Counters are 4 bits, eight to a 32-bit word, in a Uint32Array. As in Caffeine's
 * FrequencySketch the table is split into 64-byte blocks (16 words) and a key touches a single
 * block: one counter in each of the block's four rows, each row being four words. One block keeps
 * the four reads and writes of an access within one cache line; the four rows keep the error of
 * Count-Min (an estimate is the minimum of the key's counters, so a collision can only inflate it
 * when all four counters collide). The table holds COUNTERS_PER_ENTRY counters for each entry the
 * cache can hold, rounded up to a power of two so indexes are masks.
 *
 * Why 4 bits. Admission only needs to rank a candidate against a victim, and the ranking is
 * dominated by the difference between "seen once", "a few times" and "often"; Caffeine showed that
 * capping at 15 costs no measurable hit ratio while quartering the footprint of 16-bit counters.
 *
 * Aging. Popularity must fade, or yesterday's hot keys would be admitted forever. After every
 * `samplePeriod` recorded accesses (SAMPLE_FACTOR times the capacity) every counter is halved, as
 * in TinyLFU's "reset" operation. The halving of all counters is a single pass of shifts and
 * masks over the table, amortized over the sample period (O(1) per access).
 *
 * Doorkeeper. Most keys of a real trace are seen once and never again. A small Bloom filter in
 * front of the counters absorbs the first sighting of a key in each aging period: only keys seen
 * before reach the Count-Min counters, so one-hit wonders do not inflate them, and the estimate of
 * a key is its counters plus one when the doorkeeper holds it. TinyLFU clears the doorkeeper at
 * every aging step; that takes a whole point from every key the counters hold at 1 (a key read
 * twice in a period drops from 2 to 0, where a plain counter would halve to 1), so aging hits
 * the doorkeeper harder than the counters. Here the doorkeeper rotates instead: at each aging
 * step the current filter becomes the previous one and a cleared filter takes its place, and a
 * key counts as sighted when either holds it. A sighting thus fades after one to two periods, as
 * a halved counter does. On the short traces of `npm run bench:hitratio`, W-TinyLFU at fixed
 * windows closes 1.7 points more of the LRU-to-optimal gap with the rotation than with clearing
 * (and 0.2 more than with no doorkeeper at all), for a second filter of the same size.
 */

import { mix32 } from './hash.js';

/** The largest value of a 4-bit counter; increments stop there. */
export const MAX_FREQUENCY = 15;
/** Counters of the Count-Min table per cache entry (Caffeine uses 16: one 64-bit word of counters). */
const COUNTERS_PER_ENTRY = 16;
/** Four-bit counters in one 32-bit word. */
const COUNTERS_PER_WORD = 8;
/** Words in a 64-byte block, the unit a key's four counters are confined to. */
const WORDS_PER_BLOCK = 16;
/** log2(WORDS_PER_BLOCK). */
const BLOCK_SHIFT = 4;
/**
 * Accesses per aging period, as a multiple of the capacity. TinyLFU's W = 10 × C: long enough for
 * the counters of frequent keys to separate from the rest, short enough to follow a changing
 * workload.
 */
export const SAMPLE_FACTOR = 10;
/**
 * Doorkeeper bits per access of the aging period. A period records at most `samplePeriod` distinct
 * keys; with this many bits per key and two probes, a Bloom filter's false positive
 * rate is at most (1 - e^(-2/8))^2 ≈ 5 %, and far lower on real traces where keys repeat.
 */
const DOORKEEPER_BITS_PER_ACCESS = 8;
/** Every 4-bit counter of a word with its high bit cleared: the mask applied after halving. */
const HALVING_MASK = 0x77777777;
/** The lowest bit of every 4-bit counter of a word: the counters an integer halving truncates. */
const ODD_COUNTER_MASK = 0x11111111;
/**
 * Distinct constants that derive independent hashes from the key's (already mixed) hash: its low
 * bits choose the block and the first doorkeeper bit, mix32 of it xor a seed the rest.
 */
const COUNTER_SEED = 0x165667b1;
const DOORKEEPER_SEED = 0x27d4eb2f;

export class FrequencySketch {
  private table = new Uint32Array(WORDS_PER_BLOCK);
  private blockMask = 0;
  private doorkeeper = new Uint32Array(1);
  /** The doorkeeper of the previous aging period, consulted but no longer written. */
  private previousDoorkeeper = new Uint32Array(1);
  private doorkeeperMask = 31;
  private additions = 0;
  private period = 1;

  constructor(capacity: number) {
    this.ensureCapacity(capacity);
  }

  /** Accesses recorded between two agings. */
  get samplePeriod(): number {
    return this.period;
  }

  /**
   * Sizes the sketch for a cache of `capacity` entries. Growing starts a fresh history (the old
   * counters cannot be rehashed: keys are not kept); it happens a logarithmic number of times for
   * a cache that learns its entry count as it fills.
   */
  ensureCapacity(capacity: number): void {
    const entries = Math.max(1, Math.ceil(capacity));
    const words = ceilingPowerOfTwo(
      Math.max(WORDS_PER_BLOCK, (entries * COUNTERS_PER_ENTRY) / COUNTERS_PER_WORD),
    );
    const period = SAMPLE_FACTOR * entries;
    if (words <= this.table.length && period <= this.period) return;
    this.table = new Uint32Array(Math.max(words, this.table.length));
    this.blockMask = (this.table.length >>> BLOCK_SHIFT) - 1;
    this.period = Math.max(period, this.period);
    const doorkeeperBits = ceilingPowerOfTwo(Math.max(32, this.period * DOORKEEPER_BITS_PER_ACCESS));
    this.doorkeeper = new Uint32Array(doorkeeperBits >>> 5);
    this.previousDoorkeeper = new Uint32Array(doorkeeperBits >>> 5);
    this.doorkeeperMask = doorkeeperBits - 1;
    this.additions = 0;
  }

  /** Records one access of the key with this hash. */
  increment(hash: number): void {
    if (this.admitToDoorkeeper(hash)) {
      this.recordAddition();
      return;
    }
    const table = this.table;
    const base = (hash & this.blockMask) << BLOCK_SHIFT;
    const counterHash = mix32(hash ^ COUNTER_SEED);
    let added = false;
    for (let row = 0; row < 4; row++) {
      const bits = counterHash >>> (row << 3);
      const word = base + (row << 2) + ((bits >>> 3) & 3);
      const shift = (bits & 7) << 2;
      if (((table[word] >>> shift) & MAX_FREQUENCY) !== MAX_FREQUENCY) {
        table[word] += 1 << shift;
        added = true;
      }
    }
    if (added) this.recordAddition();
  }

  /** The estimated number of recent accesses of the key with this hash, 0..MAX_FREQUENCY. */
  frequency(hash: number): number {
    const table = this.table;
    const base = (hash & this.blockMask) << BLOCK_SHIFT;
    const counterHash = mix32(hash ^ COUNTER_SEED);
    let estimate = MAX_FREQUENCY;
    for (let row = 0; row < 4; row++) {
      const bits = counterHash >>> (row << 3);
      const count = (table[base + (row << 2) + ((bits >>> 3) & 3)] >>> ((bits & 7) << 2)) & MAX_FREQUENCY;
      if (count < estimate) estimate = count;
    }
    if (estimate < MAX_FREQUENCY && this.doorkeeperContains(hash)) estimate++;
    return estimate;
  }

  /** Halves every counter and rotates the doorkeeper (TinyLFU's reset), so old popularity fades. */
  age(): void {
    const table = this.table;
    let truncated = 0;
    for (let i = 0; i < table.length; i++) {
      truncated += bitCount(table[i] & ODD_COUNTER_MASK);
      table[i] = (table[i] >>> 1) & HALVING_MASK;
    }
    const retired = this.previousDoorkeeper;
    this.previousDoorkeeper = this.doorkeeper;
    this.doorkeeper = retired;
    this.doorkeeper.fill(0);
    // Each addition raised four counters, so four truncated halves make one lost addition.
    this.additions = Math.max(0, (this.additions - (truncated >>> 2)) >>> 1);
  }

  /** Forgets all history. */
  clear(): void {
    this.table.fill(0);
    this.doorkeeper.fill(0);
    this.previousDoorkeeper.fill(0);
    this.additions = 0;
  }

  private recordAddition(): void {
    if (++this.additions >= this.period) this.age();
  }

  /** Sets the key's doorkeeper bits; true when they were not all set (a first sighting). */
  private admitToDoorkeeper(hash: number): boolean {
    const first = this.setDoorkeeperBit(hash);
    const second = this.setDoorkeeperBit(mix32(hash ^ DOORKEEPER_SEED));
    return first || second;
  }

  /** Sets one doorkeeper bit; true when it was clear. */
  private setDoorkeeperBit(index: number): boolean {
    const bit = index & this.doorkeeperMask;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    if ((this.doorkeeper[word] & mask) !== 0) return false;
    this.doorkeeper[word] |= mask;
    return true;
  }

  /** True when the current or the previous period's doorkeeper holds the key. */
  private doorkeeperContains(hash: number): boolean {
    const second = mix32(hash ^ DOORKEEPER_SEED);
    return (
      (hasBit(this.doorkeeper, hash & this.doorkeeperMask) &&
        hasBit(this.doorkeeper, second & this.doorkeeperMask)) ||
      (hasBit(this.previousDoorkeeper, hash & this.doorkeeperMask) &&
        hasBit(this.previousDoorkeeper, second & this.doorkeeperMask))
    );
  }
}

function hasBit(filter: Uint32Array, bit: number): boolean {
  return (filter[bit >>> 5] & (1 << (bit & 31))) !== 0;
}

function ceilingPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(value));
}

function bitCount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
