/**
 * LRU, the baseline: hits of a least-recently-used cache of `capacity` entries over a dense trace.
 *
 * Ids are dense (0 … unique-1), so the recency list is two Int32Arrays of links indexed by id, with
 * one sentinel slot (index `unique`) closing the ring, as lru-cache does with its index links:
 * O(1) per access, no allocation, no hashing. An access that finds its id resident is a hit and
 * moves it to the front; a miss inserts it at the front and, when full, evicts the tail. Cold
 * misses count, so hits / accesses is the hit ratio that reference-lru-opt.md and the published
 * LRU numbers use (BitFaster PRs #131/#132, RJ10284's P6 4.24 %).
 */

export function lruHits(ids: Int32Array, unique: number, capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new Error(`LRU capacity must be ≥ 1, got ${capacity}`);
  const HEAD = unique;
  const prev = new Int32Array(unique + 1);
  const next = new Int32Array(unique + 1);
  const resident = new Uint8Array(unique);
  prev[HEAD] = HEAD;
  next[HEAD] = HEAD;
  let size = 0;
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (resident[id] === 1) {
      hits++;
      if (next[HEAD] === id) continue;
      next[prev[id]] = next[id];
      prev[next[id]] = prev[id];
    } else if (size === capacity) {
      const tail = prev[HEAD];
      next[prev[tail]] = HEAD;
      prev[HEAD] = prev[tail];
      resident[tail] = 0;
      resident[id] = 1;
    } else {
      size++;
      resident[id] = 1;
    }
    // Link `id` in at the front (most recently used).
    const first = next[HEAD];
    next[id] = first;
    prev[id] = HEAD;
    prev[first] = id;
    next[HEAD] = id;
  }
  return hits;
}
