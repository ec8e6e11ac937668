/**
 * The L1's invalidation indexes: tags and dependencies.
 *
 * - Tags: `tag → keys`. `invalidateTags(['product:1'])` removes every key written with that tag.
 * - Dependencies: `key → keys that depend on it`. An entry written with `dependsOn: ['product:1']`
 *   is removed whenever `product:1` is invalidated — deleted, overwritten by `set`, or removed by a
 *   tag or a pattern — and so on transitively: `closure()` walks the graph breadth-first with a
 *   visited set, so a cycle (A depends on B depends on A) ends instead of looping.
 *
 * Each entry remembers its own tags and dependencies, so removing a key (delete, overwrite,
 * eviction, expiry) unlinks it from exactly the sets that name it and no set outlives its last key:
 * the indexes are bounded by the entries the L1 holds.
 */

/** label → keys, dropping a label's set when it empties. */
class MultiMap {
  private readonly sets = new Map<string, Set<string>>();

  add(label: string, key: string): void {
    let keys = this.sets.get(label);
    if (keys === undefined) {
      keys = new Set();
      this.sets.set(label, keys);
    }
    keys.add(key);
  }

  remove(label: string, key: string): void {
    const keys = this.sets.get(label);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.sets.delete(label);
  }

  get(label: string): ReadonlySet<string> | undefined {
    return this.sets.get(label);
  }

  get size(): number {
    return this.sets.size;
  }

  clear(): void {
    this.sets.clear();
  }
}

export class InvalidationIndex {
  private readonly tagged = new MultiMap();
  private readonly dependents = new MultiMap();

  link(key: string, tags: readonly string[], dependsOn: readonly string[]): void {
    for (const tag of tags) this.tagged.add(tag, key);
    for (const dependency of dependsOn) this.dependents.add(dependency, key);
  }

  unlink(key: string, tags: readonly string[], dependsOn: readonly string[]): void {
    for (const tag of tags) this.tagged.remove(tag, key);
    for (const dependency of dependsOn) this.dependents.remove(dependency, key);
  }

  /** Keys written with any of `tags`. */
  keysWithTags(tags: readonly string[]): Set<string> {
    const keys = new Set<string>();
    for (const tag of tags) {
      const tagged = this.tagged.get(tag);
      if (tagged) for (const key of tagged) keys.add(key);
    }
    return keys;
  }

  /** `roots` plus every key that depends on one of them, transitively; safe against cycles. */
  closure(roots: Iterable<string>): Set<string> {
    const reached = new Set<string>(roots);
    const queue = [...reached];
    for (let next = 0; next < queue.length; next++) {
      const dependents = this.dependents.get(queue[next]!);
      if (dependents === undefined) continue;
      for (const dependent of dependents) {
        if (reached.has(dependent)) continue;
        reached.add(dependent);
        queue.push(dependent);
      }
    }
    return reached;
  }

  /** Keys that depend on `key` directly (for tests and diagnostics). */
  dependentsOf(key: string): ReadonlySet<string> {
    return this.dependents.get(key) ?? new Set();
  }

  get sizes(): { tags: number; dependencies: number } {
    return { tags: this.tagged.size, dependencies: this.dependents.size };
  }

  clear(): void {
    this.tagged.clear();
    this.dependents.clear();
  }
}
