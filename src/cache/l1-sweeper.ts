/**
 * L1Sweeper: removes what an invalidation reaches from the L1 without blocking the event loop.
 *
 * A tag can name 100,000 entries and a key can have as many dependents; removing them in one go
 * stalled the event loop for a quarter of a second (and every request with it). So the sweeper
 * removes SWEEP_SLICE keys, then yields to the event loop (`setImmediate`, after pending I/O), and
 * goes on: a slice costs about a millisecond. The first slice runs at once, in the caller's turn,
 * so an invalidation of a few keys takes effect as synchronously as before.
 *
 * Tags. `sweepTags` takes the tags' key sets out of the index when it is called (the entries
 * written with the tags until then; one written afterwards is not swept), lets the caller's `first`
 * step run (the same invalidation in Redis), and only then removes the keys and their dependents:
 * a key leaves this L1 no earlier than it leaves Redis, so a read can never refill it from Redis
 * after the sweep has passed it. An invalidation of a tag whose sweep is still running resolves
 * only once that sweep is done too: its keys left the index with the earlier sweep.
 *
 * What a reader sees meanwhile: a key the sweep has not reached yet is still served (and so are
 * the keys of an invalidation still running in Redis); a key it has passed is gone. A key written
 * again with the tag during the sweep may be swept too (one more miss, never a stale value).
 */
import type { InvalidationIndex } from './invalidation.js';

/** Keys removed, or scanned for a pattern, per turn of the event loop (about 1 ms of work). */
export const SWEEP_SLICE = 1_000;

export class L1Sweeper {
  /** The latest sweep of each tag still running; each waits for the sweeps of its tags before it. */
  private readonly tagSweeps = new Map<string, Promise<unknown>>();

  /** @param remove removes a key from the L1 (and its indexes); true when it was held */
  constructor(
    private readonly index: InvalidationIndex,
    private readonly remove: (key: string) => boolean,
  ) {}

  /** Removes `roots` (unless `includeRoots` is false) and what depends on them; how many were held. */
  async removeClosure(roots: Iterable<string>, includeRoots = true): Promise<number> {
    let removed = 0;
    let visited = 0;
    for (const key of this.index.closure(roots, includeRoots)) {
      if (this.remove(key)) removed++;
      if (++visited % SWEEP_SLICE === 0) await nextTurn();
    }
    return removed;
  }

  /**
   * Removes the entries written with `tags` until now, and their dependents, after `first` has
   * run; resolves with its result and the number removed, once earlier sweeps of the tags are done.
   */
  sweepTags<T>(tags: readonly string[], first: () => Promise<T>): Promise<[T, number]> {
    const taken = this.index.takeTagged(tags);
    const earlier = tags.map((tag) => this.tagSweeps.get(tag)).filter((sweep) => sweep !== undefined);
    const sweep = (async (): Promise<[T, number]> => {
      const result = await first();
      const removed = await this.removeClosure(concat(taken));
      await Promise.all(earlier);
      return [result, removed];
    })();
    for (const tag of tags) this.tagSweeps.set(tag, sweep);
    const forget = () => {
      for (const tag of tags) if (this.tagSweeps.get(tag) === sweep) this.tagSweeps.delete(tag);
    };
    sweep.then(forget, forget);
    return sweep;
  }

  /** The keys among `keys` that `matcher` matches, SWEEP_SLICE tested per turn. */
  async matching(keys: Iterable<string>, matcher: RegExp): Promise<string[]> {
    const matched: string[] = [];
    let scanned = 0;
    for (const key of keys) {
      if (matcher.test(key)) matched.push(key);
      if (++scanned % SWEEP_SLICE === 0) await nextTurn();
    }
    return matched;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function* concat(sets: readonly Iterable<string>[]): Generator<string, void, undefined> {
  for (const set of sets) yield* set;
}
