/**
 * IndexDrainer: invalidation by tag and by dependency in Redis that completes however many keys an
 * index names, never holds an index in memory, never flushes the namespace instead, and survives
 * the instance that started it.
 *
 * A tag index (`ns#t:<tag>`) and a dependency index (`ns#d:<key>`) are sorted sets of cache keys
 * (key-layout.ts). A client can grow one without bound (the gateway tags every cached URL with its
 * path, and `?x=N` makes new URLs), so emptying it cannot be one command, nor one reply read whole.
 * Invalidating an index is a *drain*, journaled in Redis from its first step:
 *
 *   1. The drain is recorded in the directory (`ns#drains`, a sorted set with every score 0, so its
 *      members sort by name: `<kind>\n<name>\n<id>`, kind `t` or `d`).
 *   2. The index is renamed to its draining key (`ns#x:{slot tag}<kind>:<id>:<name>`, in the
 *      index's slot: slot-tag.ts) in one script, INDEX_MOVE, which adds a marker member ("" scored
 *      +inf) so the key outlives its last real member. A write tagged after this starts a new index,
 *      so the drain removes exactly what was indexed when it started.
 *   3. Chunk by chunk (CHUNK keys): read members of the draining key (DRAIN_READ); record and move
 *      the dependency indexes of those that have one, as drains of the same id (their children);
 *      UNLINK the members' values; announce them (the caller's `onUnlinked`: this instance's L1,
 *      and the bus, whose PUBLISH it awaits); only then remove them from the draining key. A chunk
 *      interrupted anywhere is read again and done again: every step is idempotent, and nothing
 *      leaves the draining key before its values are gone, its dependents' drains recorded, and
 *      the other instances told. The keys an invalidation names itself are announced the same way
 *      as soon as their values are gone.
 *   4. When only the marker is left, DRAIN_READ leaves the key as a tombstone for TOMBSTONE_MS and
 *      the directory forgets the drain.
 * Children are drained depth first, each before its parent's next chunk, so what is held in memory
 * is a chunk per level of the dependency graph. Children are named after their root drain's id:
 * a key reached twice within one drain (a cycle, a diamond) finds its draining key there, or its
 * tombstone, and is not moved again, which ends cycles as the walk's visited set used to.
 *
 * Who finishes a drain. The instance that starts one holds a lease on its id (`ns#x:lease:<id>`,
 * LEASE_MS, renewed as it goes). Every instance reads the directory when it starts, reconnects,
 * replays its journal, and every few seconds after (redis-smart-cache.ts): a drain whose lease has
 * lapsed (its instance died, or was cut off) is taken over, lease and all. An invalidation of a
 * tag or key whose drain is already under way (here or elsewhere) joins it: it drains that
 * draining key too, from a random place so as not to repeat the other's chunks, and resolves only
 * when both are done. So does a journal replay after a timeout or a breaker trip: the tags and
 * keys it replays find their drains in the directory and finish them.
 *
 * The limit: between noticing that an index exists and recording its drain (one round trip) the
 * work is not yet in Redis; an instance that dies then leaves that invalidation undone, as it
 * would any call it had not yet sent.
 */
import { randomUUID } from 'node:crypto';

/** Keys per chunk: the size of each UNLINK, bus message and read of a draining key. */
export const CHUNK = 500;
/** How long a drain's lease lasts without renewal; it is renewed every third of that. */
export const LEASE_MS = 5_000;
/** How long a drained draining key stays, so that a late arrival does not move the index again. */
export const TOMBSTONE_MS = 60_000;
/** Directory members read per look for abandoned drains. */
const DIRECTORY_PAGE = 1_000;

/** The two kinds of index: `t` a tag's keys, `d` the keys that depend on a key. */
export type IndexKind = 't' | 'd';

/** One drain: of the index of `kind` named `name`, as part of the drain `id`. */
export interface Drain {
  kind: IndexKind;
  name: string;
  id: string;
}

/** The Redis commands a drain needs (redis-store.ts). */
export interface DrainCommands {
  /** The names among `names` whose index of `kind` exists. */
  indexesPresent(kind: IndexKind, names: readonly string[]): Promise<string[]>;
  /** The drains recorded for the indexes of `kind` named `names`. */
  drainsOf(kind: IndexKind, names: readonly string[]): Promise<Drain[]>;
  /** Up to `count` recorded drains. */
  pendingDrains(count: number): Promise<Drain[]>;
  recordDrains(drains: readonly Drain[]): Promise<void>;
  forgetDrains(drains: readonly Drain[]): Promise<void>;
  /** Moves the index to its draining key unless done before; false when there is nothing to drain. */
  moveIndex(drain: Drain): Promise<boolean>;
  /** Up to `count` members of the draining key from `startShare` (0..1) of the way in; none once drained. */
  readDrain(drain: Drain, count: number, startShare: number): Promise<string[]>;
  forgetDrained(drain: Drain, members: readonly string[]): Promise<void>;
  unlink(keys: readonly string[]): Promise<number>;
  takeLease(id: string, token: string, ms: number): Promise<boolean>;
  renewLease(id: string, ms: number): Promise<void>;
  releaseLease(id: string, token: string): Promise<void>;
}

export class IndexDrainer {
  /** Drains taken over from the directory (their instance gone, or cut off). */
  resumed = 0;
  /** Invalidations and take-overs in progress in this instance. */
  active = 0;

  /**
   * @param owner this instance's id, the token of its leases
   * @param onUnlinked told the keys whose values were just removed from Redis; resolves once they
   *   are announced, rejects when they could not be
   */
  constructor(
    private readonly store: DrainCommands,
    private readonly owner: string,
    private readonly onUnlinked: (keys: readonly string[]) => Promise<void>,
  ) {}

  /** Deletes what the tags' indexes name, and what depends on it; the number of values removed. */
  invalidateTags(tags: readonly string[]): Promise<number> {
    return this.track(this.invalidate('t', tags));
  }

  /**
   * Deletes `keys` (with `includeKeys`) and, transitively, what depends on them; the number of
   * values removed. The keys' own UNLINK is issued before anything else, in this call.
   */
  invalidateKeys(keys: readonly string[], includeKeys: boolean): Promise<number> {
    const unlinked = includeKeys ? this.unlink(keys) : Promise.resolve(0);
    return this.track(
      Promise.all([unlinked, this.invalidate('d', keys)]).then(([own, dependents]) => own + dependents),
    );
  }

  /** Takes over the recorded drains whose lease has lapsed, and drains them; the values removed. */
  resumeAbandoned(): Promise<number> {
    return this.track(this.takeOver());
  }

  private async invalidate(kind: IndexKind, names: readonly string[]): Promise<number> {
    if (names.length === 0) return 0;
    const id = randomUUID();
    const [present, running] = await Promise.all([
      this.store.indexesPresent(kind, names),
      this.store.drainsOf(kind, names),
    ]);
    const started = present.map((name) => ({ kind, name, id }));
    if (started.length === 0) return this.drain(running, Math.random(), undefined);
    await Promise.all([this.store.takeLease(id, this.owner, LEASE_MS), this.store.recordDrains(started)]);
    try {
      const [own, joined] = await Promise.all([
        this.drain(started, 0, id),
        this.drain(running, Math.random(), undefined),
      ]);
      return own + joined;
    } finally {
      await this.store.releaseLease(id, this.owner);
    }
  }

  private async takeOver(): Promise<number> {
    const byId = new Map<string, Drain[]>();
    for (const drain of await this.store.pendingDrains(DIRECTORY_PAGE)) {
      const drains = byId.get(drain.id);
      if (drains === undefined) byId.set(drain.id, [drain]);
      else drains.push(drain);
    }
    let removed = 0;
    for (const [id, drains] of byId) {
      if (!(await this.store.takeLease(id, this.owner, LEASE_MS))) continue;
      this.resumed++;
      try {
        removed += await this.drain(drains, Math.random(), id);
      } finally {
        await this.store.releaseLease(id, this.owner);
      }
    }
    return removed;
  }

  /**
   * Drains `roots` and their children, depth first (see the file's note), reading each draining key
   * from `startShare` of the way in; renews the lease `leaseId` as it goes, when it holds one.
   */
  private async drain(
    roots: readonly Drain[],
    startShare: number,
    leaseId: string | undefined,
  ): Promise<number> {
    if (roots.length === 0) return 0;
    await Promise.all(roots.map((root) => this.store.moveIndex(root)));
    const stack = [...roots];
    let removed = 0;
    let renewedAt = Date.now();
    let forgotten: Promise<void> = Promise.resolve();
    while (stack.length > 0) {
      const drain = stack[stack.length - 1] as Drain;
      // Issued together: on the draining key's connection the read sees the previous chunk's removal.
      const [, members] = await Promise.all([forgotten, this.store.readDrain(drain, CHUNK, startShare)]);
      if (leaseId !== undefined && Date.now() - renewedAt > LEASE_MS / 3) {
        renewedAt = Date.now();
        await this.store.renewLease(leaseId, LEASE_MS);
      }
      if (members.length === 0) {
        forgotten = Promise.resolve();
        await this.store.forgetDrains([drain]);
        stack.pop();
        continue;
      }
      const children = await this.moveDependents(members, drain.id);
      removed += await this.unlink(members);
      forgotten = this.store.forgetDrained(drain, members);
      stack.push(...children);
    }
    await forgotten;
    return removed;
  }

  /** Deletes the keys' values and announces them; the number that existed. Issues its UNLINK at once. */
  private async unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const removed = await this.store.unlink(keys);
    await this.onUnlinked(keys);
    return removed;
  }

  /** Records and moves the dependency indexes of `keys`, as drains of `id`; returns them. */
  private async moveDependents(keys: readonly string[], id: string): Promise<Drain[]> {
    const withDependents = await this.store.indexesPresent('d', keys);
    if (withDependents.length === 0) return [];
    const children = withDependents.map((name): Drain => ({ kind: 'd', name, id }));
    await this.store.recordDrains(children);
    await Promise.all(children.map((child) => this.store.moveIndex(child)));
    return children;
  }

  private async track<T>(work: Promise<T>): Promise<T> {
    this.active++;
    try {
      return await work;
    } finally {
      this.active--;
    }
  }
}
