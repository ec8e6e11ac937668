/**
 * `npm run tour`: a one-minute-or-less tour of the cache library, without the gateway.
 *
 * A simulated commerce origin (products, inventory, customers) answers in 20–60 ms. Virtual
 * clients request Zipf-distributed keys through `getOrSet`, with inventory writes invalidating by
 * tag, first with no cache (every request goes to the origin) and then through the
 * OptimizedCacheManager. It prints latency with and without the cache, the hit rate by data type,
 * memory against budget, evictions and the most requested keys.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OptimizedCacheManager } from '../cache/index.js';
import { LatencyHistogram } from '../cache/stats/index.js';
import { mulberry32, Zipf } from '../util/random.js';

const PRODUCTS = 20_000;
const CUSTOMERS = 5_000;
const CLIENTS = 64;
const PHASE_MS = Number(process.env.KEEL_DEMO_PHASE_MS ?? 4000);
const ORIGIN_MIN_MS = 20;
const ORIGIN_SPREAD_MS = 40;
/** One request in this many is an inventory update (a write that invalidates by tag). */
const WRITE_EVERY = 50;

type DataType = 'product' | 'inventory' | 'customer';

const random = mulberry32(2026);
const productRanks = new Zipf(PRODUCTS, 0.99, random);
const customerRanks = new Zipf(CUSTOMERS, 0.9, random);

async function origin(type: DataType, id: number): Promise<Record<string, unknown>> {
  await sleep(ORIGIN_MIN_MS + random() * ORIGIN_SPREAD_MS);
  if (type === 'product') {
    return {
      id,
      title: `Product ${id}`,
      price: { amount: (id % 500) + 0.99, currency: 'JPY' },
      tags: ['demo', `collection-${id % 40}`],
      body: 'A sample product description. '.repeat(8 + (id % 24)),
      updatedAt: new Date(1_700_000_000_000 + id * 1000),
    };
  }
  if (type === 'inventory')
    return { productId: id, available: id % 97, locations: new Map([['tokyo', id % 13]]) };
  return { id, name: `Customer ${id}`, email: `customer${id}@example.com`, orders: id % 17 };
}

function nextRequest(): { type: DataType; id: number; write: boolean } {
  const roll = random();
  if (roll < 0.6) return { type: 'product', id: productRanks.next(), write: false };
  if (roll < 0.85) return { type: 'inventory', id: productRanks.next(), write: random() * WRITE_EVERY < 1 };
  return { type: 'customer', id: customerRanks.next(), write: false };
}

async function runPhase(
  cache: OptimizedCacheManager | undefined,
): Promise<{ requests: number; latency: LatencyHistogram }> {
  const latency = new LatencyHistogram();
  const deadline = performance.now() + PHASE_MS;
  let requests = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      const { type, id, write } = nextRequest();
      const started = performance.now();
      if (cache === undefined) await origin(type, id);
      else if (write) await cache.invalidateTags([`product:${id}`]);
      else {
        await cache.getOrSet(`${type}:${id}`, () => origin(type, id), {
          dataType: type,
          tags: [`product:${id}`],
          graceMs: 60_000,
        });
      }
      latency.record(performance.now() - started);
      requests++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { requests, latency };
}

function ms(value: number): string {
  return `${value.toFixed(value < 1 ? 3 : 1)} ms`;
}

async function main(): Promise<void> {
  console.log(
    `Keel cache demo: ${CLIENTS} clients, ${PHASE_MS / 1000}s per phase, origin answers in ${ORIGIN_MIN_MS}-${ORIGIN_MIN_MS + ORIGIN_SPREAD_MS} ms\n`,
  );
  const cache = new OptimizedCacheManager({ namespace: 'demo', memory: { maxBytes: 16 * 1024 * 1024 } });
  const without = await runPhase(undefined);
  const withCache = await runPhase(cache);
  const a = without.latency.snapshot();
  const b = withCache.latency.snapshot();
  console.table({
    'origin only': {
      requests: without.requests,
      'req/s': Math.round(without.requests / (PHASE_MS / 1000)),
      p50: ms(a.p50),
      p95: ms(a.p95),
      p99: ms(a.p99),
    },
    'through Keel': {
      requests: withCache.requests,
      'req/s': Math.round(withCache.requests / (PHASE_MS / 1000)),
      p50: ms(b.p50),
      p95: ms(b.p95),
      p99: ms(b.p99),
    },
  });
  const stats = cache.getPerformanceStats();
  const memory = stats.memory;
  console.log(
    `hit rate ${(stats.hitRate.overall * 100).toFixed(1)}%  (L1 ${(stats.hitRate.l1 * 100).toFixed(1)}%)`,
  );
  console.log(
    `origin calls ${stats.factory.calls}, single-flight joins ${stats.factory.singleFlightJoins}, stale served ${stats.requests.staleServed}`,
  );
  console.log(
    `memory ${(memory.bytes / 1048576).toFixed(1)} MiB of ${(memory.budgetBytes / 1048576).toFixed(1)} MiB budget, ${memory.entries} entries, ${stats.eviction.evictions} evictions, window ${(stats.eviction.windowFraction * 100).toFixed(1)}%`,
  );
  console.log(
    `L1 hit latency p50 ${ms(stats.latency.l1Hit.p50)}, p99 ${ms(stats.latency.l1Hit.p99)}; invalidated ${stats.writes.invalidatedKeys} keys`,
  );
  console.log('most requested keys (sampled):');
  console.table(
    stats.topKeys.slice(0, 5).map((top) => ({
      key: top.key,
      requests: top.requests,
      'hit rate': `${(top.hitRate * 100).toFixed(0)}%`,
    })),
  );
  await cache.close();
}

await main();
