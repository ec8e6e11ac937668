/**
 * `npm run bench`: Keel's in-process cache against its peers, measured in one run.
 *
 * Peers: BentoCache (memory driver, its defaults), cache-manager 7 over Keyv + CacheableMemory,
 * and lru-cache called behind an `await` (the floor any promise-returning cache API pays).
 *
 * 1. Awaited L1 get on 1,000 hot keys. Targets: Keel ≥ 20× BentoCache, ≥ 0.4× lru-cache+await.
 * 2. getOrSet on the same hot keys (all hits).
 * 3. Single flight: rounds of 1,000 concurrent getOrSet on a cold key whose origin takes 2 ms;
 *    reports origin calls per round and rounds per second.
 * 4. SmartCache alone under eviction: synchronous read-through (get, and set on a miss) over
 *    Zipf(0.99) draws from 100,000 keys into 10,000 entries, the manager's L1 in scenario B of
 *    `npm run bench:l2`. Its adaptive window (the default) against a fixed 10 % window, which
 *    needs no tuner, and lru-cache; reports reads per second and hit ratios. What the window
 *    tuner costs is the gap between the first two.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { OptimizedCacheManager } from '../src/cache/index.js';
import { SmartCache } from '../src/cache/memory/index.js';
import { seededRandom, zipfDraws } from './l2/workload.js';
import { compare, formatRate, target } from './lib/harness.js';

const HOT_KEYS = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 600);
const STAMPEDE_CALLERS = 1000;
const STAMPEDE_ROUNDS = 20;
const EVICTION_KEYS = 100_000;
const EVICTION_ENTRIES = 10_000;
const EVICTION_DRAWS = 1_000_000;
/** Reads per awaited operation of section 4, so the await does not dominate a synchronous read. */
const READS_PER_OP = 1_000;
const ORIGIN_MS = 2;
const TTL_MS = 10 * 60_000;

const keys = Array.from({ length: HOT_KEYS }, (_, i) => `product:${i}`);
const productValue = (i: number) => ({
  id: i,
  title: `Product ${i}`,
  price: 1000 + i,
  tags: ['tea', 'green'],
});

const keel = new OptimizedCacheManager({ namespace: 'bench', memory: { maxBytes: 64 * 1024 * 1024 } });
const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(memoryDriver({ maxSize: '64mb' })) },
});
const cacheManager = createCache({
  stores: [new Keyv({ store: new CacheableMemory({ ttl: TTL_MS, lruSize: 100_000 }) })],
});
const lru = new LRUCache<string, object>({ max: 100_000, ttl: TTL_MS });

for (let i = 0; i < HOT_KEYS; i++) {
  await keel.set(keys[i]!, productValue(i), { ttlMs: TTL_MS });
  await bento.set({ key: keys[i]!, value: productValue(i), ttl: TTL_MS });
  await cacheManager.set(keys[i]!, productValue(i), TTL_MS);
  lru.set(keys[i]!, productValue(i));
}
const missing = async () => {
  throw new Error('benchmark keys must all be hits');
};

console.log(
  `Keel cache benchmark — ${ROUNDS} alternating rounds of ${SLICE_MS} ms per contender, Node ${process.version}\n`,
);

const gets = await compare(
  [
    { name: 'keel', op: (i) => keel.get(keys[i % HOT_KEYS]!) },
    { name: 'bentocache', op: (i) => bento.get({ key: keys[i % HOT_KEYS]! }) },
    { name: 'cache-manager', op: (i) => cacheManager.get(keys[i % HOT_KEYS]!) },
    { name: 'lru-cache+await', op: async (i) => lru.get(keys[i % HOT_KEYS]!) },
  ],
  ROUNDS,
  SLICE_MS,
);
const getOrSets = await compare(
  [
    { name: 'keel', op: (i) => keel.getOrSet(keys[i % HOT_KEYS]!, missing) },
    { name: 'bentocache', op: (i) => bento.getOrSet({ key: keys[i % HOT_KEYS]!, factory: missing }) },
    { name: 'cache-manager', op: (i) => cacheManager.wrap(keys[i % HOT_KEYS]!, missing) },
  ],
  ROUNDS,
  SLICE_MS,
);

const rows: Record<string, Record<string, string>> = {};
for (const [name, rate] of gets) {
  rows[name] = {
    'get (awaited)': formatRate(rate),
    'keel ÷ this': (gets.get('keel')! / rate).toFixed(2),
    'getOrSet (hit)': getOrSets.has(name) ? formatRate(getOrSets.get(name)!) : '—',
  };
}
console.log('1–2. Hot keys (1,000), one awaited call at a time');
console.table(rows);

async function stampede(name: string, run: (key: string, origin: () => Promise<object>) => Promise<unknown>) {
  let originCalls = 0;
  const origin = async () => {
    originCalls++;
    await sleep(ORIGIN_MS);
    return { loaded: true };
  };
  const started = performance.now();
  for (let round = 0; round < STAMPEDE_ROUNDS; round++) {
    const key = `cold:${name}:${round}`;
    await Promise.all(Array.from({ length: STAMPEDE_CALLERS }, () => run(key, origin)));
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    'origin calls per round': originCalls / STAMPEDE_ROUNDS,
    'rounds/s': (STAMPEDE_ROUNDS / seconds).toFixed(1),
  };
}
console.log(
  `\n3. Single flight: ${STAMPEDE_ROUNDS} rounds of ${STAMPEDE_CALLERS} concurrent getOrSet on a cold key, ${ORIGIN_MS} ms origin`,
);
console.table({
  keel: await stampede('keel', (key, origin) => keel.getOrSet(key, origin)),
  bentocache: await stampede('bentocache', (key, origin) => bento.getOrSet({ key, factory: origin })),
  'cache-manager': await stampede('cache-manager', (key, origin) => cacheManager.wrap(key, origin)),
});

/** Section 4: a synchronous read-through cache under Zipf draws, measured in blocks of reads. */
interface ReadThrough {
  name: string;
  read(key: string): boolean;
}

function evictionContender(cache: ReadThrough, draws: Uint32Array, keyOf: string[]) {
  let position = 0;
  let reads = 0;
  let hits = 0;
  return {
    name: cache.name,
    op: async () => {
      for (let n = 0; n < READS_PER_OP; n++) {
        if (cache.read(keyOf[draws[position]!]!)) hits++;
        position = (position + 1) % draws.length;
      }
      reads += READS_PER_OP;
    },
    hitRatio: () => hits / reads,
  };
}

function smartReadThrough(name: string, windowFraction?: number): ReadThrough {
  const cache = new SmartCache<string, number>({ maxEntries: EVICTION_ENTRIES, windowFraction });
  return {
    name,
    read: (key) => {
      if (cache.get(key) !== undefined) return true;
      cache.set(key, 1);
      return false;
    },
  };
}

const lruBounded = new LRUCache<string, number>({ max: EVICTION_ENTRIES });
const evictionDraws = zipfDraws(EVICTION_KEYS, 0.99, EVICTION_DRAWS, seededRandom(7));
const evictionKeys = Array.from({ length: EVICTION_KEYS }, (_, i) => `product:${i}`);
const evictionContenders = [
  smartReadThrough('SmartCache (adaptive window)'),
  smartReadThrough('SmartCache (fixed 10 % window)', 0.1),
  {
    name: 'lru-cache',
    read: (key: string) => {
      if (lruBounded.get(key) !== undefined) return true;
      lruBounded.set(key, 1);
      return false;
    },
  },
].map((cache) => evictionContender(cache, evictionDraws, evictionKeys));
const evictionRates = await compare(evictionContenders, ROUNDS, SLICE_MS);
console.log(
  `\n4. SmartCache under eviction: read-through, Zipf(0.99) over ${EVICTION_KEYS.toLocaleString('en')} keys, ` +
    `${EVICTION_ENTRIES.toLocaleString('en')} entries, synchronous`,
);
const adaptiveRate = evictionRates.get(evictionContenders[0]!.name)!;
console.table(
  Object.fromEntries(
    evictionContenders.map((contender) => {
      const rate = evictionRates.get(contender.name)! * READS_PER_OP;
      return [
        contender.name,
        {
          'reads/s': formatRate(rate),
          'this ÷ adaptive': (rate / (adaptiveRate * READS_PER_OP)).toFixed(2),
          'hit ratio': `${(100 * contender.hitRatio()).toFixed(1)} %`,
        },
      ];
    }),
  ),
);

console.log('\nTargets');
const passed = [
  target('L1 awaited get vs BentoCache', gets.get('keel')! / gets.get('bentocache')!, 20),
  target('L1 awaited get vs lru-cache+await', gets.get('keel')! / gets.get('lru-cache+await')!, 0.4),
].every(Boolean);

await keel.close();
await bento.disconnect();
await cacheManager.disconnect();
process.exitCode = passed ? 0 : 1;
