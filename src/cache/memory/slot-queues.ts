/**
 * SlotQueues: W-TinyLFU's three LRU queues (the admission window, then probation and protected,
 * which make the main space) as doubly-linked lists threaded through typed arrays indexed by slot,
 * with the weight each queue holds. SmartCache (smart-cache.ts) and the window tuner's shadows
 * (shadow-cache.ts) keep their entries in them; what a slot holds, and what it weighs, is theirs:
 * every call that links or unlinks a slot names its weight.
 *
 * Slots 0..2 are the queues' sentinels, so a queue is a ring through its sentinel: `next[queue]`
 * is its oldest entry, `prev[queue]` its newest, and an empty queue points at itself. A slot that
 * is in no queue has the queue id FREE.
 */

export const WINDOW = 0;
export const PROBATION = 1;
export const PROTECTED = 2;
/** Queue id of a slot that holds no entry. */
export const FREE = 3;
/** First slot that holds an entry (the slots before it are the sentinels). */
export const FIRST_SLOT = 3;
/** A link that points at no entry. */
export const NONE = -1;

const QUEUES = [WINDOW, PROBATION, PROTECTED];

export class SlotQueues {
  /** The queue each slot is in, or FREE. */
  queueAt: Uint8Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Weight held by each queue: the sum of the weights its slots were linked with. */
  readonly weight = new Float64Array(QUEUES.length);

  /** @param slots slots including the sentinels; every slot starts FREE */
  constructor(slots: number) {
    this.queueAt = new Uint8Array(slots).fill(FREE);
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
    this.linkSentinels();
  }

  /** Slots, including the sentinels. */
  get slots(): number {
    return this.queueAt.length;
  }

  /** Room for `slots` slots; the links and queues of the existing ones are kept. */
  grow(slots: number): void {
    this.queueAt = grown(this.queueAt, new Uint8Array(slots).fill(FREE));
    this.prev = grown(this.prev, new Int32Array(slots));
    this.next = grown(this.next, new Int32Array(slots));
  }

  /** Empties every queue; every slot is FREE again. */
  clear(): void {
    this.queueAt.fill(FREE);
    this.weight.fill(0);
    this.linkSentinels();
  }

  /** Makes these queues an exact copy of `source`, which has as many slots. */
  copyFrom(source: SlotQueues): void {
    this.queueAt.set(source.queueAt);
    this.prev.set(source.prev);
    this.next.set(source.next);
    this.weight.set(source.weight);
  }

  /** Links `slot` into `queue` at its newest end. */
  append(queue: number, slot: number, weight: number): void {
    this.linkAfter(queue, this.prev[queue], slot, weight);
  }

  /** Links `slot` into `queue` right after `anchor` (the queue's sentinel: at its oldest end). */
  linkAfter(queue: number, anchor: number, slot: number, weight: number): void {
    const following = this.next[anchor];
    this.prev[slot] = anchor;
    this.next[slot] = following;
    this.next[anchor] = slot;
    this.prev[following] = slot;
    this.queueAt[slot] = queue;
    this.weight[queue] += weight;
  }

  /** Takes `slot` out of its queue; it stays marked with that queue until linked again or freed. */
  unlink(slot: number, weight: number): void {
    const before = this.prev[slot];
    const after = this.next[slot];
    this.next[before] = after;
    this.prev[after] = before;
    this.weight[this.queueAt[slot]] -= weight;
  }

  /** Moves `slot` to the newest end of `queue` (its own queue, to refresh its recency). */
  moveTo(slot: number, queue: number, weight: number): void {
    this.unlink(slot, weight);
    this.append(queue, slot, weight);
  }

  /** Takes `slot` out of its queue and marks it FREE. */
  free(slot: number, weight: number): void {
    this.unlink(slot, weight);
    this.queueAt[slot] = FREE;
  }

  /** The oldest entry of `queue`, or NONE when it is empty. */
  first(queue: number): number {
    const slot = this.next[queue];
    return slot < FIRST_SLOT ? NONE : slot;
  }

  /** Main's next victim: probation's oldest entry, else protected's; NONE when main is empty. */
  oldestInMain(): number {
    const oldest = this.first(PROBATION);
    return oldest !== NONE ? oldest : this.first(PROTECTED);
  }

  /** The entry linked after `slot` in its queue (the next newer one), or NONE at the newest end. */
  after(slot: number): number {
    const following = this.next[slot];
    return following < FIRST_SLOT ? NONE : following;
  }

  private linkSentinels(): void {
    for (const queue of QUEUES) {
      this.prev[queue] = queue;
      this.next[queue] = queue;
    }
  }
}

function grown<T extends Int32Array | Uint8Array>(old: T, fresh: T): T {
  fresh.set(old);
  return fresh;
}
