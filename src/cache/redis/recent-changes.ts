/**
 * RecentChanges: what this instance changed in Redis over the last RECENT_CHANGES_MS, to be undone
 * again on a server that may have lost it.
 *
 * Redis replicates asynchronously. When a failover promotes a replica, the writes and deletions
 * the old primary acknowledged shortly before (and until its clients left it) may be missing on
 * the new one, which then still holds the values they replaced; a server restarted from an older
 * snapshot holds them too. When the tier's connection comes back to a server other than the one it
 * left, it puts the changes of the window into the invalidation journal, whose replay (before this
 * instance reads Redis again) deletes those keys and broadcasts them. Every instance does so for
 * its own changes. Deleting is always safe for a cache: at worst a value written since costs one
 * more miss.
 *
 * The window covers a failover with room to spare: Sentinel's switch comes about 1 s after the
 * promotion on loopback, and the tier follows it at once. Each change is kept as the journal would
 * keep it (keys, tags, patterns, a flush), at most `capacity` items (the journal's bound): beyond
 * that, the window only remembers that it overflowed, and replays as a flush of the namespace, as
 * an overflowing journal does. Memory stays bounded under any write rate.
 */
import type { InvalidationJournal } from './invalidation-journal.js';

/** How far back changes are replayed after the server changed (see the note). */
export const RECENT_CHANGES_MS = 10_000;
/** Forgotten changes are dropped from the array once there are this many and they are most of it. */
const COMPACT_AFTER = 1024;

type Kind = 'keys' | 'tags' | 'pattern' | 'flush';

interface Change {
  at: number;
  kind: Kind;
  items: readonly string[];
}

export class RecentChanges {
  private changes: Change[] = [];
  /** Index of the oldest change still in the window. */
  private oldest = 0;
  /** Items held from `oldest` on. */
  private items = 0;
  /** When the window last overflowed (−Infinity: never). */
  private overflowedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a change; `items` is kept as it is, so it must not change afterwards. */
  add(kind: Kind, items: readonly string[]): void {
    if (kind !== 'flush' && items.length === 0) return;
    const at = this.now();
    this.forgetBefore(at - RECENT_CHANGES_MS);
    if (this.items + items.length > this.capacity) {
      this.overflowedAt = at;
      this.changes = [];
      this.oldest = 0;
      this.items = 0;
      return;
    }
    this.changes.push({ at, kind, items });
    this.items += items.length;
  }

  /** Adds the changes of the window to the journal. */
  copyInto(journal: InvalidationJournal): void {
    const cutoff = this.now() - RECENT_CHANGES_MS;
    this.forgetBefore(cutoff);
    if (this.overflowedAt >= cutoff) journal.addFlush();
    for (let i = this.oldest; i < this.changes.length; i++) {
      const { kind, items } = this.changes[i] as Change;
      if (kind === 'keys') journal.addKeys(items);
      else if (kind === 'tags') journal.addTags(items);
      else if (kind === 'pattern') journal.addPattern(items[0] as string);
      else journal.addFlush();
    }
  }

  private forgetBefore(cutoff: number): void {
    while (this.oldest < this.changes.length && (this.changes[this.oldest] as Change).at < cutoff) {
      this.items -= (this.changes[this.oldest] as Change).items.length;
      this.oldest++;
    }
    if (this.oldest > COMPACT_AFTER && this.oldest * 2 > this.changes.length) {
      this.changes = this.changes.slice(this.oldest);
      this.oldest = 0;
    }
  }
}
