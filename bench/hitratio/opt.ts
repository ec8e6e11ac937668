/**
 * Belady's OPT with bypass: the most hits any policy of `capacity` entries can get on a trace.
 *
 * The rule (Belady 1966, MIN; with optional admission as in Caffeine's `opt.Clairvoyant`): on a
 * miss with the cache full, of the residents and the newcomer, drop the one whose next use is
 * farthest in the future. If that is the newcomer it is not admitted (bypass). Admission filters
 * such as TinyLFU may refuse newcomers too, so this, not demand-paging OPT, is their upper bound.
 *
 * How. `nextUses` precomputes, for every access i, the position of the next access to the same id
 * (one backward pass; NEVER when there is none). The residents sit in an indexed binary max-heap
 * keyed by their next use, with each id's heap slot kept in an Int32Array, so a hit updates the
 * key in place instead of leaving stale entries: the heap never exceeds `capacity`, and every
 * access costs O(log capacity). A hit always increases the key (from now to the next use), so it
 * only sifts up. Ties are possible only between ids never used again, and any of those is an
 * equally good victim.
 */

/** The next use of an id that is never accessed again; larger than any position. */
export const NEVER = 0x7fffffff;

/** For each access i, the position of the next access to `ids[i]`, or NEVER. */
export function nextUses(ids: Int32Array, unique: number): Int32Array {
  const next = new Int32Array(ids.length);
  const upcoming = new Int32Array(unique).fill(NEVER);
  for (let i = ids.length - 1; i >= 0; i--) {
    const id = ids[i];
    next[i] = upcoming[id];
    upcoming[id] = i;
  }
  return next;
}

/** Hits of OPT with bypass; `next` is `nextUses(ids, unique)`. */
export function optHits(ids: Int32Array, next: Int32Array, unique: number, capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new Error(`OPT capacity must be ≥ 1, got ${capacity}`);
  const heap = new Int32Array(capacity);
  const key = new Int32Array(unique);
  const slot = new Int32Array(unique).fill(-1);
  let size = 0;
  let hits = 0;

  const siftUp = (from: number) => {
    const id = heap[from];
    let at = from;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (key[heap[parent]] >= key[id]) break;
      heap[at] = heap[parent];
      slot[heap[at]] = at;
      at = parent;
    }
    heap[at] = id;
    slot[id] = at;
  };
  const siftDown = (from: number) => {
    const id = heap[from];
    let at = from;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && key[heap[child + 1]] > key[heap[child]]) child++;
      if (key[heap[child]] <= key[id]) break;
      heap[at] = heap[child];
      slot[heap[at]] = at;
      at = child;
    }
    heap[at] = id;
    slot[id] = at;
  };

  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (slot[id] >= 0) {
      hits++;
      key[id] = next[i];
      siftUp(slot[id]);
    } else if (size < capacity) {
      key[id] = next[i];
      heap[size] = id;
      siftUp(size++);
    } else if (next[i] < key[heap[0]]) {
      // The farthest resident is used later than the newcomer: evict it, admit the newcomer.
      slot[heap[0]] = -1;
      key[id] = next[i];
      heap[0] = id;
      siftDown(0);
    }
    // Otherwise the newcomer is the farthest: bypass it.
  }
  return hits;
}
