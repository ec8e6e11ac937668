/**
 * The settings of `npm run bench:l2`, read by the coordinating process and by every contender's
 * process alike (the contenders' processes inherit the environment), so all measure the same thing.
 */
import type { MemoryLayer } from './contenders.js';
import { loopbackRedisUrl } from './redis-admin.js';

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
/** Unmeasured rounds per contender after all are prepared, before the first round (bench/l2.ts `settle`). */
export const SETTLE_ROUNDS = 3;
/** A: measured time per contender per round. */
export const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 400);
/** B: getOrSet calls per contender per round. */
export const ZIPF_OPS = Number(process.env.BENCH_ZIPF_OPS ?? 40_000);
/** B: draws served before the measured rounds, to reach the steady state. */
export const ZIPF_WARMUP = Number(process.env.BENCH_ZIPF_WARMUP ?? 400_000);
/** Which scenarios run: `get`, `zipf`, or both (the default), comma-separated. */
export const SCENARIOS = new Set(
  (process.env.BENCH_SCENARIOS ?? 'get,zipf').split(',').map((name) => name.trim()),
);
export const REDIS_URL = loopbackRedisUrl(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

/** Async workers awaiting one operation at a time, in both scenarios. */
export const CONCURRENCY = 64;
export const TTL_MS = 10 * 60_000;
/** Seed of every random sequence, so runs are comparable. */
export const SEED = 0x6b65656c;

/** A: keys written, and read once per pass. */
export const GET_KEYS = 20_000;
/** A: distinct shuffled orders of the keys; passes cycle through them. */
export const GET_ORDERS = 8;
/** A: memory layers large enough to hold every key, as a reading service would configure them. */
export const GET_MEMORY: MemoryLayer = { maxEntries: 4 * GET_KEYS, maxBytes: 256 * 1024 * 1024 };

/** B: the key space, the skew, and the precomputed draws. */
export const ZIPF_KEYS = 100_000;
export const ZIPF_S = 0.99;
export const ZIPF_DRAWS = 2_000_000;
/** B: the origin's latency. */
export const ORIGIN_MS = 2;
/** B: every memory layer holds this many entries (10 % of the key space). */
export const ZIPF_MEMORY: MemoryLayer = { maxEntries: 10_000, maxBytes: 256 * 1024 * 1024 };

/** Targets (ratios, Keel ÷ peer). */
export const TARGET_GET_VS_BENTO = 2.5;
export const TARGET_GET_VS_RAW = 1.0;
export const TARGET_ZIPF_VS_BENTO = 3;

export const keyOf = (id: number) => `product:${id}`;
