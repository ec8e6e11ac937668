/**
 * Bucketing: which ids fall inside a weight. Every switch of a rollout (a cached share of a route,
 * a traffic split, a shadow sample, a flag) asks `isInRollout(id, group, weight)`, and every
 * instance answers the same for the same id without talking to the others.
 *
 * The rule is Unleash's, so that a team that already buckets users with Unleash gets the same
 * users in the same buckets here: the id's bucket is `murmur3_x86_32("<group>:<id>", 0) % 100 + 1`
 * (1–100), and it is inside the weight when the bucket is ≤ the weight (the Unleash client
 * specification's gradual-rollout and flexible-rollout strategies; tested against its cases).
 * Raising a weight from 10 to 50 keeps the first 10 % inside: a bucket ≤ 10 is also ≤ 50. The group
 * (the route's or flag's name) makes each switch sample different ids, so the users of a 10 % canary
 * on one route are not, by construction, the users of another.
 *
 * MurmurHash3 x86 32-bit (Austin Appleby, public domain) over the UTF-8 bytes of the text, as the
 * Unleash server and its Java, Go and Rust clients hash it. (The Node client, unleash-client,
 * hashes the low byte of each UTF-16 unit instead; for ASCII ids, the usual case, the two agree.)
 * The decision is on request paths, so it allocates nothing: the text is copied into a scratch
 * buffer that grows once to the longest text seen.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
/** Unleash's normaliser: buckets 1–100. */
const PERCENT = 100;
/** Unleash's seed for choosing a variant, so that the variant does not follow the rollout bucket. */
const VARIANT_SEED = 86_028_157;

const COLON = 0x3a;

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** MurmurHash3 x86 32-bit of `text`'s UTF-8 bytes, unsigned. */
export function murmur3(text: string, seed = 0): number {
  reserve(text.length);
  return murmur3OfScratch(writeUtf8(text, 0), seed);
}

/** Unleash's normalised value of `id` in `group`: 1 to `normalizer`. */
export function normalizedValue(id: string, group: string, normalizer = PERCENT, seed = 0): number {
  // The hash of "<group>:<id>", written straight into the scratch buffer (no joined string).
  reserve(group.length + 1 + id.length);
  let length = writeUtf8(group, 0);
  scratch[length++] = COLON;
  length = writeUtf8(id, length);
  return (murmur3OfScratch(length, seed) % normalizer) + 1;
}

/** MurmurHash3 x86 32-bit of the first `length` bytes of the scratch buffer. */
function murmur3OfScratch(length: number, seed: number): number {
  const bytes = scratch;
  let h = seed >>> 0;
  const blocksEnd = length & ~3;
  for (let i = 0; i < blocksEnd; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[blocksEnd] as number;
    if (tail > 1) k |= (bytes[blocksEnd + 1] as number) << 8;
    if (tail > 2) k |= (bytes[blocksEnd + 2] as number) << 16;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True when `id` is inside `weight` % of `group` (0: never; 100: always). */
export function isInRollout(id: string, group: string, weight: number): boolean {
  if (weight >= PERCENT) return true;
  if (weight <= 0) return false;
  return normalizedValue(id, group) <= weight;
}

export interface WeightedVariant {
  name: string;
  weight: number;
}

/**
 * The variant `id` gets among `variants` in `group` (Unleash's variant rule: a bucket from 1 to
 * the total weight, with its own seed, then the first variant whose running total reaches it);
 * undefined when no variant has a weight.
 */
export function variantOf<V extends WeightedVariant>(
  id: string,
  group: string,
  variants: readonly V[],
): V | undefined {
  let total = 0;
  for (const variant of variants) total += variant.weight;
  if (total <= 0) return undefined;
  const target = normalizedValue(id, group, total, VARIANT_SEED);
  let reached = 0;
  for (const variant of variants) {
    if (variant.weight <= 0) continue;
    reached += variant.weight;
    if (reached >= target) return variant;
  }
  return undefined;
}

/** Makes the scratch buffer large enough for `chars` UTF-16 units as UTF-8 (3 bytes each at most). */
function reserve(chars: number): void {
  if (scratch.length < chars * 3) scratch = new Uint8Array(Math.max(chars * 3, scratch.length * 2));
}

/** Writes `text` as UTF-8 into the scratch buffer at `offset`; returns the offset after it. */
function writeUtf8(text: string, offset: number): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return offset + encoder.encodeInto(text, scratch.subarray(offset)).written;
    scratch[offset + i] = code;
  }
  return offset + n;
}
