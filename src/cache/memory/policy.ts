/**
 * The parameters of W-TinyLFU that SmartCache (smart-cache.ts) and the window tuner's shadows
 * (shadow-cache.ts) share. A shadow must decide exactly as the cache would with the same window
 * share, so both take them from here; smart-cache.ts explains each choice.
 */

/** Share of the main space the protected segment may fill (the SLRU split of TinyLFU's paper). */
export const PROTECTED_SHARE = 0.8;
/** A losing candidate this warm (frequency ≥ this) is still admitted once in HASH_FLOOD_ODDS. */
export const HASH_FLOOD_THRESHOLD = 6;
export const HASH_FLOOD_ODDS = 128;
/** A sketch frequency of at least this means the key was read more than once recently. */
export const REUSED_FREQUENCY = 2;
/** The first state of the xorshift32 sequence behind the hash-flooding defence. */
export const RANDOM_SEED = 0x9e3779b9;

/** The next state of xorshift32 (Marsaglia): cheap randomness; its quality is irrelevant here. */
export function xorshift32(state: number): number {
  let x = state;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x;
}
