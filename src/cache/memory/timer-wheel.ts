/**
 * TimerWheel: per-entry expiry in amortized O(1), so expired entries leave memory even when
 * nobody reads them again.
 *
 * What it is. A hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
 * Wheels", SOSP 1987), laid out as Caffeine's TimerWheel: five levels of buckets, each bucket a
 * doubly-linked list of entries whose deadline falls in the bucket's span of time. Level 0 has 64
 * buckets of ~1 s, level 1 64 buckets of ~1 min, level 2 32 buckets of ~70 min, level 3 4 buckets of
 * ~37 h, and level 4 a single overflow bucket for deadlines ~6 days away or more. An entry is filed
 * at the coarsest level whose buckets are finer than its remaining time; when the wheel turns past
 * a bucket, each of its entries is either expired (deadline reached) or cascaded down to the finer
 * level that now fits its remaining time. Scheduling and cancelling are O(1); each entry cascades
 * at most once per level, so expiry is amortized O(1) per entry.
 *
 * Why this way. A heap orders deadlines exactly but costs O(log n) per write; a sorted list costs
 * O(n); scanning all entries costs O(n) per sweep. The wheel is exact to within one level-0 tick
 * for entries that reach level 0 (coarser for far deadlines, which are cascaded as they approach),
 * which is all an in-process cache needs: a read checks the entry's own deadline, so the wheel only
 * decides how soon unread expired entries release their memory.
 *
 * Layout. Nothing is allocated per entry: links are Int32Array index pairs and deadlines a
 * Float64Array, indexed by the cache's own node index (plus a fixed offset past the bucket
 * sentinels). Time is milliseconds as a double; bucket spans are powers of two so a tick number is
 * an exact division.
 *
 * Work per operation. The owner advances the wheel on its operations with a budget of expirations;
 * when the budget runs out the wheel rewinds its clock so the next advance resumes the backlog, as
 * Caffeine does, so a burst of simultaneous deadlines is spread over several operations.
 */

/** Buckets per level. */
const BUCKETS = [64, 64, 32, 4, 1];
/**
 * Milliseconds covered by one bucket of each level: 2^10 (1.02 s), 2^16 (65.5 s), 2^22 (69.9 min),
 * 2^27 (37.3 h), 2^29 (6.2 days). Each level's span times its bucket count is the next level's span.
 */
const SPANS = [2 ** 10, 2 ** 16, 2 ** 22, 2 ** 27, 2 ** 29];
const LEVELS = BUCKETS.length;
/** Index of each level's first bucket sentinel. */
const LEVEL_OFFSETS = BUCKETS.map((_, level) =>
  BUCKETS.slice(0, level).reduce((sum, count) => sum + count, 0),
);
/** A temporary list holding the bucket being processed. */
const PENDING = LEVEL_OFFSETS[LEVELS - 1] + BUCKETS[LEVELS - 1];
/** Sentinels (every bucket and PENDING) come first; node i lives at link slot i + NODE_OFFSET. */
const NODE_OFFSET = PENDING + 1;
/** Link value of a node that is in no bucket. */
const UNLINKED = -1;

export class TimerWheel {
  /** Absolute deadline of each node in ms, Infinity when it has none. Read directly on hits. */
  deadlines: Float64Array;
  /** The time the next advance has work to do: the end of the current level-0 tick. */
  nextTickAt: number;
  private prev: Int32Array;
  private next: Int32Array;
  private time: number;
  private scheduledCount = 0;

  /**
   * @param capacity number of node indexes to support (grown with `grow`)
   * @param now the current time in ms
   * @param expire called for each node whose deadline has passed; it must remove the node
   */
  constructor(
    capacity: number,
    now: number,
    private readonly expire: (index: number) => void,
  ) {
    this.deadlines = new Float64Array(capacity).fill(Number.POSITIVE_INFINITY);
    this.prev = new Int32Array(NODE_OFFSET + capacity).fill(UNLINKED);
    this.next = new Int32Array(NODE_OFFSET + capacity).fill(UNLINKED);
    for (let sentinel = 0; sentinel < NODE_OFFSET; sentinel++) {
      this.prev[sentinel] = sentinel;
      this.next[sentinel] = sentinel;
    }
    this.time = now;
    this.nextTickAt = tickEnd(now);
  }

  /** Number of nodes with a deadline. */
  get scheduled(): number {
    return this.scheduledCount;
  }

  /** Supports node indexes below `capacity`. */
  grow(capacity: number): void {
    const deadlines = new Float64Array(capacity).fill(Number.POSITIVE_INFINITY);
    deadlines.set(this.deadlines);
    this.deadlines = deadlines;
    this.prev = resized(this.prev, NODE_OFFSET + capacity);
    this.next = resized(this.next, NODE_OFFSET + capacity);
  }

  /** Gives the node a deadline (replacing any earlier one). */
  schedule(index: number, deadline: number): void {
    const slot = index + NODE_OFFSET;
    if (this.next[slot] === UNLINKED) {
      this.scheduledCount++;
    } else {
      this.unlink(slot);
    }
    this.deadlines[index] = deadline;
    this.link(this.bucketOf(deadline), slot);
  }

  /** Removes the node's deadline, if it has one. */
  cancel(index: number): void {
    const slot = index + NODE_OFFSET;
    if (this.next[slot] === UNLINKED) return;
    this.unlink(slot);
    this.forget(index, slot);
  }

  /**
   * Moves the clock to `now`, expiring the nodes of every bucket the wheel turned past and
   * cascading the others. Expires at most `budget` nodes; returns how many it expired.
   */
  advance(now: number, budget: number): number {
    if (now < this.nextTickAt) return 0;
    const previous = this.time;
    this.time = now;
    let remaining = budget;
    for (let level = 0; level < LEVELS; level++) {
      const previousTicks = Math.floor(previous / SPANS[level]);
      const delta = Math.floor(now / SPANS[level]) - previousTicks;
      if (delta <= 0) break;
      remaining = this.turn(level, previousTicks, delta, remaining);
      if (remaining === 0) {
        // Budget spent with buckets left: rewind so the next advance resumes the backlog.
        this.time = previous;
        break;
      }
    }
    this.nextTickAt = tickEnd(this.time);
    return budget - remaining;
  }

  /**
   * Expires every node whose deadline is at or before `now`, however recent; returns the count.
   * Advancing handles the buckets the wheel turned past; the remaining due nodes can only sit in
   * the bucket of the current tick of each level, which are checked one by one.
   */
  expireDue(now: number): number {
    let expired = this.advance(now, Number.POSITIVE_INFINITY);
    for (let level = 0; level < LEVELS; level++) {
      const bucket = LEVEL_OFFSETS[level] + bucketIndex(Math.floor(now / SPANS[level]), level);
      this.transferAll(bucket, PENDING);
      for (let slot = this.next[PENDING]; slot !== PENDING; slot = this.next[PENDING]) {
        this.unlink(slot);
        const index = slot - NODE_OFFSET;
        if (this.deadlines[index] <= now) {
          this.forget(index, slot);
          this.expire(index);
          expired++;
        } else {
          this.link(bucket, slot);
        }
      }
    }
    return expired;
  }

  /** Processes `delta` ticks of one level starting at `previousTicks`; returns the budget left. */
  private turn(level: number, previousTicks: number, delta: number, budget: number): number {
    let remaining = budget;
    const steps = Math.min(delta + 1, BUCKETS[level]);
    for (let step = 0; step < steps; step++) {
      const bucket = LEVEL_OFFSETS[level] + bucketIndex(previousTicks + step, level);
      this.transferAll(bucket, PENDING);
      for (let slot = this.next[PENDING]; slot !== PENDING; slot = this.next[PENDING]) {
        this.unlink(slot);
        const index = slot - NODE_OFFSET;
        const deadline = this.deadlines[index];
        if (deadline > this.time) {
          this.link(this.bucketOf(deadline), slot);
          continue;
        }
        this.forget(index, slot);
        this.expire(index);
        if (--remaining === 0) {
          this.transferAll(PENDING, bucket);
          return 0;
        }
      }
    }
    return remaining;
  }

  /** The sentinel of the bucket a deadline belongs to, given the wheel's current time. */
  private bucketOf(deadline: number): number {
    const duration = deadline - this.time;
    const time = duration > 0 ? deadline : this.time;
    for (let level = 0; level < LEVELS - 1; level++) {
      if (duration < SPANS[level + 1]) {
        return LEVEL_OFFSETS[level] + bucketIndex(Math.floor(time / SPANS[level]), level);
      }
    }
    return LEVEL_OFFSETS[LEVELS - 1];
  }

  private forget(index: number, slot: number): void {
    this.prev[slot] = UNLINKED;
    this.next[slot] = UNLINKED;
    this.deadlines[index] = Number.POSITIVE_INFINITY;
    this.scheduledCount--;
  }

  private link(sentinel: number, slot: number): void {
    const last = this.prev[sentinel];
    this.prev[slot] = last;
    this.next[slot] = sentinel;
    this.next[last] = slot;
    this.prev[sentinel] = slot;
  }

  private unlink(slot: number): void {
    const before = this.prev[slot];
    const after = this.next[slot];
    this.next[before] = after;
    this.prev[after] = before;
  }

  /** Appends every node of one list to another, leaving the first empty. */
  private transferAll(from: number, to: number): void {
    const first = this.next[from];
    if (first === from) return;
    const last = this.prev[from];
    const tail = this.prev[to];
    this.next[tail] = first;
    this.prev[first] = tail;
    this.next[last] = to;
    this.prev[to] = last;
    this.next[from] = from;
    this.prev[from] = from;
  }
}

function bucketIndex(ticks: number, level: number): number {
  const count = BUCKETS[level];
  return ((ticks % count) + count) % count;
}

function tickEnd(time: number): number {
  return (Math.floor(time / SPANS[0]) + 1) * SPANS[0];
}

function resized(links: Int32Array, length: number): Int32Array {
  const grown = new Int32Array(length).fill(UNLINKED);
  grown.set(links);
  return grown;
}
