/**
 * The workloads of `npm run bench:l2`: product values, shuffled key orders and Zipf draws, all from
 * a seeded PRNG so that every contender of a run (and every run) sees the same sequence.
 *
 * Products are shaped like a catalogue API's response (id, SKU, title, price, description, tags,
 * nested variants): about 550 bytes as JSON, 480 as MessagePack, under the 1 KiB where Keel's
 * codec starts compressing, so every contender moves the payload as it is.
 *
 * Zipf(s) over n keys: rank k (1-based) has weight 1 / k^s; the draws come from src/util/random.ts
 * (inverse transform over a precomputed table, an exact table being cheap at 100,000 keys). Rank
 * k is key id k − 1, so the hottest keys have the smallest ids. The PRNG is mulberry32: 32 bits of
 * state, fast, good enough to drive a benchmark, and reproducible.
 */
import { mulberry32, Zipf } from '../../src/util/random.js';

/** A catalogue product as an API would cache it. */
export interface Product {
  id: number;
  sku: string;
  title: string;
  price: { amount: number; currency: string };
  description: string;
  tags: string[];
  variants: { sku: string; size: string; price: number; stock: number }[];
  rating: number;
  updatedAt: string;
}

const VARIANT_SIZES = ['50g', '100g', '250g'];
const TAG_POOL = ['tea', 'green', 'black', 'organic', 'loose-leaf', 'gift', 'limited', 'fair-trade'];
/** Tags per product: a slice of TAG_POOL starting at a position derived from the id. */
const TAGS_PER_PRODUCT = 4;
const BASE_PRICE_CENTS = 1299;
const PRICE_SPREAD_CENTS = 500;
const STOCK_SPREAD = 250;
/** A fixed instant, so values are identical across runs (no `Date.now()` in a payload). */
const UPDATED_AT_EPOCH_MS = Date.UTC(2025, 0, 1);
const MS_PER_MINUTE = 60_000;

/** The product of key id `id`, the same on every call. */
export function product(id: number): Product {
  const sku = `SKU-${id.toString(36).toUpperCase().padStart(6, '0')}`;
  const amount = BASE_PRICE_CENTS + (id % PRICE_SPREAD_CENTS);
  const tags: string[] = [];
  for (let t = 0; t < TAGS_PER_PRODUCT; t++) tags.push(TAG_POOL[(id + t * 3) % TAG_POOL.length]!);
  return {
    id,
    sku,
    title: `Organic Sencha no. ${id}, first flush`,
    price: { amount, currency: 'EUR' },
    description:
      'Steamed green tea from the first spring harvest: grassy, sweet and slightly marine. ' +
      `Brew at 70 °C for 90 seconds. Lot ${id % 97}.`,
    tags,
    variants: VARIANT_SIZES.map((size, v) => ({
      sku: `${sku}-${size}`,
      size,
      price: amount * (v + 1),
      stock: (id * 7 + v * 13) % STOCK_SPREAD,
    })),
    rating: 3 + (id % 20) / 10,
    updatedAt: new Date(UPDATED_AT_EPOCH_MS + (id % 10_000) * MS_PER_MINUTE).toISOString(),
  };
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32, src/util/random.ts). */
export const seededRandom = mulberry32;

/** 0..n−1 in a random order (Fisher–Yates). */
export function shuffledIds(n: number, random: () => number): Uint32Array {
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = swap;
  }
  return ids;
}

/** `count` draws of key ids 0..n−1 from Zipf(s) (rank 0, the hottest key, is id 0). */
export function zipfDraws(n: number, s: number, count: number, random: () => number): Uint32Array {
  const zipf = new Zipf(n, s, random);
  const draws = new Uint32Array(count);
  for (let d = 0; d < count; d++) draws[d] = zipf.next();
  return draws;
}

/** Keys drawn in draws[start, start + count) that were not drawn in draws[from, start). */
export function newIn(draws: Uint32Array, from: number, start: number, count: number, n: number): number {
  const seen = new Uint8Array(n);
  for (let d = from; d < start; d++) seen[draws[d % draws.length]!] = 1;
  let fresh = 0;
  for (let d = 0; d < count; d++) {
    const id = draws[(start + d) % draws.length]!;
    if (seen[id] === 0) {
      seen[id] = 1;
      fresh++;
    }
  }
  return fresh;
}
