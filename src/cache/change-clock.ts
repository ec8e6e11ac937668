/**
 * ChangeClock: tells a read from Redis whether its key changed while the read was in flight.
 *
 * An L2 read takes a round trip. If, meanwhile, the key is written here or another instance's
 * invalidation arrives on the bus, the value the read brings back may be older than that change,
 * and promoting it into L1 would pin the old value there until its TTL. So the manager notes the
 * clock before the read and promotes only if nothing changed the key since: the key itself
 * (`keyChanged`), or possibly any key (`everythingChanged`: tags and patterns from the bus, whose
 * keys this instance cannot list, and clears). The value is still returned; it only stays out of
 * L1.
 *
 * Memory is bounded: past MAX_TRACKED_KEYS remembered keys, the clock forgets them and counts it
 * as a change of everything, which only costs in-flight reads their promotion.
 */

/** Most keys remembered as changed before the clock falls back to "everything changed". */
const MAX_TRACKED_KEYS = 10_000;

export class ChangeClock {
  private tick = 0;
  private everythingChangedAt = 0;
  private readonly keyChangedAt = new Map<string, number>();

  /** The current time on this clock, to pass to `changedSince` later. */
  now(): number {
    return this.tick;
  }

  keyChanged(key: string): void {
    if (this.keyChangedAt.size >= MAX_TRACKED_KEYS) this.everythingChanged();
    this.keyChangedAt.set(key, ++this.tick);
  }

  everythingChanged(): void {
    this.keyChangedAt.clear();
    this.everythingChangedAt = ++this.tick;
  }

  changedSince(key: string, since: number): boolean {
    return this.everythingChangedAt > since || (this.keyChangedAt.get(key) ?? 0) > since;
  }
}
