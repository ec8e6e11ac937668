/**
 * 32-bit hashes of cache keys.
 *
 * SmartCache hashes a key once, when it is inserted, and keeps the hash beside the entry, so a hit
 * never hashes again; the frequency sketch then derives all of its indexes from that one number.
 * The hashes only need to spread keys evenly, they are not a defence against chosen inputs (the
 * admission policy has its own jitter for that, see smart-cache.ts).
 *
 * - Strings: FNV-1a over the UTF-16 code units (Fowler, Noll, Vo), finished with the MurmurHash3
 *   32-bit finalizer, because FNV-1a alone leaves the high bits of short keys poorly mixed.
 * - Integers: the low and high 32-bit halves are folded together with a golden-ratio multiplier and
 *   finished with the same finalizer, so consecutive ids land far apart.
 * - Other numbers (fractions, huge magnitudes, NaN): the bits of their IEEE-754 encoding, read
 *   through a shared scratch buffer so no number is boxed or allocated.
 */

/** FNV-1a 32-bit offset basis. */
const FNV_OFFSET_BASIS = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
const FNV_PRIME = 0x01000193;
/** 2^32 / golden ratio: the multiplier that spreads the high half of an integer over all bits. */
const GOLDEN_RATIO_32 = 0x9e3779b9;
/** MurmurHash3 fmix32 multipliers. */
const FMIX_MULTIPLIER_1 = 0x85ebca6b;
const FMIX_MULTIPLIER_2 = 0xc2b2ae35;
const TWO_POW_32 = 2 ** 32;

const scratchFloat = new Float64Array(1);
const scratchWords = new Int32Array(scratchFloat.buffer);

/** The MurmurHash3 32-bit finalizer: every input bit affects every output bit. */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, FMIX_MULTIPLIER_1);
  h ^= h >>> 13;
  h = Math.imul(h, FMIX_MULTIPLIER_2);
  h ^= h >>> 16;
  return h;
}

export function hashString(key: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  }
  return mix32(h);
}

export function hashNumber(key: number): number {
  if (Number.isSafeInteger(key)) {
    const high = Math.floor(key / TWO_POW_32);
    return mix32((key | 0) ^ Math.imul(high, GOLDEN_RATIO_32));
  }
  scratchFloat[0] = key;
  return mix32(scratchWords[0] ^ Math.imul(scratchWords[1], GOLDEN_RATIO_32));
}

export function hashKey(key: string | number): number {
  return typeof key === 'string' ? hashString(key) : hashNumber(key);
}
