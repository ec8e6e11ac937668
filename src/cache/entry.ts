/**
 * What the L1 holds for one key.
 *
 * Small values are held live, so an L1 hit hands back the stored value with no decoding (callers
 * must treat it as read-only, as with any in-process cache). Values whose serialized form reaches
 * `memory.compressAboveBytes` are held as the codec's compressed envelope and decoded on each hit:
 * a large value costs a few microseconds to decode, far less than the memory it would pin live.
 *
 * `freshUntil` ends the TTL; the entry stays in L1 until `staleUntil` (TTL + grace) so that
 * `getOrSet` can fall back to it when the origin is slow or failing.
 */
export class L1Entry {
  constructor(
    /** The live value, or the envelope bytes when `encoded`. */
    readonly value: unknown,
    readonly encoded: boolean,
    readonly freshUntil: number,
    readonly staleUntil: number,
    readonly dataType: string,
    readonly tags: readonly string[],
    readonly dependsOn: readonly string[],
  ) {}
}

/**
 * Bytes charged to the L1 budget beyond the value itself: the entry object, its slot in the
 * cache's map and arrays and the index bookkeeping; the key string is charged separately (2 bytes a
 * UTF-16 unit). Measured: 100,000 entries sharing one value object, keys like `product:12345`, grew
 * the heap by 208 bytes an entry after GC (`node --expose-gc`, process.memoryUsage), of which ~32
 * are the key string; 180 + 2 × 13 = 206 tracks that.
 *
 * The value is charged its serialized length. A small live object takes more heap than that (about
 * 100 bytes for a 3-field object whose msgpack form is ~35), which is one reason the 'auto' budget
 * is a modest share of the heap.
 */
export const ENTRY_OVERHEAD_BYTES = 180;

/**
 * What a value held as a buffer of its own (an encoded entry, or a Buffer or typed array the
 * caller cached) costs beyond its bytes: the Buffer
 * and ArrayBuffer objects, the native backing store's bookkeeping and the allocator's rounding.
 * Measured as resident memory, the figure the operating system sees: 60,000 encoded entries of
 * 700-byte envelopes with 30-character keys and no tags grew RSS by 1,777 bytes an entry after GC;
 * 700 + 180 + 60 + 840 = 1,780.
 */
export const BUFFER_OVERHEAD_BYTES = 840;

/**
 * What each tag or dependency of an entry costs beyond its characters (2 bytes each): its slot in
 * the entry's list and the key's place in the tag's index set. Measured with the entries above:
 * two 15-character tags added 300 bytes of RSS an entry; 2 × (120 + 30) = 300.
 */
export const LABEL_OVERHEAD_BYTES = 120;

export function chargedBytes(key: string, valueBytes: number, entry: L1Entry): number {
  let bytes = valueBytes + ENTRY_OVERHEAD_BYTES + key.length * 2;
  if (entry.encoded || entry.value instanceof Uint8Array) bytes += BUFFER_OVERHEAD_BYTES;
  for (const label of entry.tags) bytes += LABEL_OVERHEAD_BYTES + label.length * 2;
  for (const label of entry.dependsOn) bytes += LABEL_OVERHEAD_BYTES + label.length * 2;
  return bytes;
}
