/**
 * The L1's invalidation indexes: tags and dependencies.
 *
 * - Tags: `tag → keys`. `invalidateTags(['product:1'])` removes every key written with that tag.
 * - Dependencies: `key → keys that depend on it`. An entry written with `dependsOn: ['product:1']`
 *   is removed whenever `product:1` is invalidated — deleted, overwritten by `set`, or removed by a
 *   tag or a pattern — and so on transitively: `closure()` walks the graph breadth-first with a
 *   visited set, so a cycle (A depends on B depends on A) ends instead of looping.
 *
 * Both can be large (a tag on 100,000 entries), so nothing here copies a whole set or walks a whole
 * closure at once: `takeTagged` hands over the tags' sets themselves (later writes with those tags
 * start new ones), and `closure` is a generator that looks a key's dependents up only when the walk
 * reaches it, so the caller can remove keys as they come and pause between them (manager.ts
 * removes them in slices, yielding to the event loop).
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

  /** Removes the label's set and returns it (undefined when the label has none). */
  take(label: string): Set<string> | undefined {
    const keys = this.sets.get(label);
    this.sets.delete(label);
    return keys;
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

  /**
   * Takes the key sets of `tags` out of the index and returns them: the keys written with those
   * tags until now. A key written with one of the tags afterwards goes to a new set.
   */
  takeTagged(tags: readonly string[]): Set<string>[] {
    const sets: Set<string>[] = [];
    for (const tag of tags) {
      const keys = this.tagged.take(tag);
      if (keys !== undefined) sets.push(keys);
    }
    return sets;
  }

  /**
   * `roots` (unless `includeRoots` is false) and every key that depends on one of them,
   * transitively, each once, so cycles end. Lazy: the roots are read as the walk goes, and a key's
   * dependents when the walk reaches it, so the caller may remove each key as it comes.
   */
  *closure(roots: Iterable<string>, includeRoots = true): Generator<string, void, undefined> {
    const reached = new Set<string>();
    const queue: string[] = [];
    for (const root of roots) {
      if (reached.has(root)) continue;
      reached.add(root);
      queue.push(root);
      if (includeRoots) yield root;
    }
    for (let next = 0; next < queue.length; next++) {
      const dependents = this.dependents.get(queue[next]!);
      if (dependents === undefined) continue;
      for (const dependent of dependents) {
        if (reached.has(dependent)) continue;
        reached.add(dependent);
        queue.push(dependent);
        yield dependent;
      }
    }
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
