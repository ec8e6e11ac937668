/**
 * ShadowCache: what the window tuner races (window-tuner.ts). It simulates SmartCache's W-TinyLFU
 * policy with a fixed window share over keys reduced to 32-bit hashes, and answers one question
 * per read: would a cache of that share have hit?
 *
 * Why not a SmartCache. A shadow must decide exactly as SmartCache would: the tuner trusts its
 * hits to rank window shares for the real cache. But it needs none of the rest of SmartCache:
 * no values, no byte weights, no deadlines, no statistics, no eviction callback, no growth, and
 * no hashing (its keys are hashes). Every read the tuner samples reaches all of its shadows, so
 * their cost is paid several times over on the reads of the real cache; without that machinery a
 * shadow read costs a probe of a hash table and a few array writes.
 *
 * Storage. The entries' links live in SmartCache's queues (slot-queues.ts), and the key to slot
 * index is an open-addressing table in two typed arrays: linear probing from the key's low bits
 * (the keys are well-mixed hashes), at most half full, deletion by backward shift (Knuth, TAOCP
 * vol. 3, 6.4, Algorithm R) so no tombstones accumulate. A JavaScript Map would allocate as
 * it rehashes and costs several times as much per lookup for integer keys.
 *
 * The shared sketch. Each shadow sees every sampled read, and each read is either a hit (which
 * SmartCache records in its sketch) or a miss followed by an insert (which it records too), so
 * the frequency sketches of all the shadows of one tuner would hold the same counts. They share
 * one instead, and the tuner records each read in it once, before any shadow handles the read;
 * that is the order in which SmartCache records and then admits. A fork shares it too, so a fork
 * costs no sketch copy.
 *
 * Decisions, as SmartCache's, with its parameters (policy.ts; smart-cache.ts has the reasoning):
 * a new key enters the window's newest end; window overflow moves to probation and competes, oldest first, with probation's
 * oldest entries, the sketch's more popular side staying (a warm loser still wins once in
 * HASH_FLOOD_ODDS); a probation hit moves to protected, whose overflow returns to probation; a
 * change of share hands entries between the window and the main space as SmartCache's does. A
 * test reads the same keys through both and asserts the same hit on every read, forks included.
 */
import type { FrequencySketch } from './frequency-sketch.js';
import {
  HASH_FLOOD_ODDS,
  HASH_FLOOD_THRESHOLD,
  PROTECTED_SHARE,
  RANDOM_SEED,
  REUSED_FREQUENCY,
  xorshift32,
} from './policy.js';
import { FIRST_SLOT, NONE, PROBATION, PROTECTED, SlotQueues, WINDOW } from './slot-queues.js';

/** Slot number that marks an empty position of the key table (slots start at FIRST_SLOT). */
const EMPTY = 0;

export class ShadowCache {
  /** The key table: tableKey[i] is held in slot tableSlot[i], or position i is EMPTY. */
  private readonly tableKey: Int32Array;
  private readonly tableSlot: Int32Array;
  private readonly tableMask: number;
  private entries = 0;
  private readonly keyAt: Int32Array;
  /** The queues, in which every entry weighs 1. */
  private readonly queues: SlotQueues;
  private readonly freeSlots: Int32Array;
  private freeCount = 0;
  private readonly windowLimit: number;
  private readonly protectedLimit: number;
  private randomState = RANDOM_SEED;

  /**
   * @param capacity entries held at most
   * @param windowShare the admission window's share of `capacity`, 0..1
   * @param sketch the popularity history shared by the tuner's shadows; the caller records each
   *   read in it before handing the read to `read`
   */
  constructor(
    private readonly capacity: number,
    windowShare: number,
    private readonly sketch: FrequencySketch,
  ) {
    // One slot over the capacity: a new entry is linked before eviction brings the count back.
    const slots = FIRST_SLOT + capacity + 1;
    this.keyAt = new Int32Array(slots);
    this.queues = new SlotQueues(slots);
    this.freeSlots = new Int32Array(capacity + 1);
    const positions = 2 ** Math.ceil(Math.log2(2 * (capacity + 1)));
    this.tableKey = new Int32Array(positions);
    this.tableSlot = new Int32Array(positions);
    this.tableMask = positions - 1;
    for (let slot = slots - 1; slot >= FIRST_SLOT; slot--) this.freeSlots[this.freeCount++] = slot;
    this.windowLimit = Math.floor(capacity * windowShare);
    this.protectedLimit = Math.floor((capacity - this.windowLimit) * PROTECTED_SHARE);
  }

  /**
   * A copy of this shadow (same entries, order, sketch and random sequence) that continues with
   * another share, as this shadow would if its share changed now.
   */
  fork(windowShare: number): ShadowCache {
    const copy = new ShadowCache(this.capacity, windowShare, this.sketch);
    copy.tableKey.set(this.tableKey);
    copy.tableSlot.set(this.tableSlot);
    copy.entries = this.entries;
    copy.keyAt.set(this.keyAt);
    copy.queues.copyFrom(this.queues);
    copy.freeSlots.set(this.freeSlots);
    copy.freeCount = this.freeCount;
    copy.randomState = this.randomState;
    copy.applyWindowShare();
    return copy;
  }

  /** Reads the key: true on a hit; on a miss the key is inserted, as a read-through cache does. */
  read(key: number): boolean {
    const mask = this.tableMask;
    let position = key & mask;
    for (let slot = this.tableSlot[position]; slot !== EMPTY; slot = this.tableSlot[position]) {
      if (this.tableKey[position] === key) {
        this.touch(slot);
        return true;
      }
      position = (position + 1) & mask;
    }
    this.insert(key, position);
    return false;
  }

  private touch(slot: number): void {
    const queue = this.queues.queueAt[slot];
    if (queue === PROBATION) {
      this.queues.moveTo(slot, PROTECTED, 1);
      this.demoteProtectedOverflow();
    } else {
      this.queues.moveTo(slot, queue, 1);
    }
  }

  /** Inserts the key at `position`, the empty end of its probe sequence. */
  private insert(key: number, position: number): void {
    const slot = this.freeSlots[--this.freeCount];
    this.tableKey[position] = key;
    this.tableSlot[position] = slot;
    this.entries++;
    this.keyAt[slot] = key;
    this.queues.append(WINDOW, slot, 1);
    this.evict();
  }

  /** SmartCache's eviction (see its `evict`), for entries that all weigh one. */
  private evict(): void {
    let candidate = this.moveWindowOverflowToProbation();
    if (this.entries <= this.capacity) return;
    let candidateQueue = PROBATION;
    let victimQueue = PROBATION;
    let victim = this.queues.first(PROBATION);
    while (this.entries > this.capacity) {
      if (candidate === NONE && candidateQueue === PROBATION) {
        candidateQueue = WINDOW;
        candidate = this.queues.first(WINDOW);
      }
      if (candidate === NONE && victim === NONE) {
        if (victimQueue === WINDOW) return;
        victimQueue = victimQueue === PROBATION ? PROTECTED : WINDOW;
        victim = this.queues.first(victimQueue);
      } else if (victim === NONE) {
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

  private admit(candidate: number, victim: number): boolean {
    const candidateFrequency = this.sketch.frequency(this.keyAt[candidate]);
    const victimFrequency = this.sketch.frequency(this.keyAt[victim]);
    if (candidateFrequency > victimFrequency) return true;
    if (candidateFrequency < HASH_FLOOD_THRESHOLD) return false;
    this.randomState = xorshift32(this.randomState);
    return (this.randomState >>> 0) % HASH_FLOOD_ODDS === 0;
  }

  private evictAndAdvance(slot: number): number {
    const following = this.queues.after(slot);
    this.queues.free(slot, 1);
    this.forget(this.keyAt[slot]);
    this.freeSlots[this.freeCount++] = slot;
    return following;
  }

  /** Removes a held key from the table, moving back the entries its position had pushed along. */
  private forget(key: number): void {
    const mask = this.tableMask;
    let hole = key & mask;
    while (this.tableKey[hole] !== key || this.tableSlot[hole] === EMPTY) hole = (hole + 1) & mask;
    for (
      let position = (hole + 1) & mask;
      this.tableSlot[position] !== EMPTY;
      position = (position + 1) & mask
    ) {
      // An entry may fill the hole when the hole lies on its probe sequence, between its home
      // position and where it is now.
      const home = this.tableKey[position] & mask;
      if (((position - home) & mask) >= ((position - hole) & mask)) {
        this.tableKey[hole] = this.tableKey[position];
        this.tableSlot[hole] = this.tableSlot[position];
        hole = position;
      }
    }
    this.tableSlot[hole] = EMPTY;
    this.entries--;
  }

  private moveWindowOverflowToProbation(): number {
    let firstMoved = NONE;
    while (this.queues.weight[WINDOW] > this.windowLimit) {
      const oldest = this.queues.first(WINDOW);
      this.queues.moveTo(oldest, PROBATION, 1);
      if (firstMoved === NONE) firstMoved = oldest;
    }
    return firstMoved;
  }

  private demoteProtectedOverflow(): void {
    while (this.queues.weight[PROTECTED] > this.protectedLimit) {
      this.queues.moveTo(this.queues.first(PROTECTED), PROBATION, 1);
    }
  }

  // ---- a change of share (SmartCache's applyWindowShare) ----------------------------------------

  /** After a fork: entries change places as SmartCache's do when its share changes. */
  private applyWindowShare(): void {
    this.fillWindowFromMain();
    this.moveWindowOverflowToMain();
    this.demoteProtectedOverflow();
  }

  private fillWindowFromMain(): void {
    let anchor = WINDOW;
    while (this.queues.weight[WINDOW] < this.windowLimit) {
      const oldest = this.queues.oldestInMain();
      if (oldest === NONE) return;
      this.queues.unlink(oldest, 1);
      this.queues.linkAfter(WINDOW, anchor, oldest, 1);
      anchor = oldest;
    }
  }

  private moveWindowOverflowToMain(): void {
    while (this.queues.weight[WINDOW] > this.windowLimit) {
      const oldest = this.queues.first(WINDOW);
      const reused = this.sketch.frequency(this.keyAt[oldest]) >= REUSED_FREQUENCY;
      const fits = this.queues.weight[PROTECTED] < this.protectedLimit;
      this.queues.moveTo(oldest, reused && fits ? PROTECTED : PROBATION, 1);
    }
  }
}
