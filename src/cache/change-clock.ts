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
 * The stamps live in a fixed table indexed by the key's hash, not in a map of keys: a change
 * writes the current tick into the key's slot, so the memory is bounded by construction and a
 * write costs a hash and a store, with no map to grow and no fallback to clear it. Two keys that
 * share a slot share a stamp, so a read may see its key as changed when only its neighbour was;
 * that costs the read its promotion and nothing else. The reverse cannot happen: a slot's stamp
 * only grows, so a change is never forgotten while a read that started before it is in flight.
 *
 * Keys are passed as their `hashString`, which the manager computes once per write or L2 read and
 * also uses to name the key in its envelope (manager.ts).
 */

/** Slots of the stamp table (a power of two): 32 KiB, and a collision rate of 1 in 4,096 keys changed. */
const STAMP_SLOTS = 4096;
const SLOT_MASK = STAMP_SLOTS - 1;

export class ChangeClock {
  private tick = 0;
  private everythingChangedAt = 0;
  /** The tick of the latest change of any key hashed to each slot (doubles: exact to 2^53 ticks). */
  private readonly stamps = new Float64Array(STAMP_SLOTS);

  /** The current time on this clock, to pass to `changedSince` later. */
  now(): number {
    return this.tick;
  }

  /** The key whose `hashString` is `keyHash` changed. */
  keyChanged(keyHash: number): void {
    this.stamps[keyHash & SLOT_MASK] = ++this.tick;
  }

  everythingChanged(): void {
    this.everythingChangedAt = ++this.tick;
  }

  /** Whether the key whose `hashString` is `keyHash` may have changed since `since`. */
  changedSince(keyHash: number, since: number): boolean {
    return this.everythingChangedAt > since || (this.stamps[keyHash & SLOT_MASK] as number) > since;
  }
}
