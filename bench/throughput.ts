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
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { OptimizedCacheManager } from '../src/cache/index.js';
import { compare, formatRate, target } from './lib/harness.js';

const HOT_KEYS = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 600);
const STAMPEDE_CALLERS = 1000;
const STAMPEDE_ROUNDS = 20;
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

console.log('\nTargets');
const passed = [
  target('L1 awaited get vs BentoCache', gets.get('keel')! / gets.get('bentocache')!, 20),
  target('L1 awaited get vs lru-cache+await', gets.get('keel')! / gets.get('lru-cache+await')!, 0.4),
].every(Boolean);

await keel.close();
await bento.disconnect();
await cacheManager.disconnect();
process.exitCode = passed ? 0 : 1;
