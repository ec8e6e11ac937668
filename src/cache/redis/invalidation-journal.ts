/**
 * InvalidationJournal: the invalidations an instance could not apply to Redis, kept until they can.
 *
 * While Redis is unreachable (or the breaker is open) a `set`, `delete` or invalidation still
 * happens in L1, but Redis may keep the old value, and other instances would read it back from
 * there once Redis returns. So every write that did not reach Redis is journaled as what undoes
 * it: a key to delete, a tag to empty, a pattern to sweep. Before the tier serves reads from Redis
 * again, the journal is replayed (and broadcast on the bus); a journal that outgrew its bound
 * degrades to "flush the whole namespace", which is always safe. The guarantee and its limits are
 * in docs/cache.md ("Consistency").
 */
export interface JournalSnapshot {
  keys: string[];
  tags: string[];
  patterns: string[];
  /** Too much was lost to list: the whole namespace must be flushed. */
  flushAll: boolean;
}

export class InvalidationJournal {
  private keys = new Set<string>();
  private tags = new Set<string>();
  private patterns = new Set<string>();
  private flushAll = false;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.flushAll ? this.capacity : this.keys.size + this.tags.size + this.patterns.size;
  }

  get isEmpty(): boolean {
    return !this.flushAll && this.size === 0;
  }

  addKeys(keys: Iterable<string>): void {
    for (const key of keys) this.add(this.keys, key);
  }

  addTags(tags: Iterable<string>): void {
    for (const tag of tags) this.add(this.tags, tag);
  }

  addPattern(pattern: string): void {
    this.add(this.patterns, pattern);
  }

  addFlush(): void {
    this.overflow();
  }

  /** Hands over everything journaled and starts empty (restore it with `merge` if replay fails). */
  drain(): JournalSnapshot {
    const snapshot = {
      keys: [...this.keys],
      tags: [...this.tags],
      patterns: [...this.patterns],
      flushAll: this.flushAll,
    };
    this.keys = new Set();
    this.tags = new Set();
    this.patterns = new Set();
    this.flushAll = false;
    return snapshot;
  }

  merge(snapshot: JournalSnapshot): void {
    if (snapshot.flushAll) this.overflow();
    this.addKeys(snapshot.keys);
    this.addTags(snapshot.tags);
    for (const pattern of snapshot.patterns) this.addPattern(pattern);
  }

  private add(set: Set<string>, item: string): void {
    if (this.flushAll) return;
    set.add(item);
    if (this.size > this.capacity) this.overflow();
  }

  private overflow(): void {
    this.flushAll = true;
    this.keys.clear();
    this.tags.clear();
    this.patterns.clear();
  }
}
