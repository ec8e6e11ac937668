/**
 * Hash tags that put a new key in the Redis Cluster slot of an existing one.
 *
 * In Cluster a command or a script may only name keys of one slot. Moving an index to a draining
 * key in one step (RENAME, index-drain.ts) needs the draining key in the index's slot, but an
 * index's name has no hash tag (a namespace's keys spread over every slot, key-layout.ts), and the
 * caller's tag or key inside it may hold braces of its own. So the draining key carries a tag of
 * its own choosing, `{t}`, where `t` is a short string whose slot is the index's: Redis hashes only
 * what lies between the first `{` of a key and the next `}`, and neither a key prefix nor a
 * namespace may contain a brace, so that tag decides the slot whatever follows it.
 *
 * The tags of all 16,384 slots are found once, on first use, by hashing base-36 numbers in order
 * and keeping the first to reach each slot: 87,573 numbers of at most four characters, about 11 ms.
 * On a single server the slot does not matter, and the same names are used.
 */
import calculateSlot from 'cluster-key-slot';

/** Slots of Redis Cluster. */
const SLOTS = 16_384;

let tags: string[] | undefined;

/** A string that, used as `{tag}` in a key, puts that key in the slot of `redisKey`. */
export function sameSlotTag(redisKey: string): string {
  tags ??= slotTags();
  return tags[calculateSlot(redisKey)] as string;
}

function slotTags(): string[] {
  const found = new Array<string>(SLOTS);
  let missing = SLOTS;
  for (let n = 0; missing > 0; n++) {
    const candidate = n.toString(36);
    const slot = calculateSlot(candidate);
    if (found[slot] === undefined) {
      found[slot] = candidate;
      missing--;
    }
  }
  return found;
}
