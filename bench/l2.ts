/**
 * `npm run bench:l2`: Keel's Redis tier (L2) against its peers, measured in one run.
 *
 * Contenders (bench/l2/contenders.ts): Keel (memory L1 + Redis), BentoCache (memory L1 + Redis
 * L2), cache-manager 7 (CacheableMemory + @keyv/redis), and, for reads, raw ioredis with
 * auto-pipelining doing `getBuffer` + msgpackr `unpack`: the floor of one GET and one decode per
 * key. Redis is REDIS_URL (default redis://127.0.0.1:6379), loopback only; every contender
 * writes under its own prefix, and only those keys are ever deleted (SCAN + UNLINK, no FLUSHDB).
 *
 * A. L2 get. Each contender writes the same 20,000 products (470–640 bytes as each stores them)
 *    with one instance; then 64 async workers read them through a FRESH instance. How reads are
 *    kept off L1, for all contenders alike: a pass is one fresh instance (empty memory layer)
 *    whose 64 workers share a cursor over a shuffled order of the 20,000 keys, so each key is read
 *    exactly once per instance and no read can be answered by that instance's memory layer; the
 *    instance is then closed. A slice runs passes until BENCH_SLICE_MS of measured time; opening,
 *    connecting and closing instances is not timed. Every read must return the right product
 *    (checked by id); for Keel, its statistics must show zero L1 hits. Promotion into L1 on an L2 hit (Keel,
 *    BentoCache) is part of the measured read path, as it is in production; cache-manager's `get`
 *    does not promote. Targets: Keel ≥ 2.5× BentoCache and ≥ 1.0× raw ioredis GET+unpack.
 *
 * B. getOrSet under Zipf, in the steady state of a running service. Key ids drawn from Zipf(0.99)
 *    over 100,000 keys (2,000,000 draws from a seeded PRNG, precomputed); origin = 2 ms sleep,
 *    then a product; 64 workers share a cursor over the draws; memory layers hold 10,000 entries;
 *    TTL 10 min. Each contender opens ONE instance (its own Redis keys removed first) and warms it
 *    up on the first BENCH_ZIPF_WARMUP draws (not timed): its memory layer and Redis then hold the
 *    workload's popular keys, as in a service that has been running for a while. Each round then
 *    serves the next BENCH_ZIPF_OPS draws — the same window for every contender — so every
 *    contender sees exactly the same requests, and the origin is called for the same keys: those
 *    drawn for the first time (the "floor", printed). What is measured is each library's cost per
 *    request: L1 hits, L2 hits, and the few origin calls. Target: Keel ≥ 3× BentoCache;
 *    cache-manager (`wrap`) reported.
 *
 * Alternation follows bench/lib/harness.ts: one warm-up per contender, then BENCH_ROUNDS rounds
 * in a rotated order. Each round gives every contender one rate; a ratio is the median over
 * rounds of Keel's rate ÷ the peer's in the same round (paired, so the drift of a shared machine
 * cancels), and the tables also show each rate's median and range over rounds. Ratios are the
 * result; absolute rates are context for this machine (Redis shares its CPUs with the benchmark).
 * Knobs: BENCH_ROUNDS (default 15), BENCH_SLICE_MS (A, default 400), BENCH_ZIPF_OPS (B, default
 * 40,000). Many short rounds rather than a few long ones: a major GC or a burst of the machine's
 * other work then spoils one pair of a round, which the median over rounds sets aside. Exit code 1
 * when a target fails.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  bentocache,
  type Contender,
  cacheManager,
  type Instance,
  keel,
  type MemoryLayer,
  rawIoredis,
} from './l2/contenders.js';
import { loopbackRedisUrl, redactedUrl, redisVersion, unlinkMatching } from './l2/redis-admin.js';
import { newIn, type Product, product, seededRandom, shuffledIds, zipfDraws } from './l2/workload.js';
import { formatRate, median, target } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 400);
const ZIPF_OPS = Number(process.env.BENCH_ZIPF_OPS ?? 40_000);
/** Which scenarios run: `get`, `zipf`, or both (the default), comma-separated. */
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'get,zipf').split(',').map((name) => name.trim()));
const REDIS_URL = loopbackRedisUrl(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

/** Async workers awaiting one operation at a time, in both scenarios. */
const CONCURRENCY = 64;
const TTL_MS = 10 * 60_000;
/** Seed of every random sequence, so runs are comparable. */
const SEED = 0x6b65656c;

/** A: keys written, and read once per pass. */
const GET_KEYS = 20_000;
/** A: distinct shuffled orders of the keys; passes cycle through them. */
const GET_ORDERS = 8;
/** A: memory layers large enough to hold every key, as a reading service would configure them. */
const GET_MEMORY: MemoryLayer = { maxEntries: 4 * GET_KEYS, maxBytes: 256 * 1024 * 1024 };

/** B: the key space, the skew, and the precomputed draws. */
const ZIPF_KEYS = 100_000;
const ZIPF_S = 0.99;
const ZIPF_DRAWS = 2_000_000;
/** B: the origin's latency. */
const ORIGIN_MS = 2;
/** B: every memory layer holds this many entries (10 % of the key space). */
const ZIPF_MEMORY: MemoryLayer = { maxEntries: 10_000, maxBytes: 256 * 1024 * 1024 };
/** B: draws served before the measured rounds, to reach the steady state. */
const ZIPF_WARMUP = Number(process.env.BENCH_ZIPF_WARMUP ?? 400_000);

/** Targets (ratios, Keel ÷ peer). */
const TARGET_GET_VS_BENTO = 2.5;
const TARGET_GET_VS_RAW = 1.0;
const TARGET_ZIPF_VS_BENTO = 3;

const keyOf = (id: number) => `product:${id}`;
const getKeys = Array.from({ length: GET_KEYS }, (_, id) => keyOf(id));
const zipfKeys = Array.from({ length: ZIPF_KEYS }, (_, id) => keyOf(id));
const admin = new Redis(REDIS_URL.href, { enableAutoPipelining: true });

/** Runs `work(0..count−1)` on CONCURRENCY workers sharing one cursor. */
async function concurrently(count: number, work: (n: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let n = next++; n < count; n = next++) await work(n);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function checkProduct(contender: string, value: Product | undefined, id: number): void {
  if (value?.id !== id) {
    throw new Error(
      `${contender} returned ${value === undefined ? 'nothing' : `product ${value.id}`} for ${keyOf(id)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// A. L2 get
// ---------------------------------------------------------------------------------------------

interface KeelReadCounters {
  l1Hits: number;
  l2Hits: number;
  batches: number;
  keysFetched: number;
}

function keelReadCounters(instance: Instance): KeelReadCounters | undefined {
  const stats = instance.keelStats?.();
  if (stats === undefined) return undefined;
  const batches = stats.l2?.readBatches ?? 0;
  return {
    l1Hits: stats.requests.l1Hits,
    l2Hits: stats.requests.l2Hits,
    batches,
    keysFetched: batches * (stats.l2?.keysPerBatch ?? 0),
  };
}

interface Slice {
  reads: number;
  ms: number;
}

const keelReads: KeelReadCounters = { l1Hits: 0, l2Hits: 0, batches: 0, keysFetched: 0 };
let passesRun = 0;

/** Passes of fresh instances until `sliceMs` of measured reading; at least one pass. */
async function readSlice(contender: Contender, sliceMs: number, orders: Uint32Array[]): Promise<Slice> {
  const slice: Slice = { reads: 0, ms: 0 };
  do {
    const instance = await contender.open();
    const order = orders[passesRun++ % orders.length]!;
    const before = keelReadCounters(instance);
    const started = performance.now();
    await concurrently(order.length, async (n) => {
      const id = order[n]!;
      checkProduct(contender.name, await instance.get(getKeys[id]!), id);
    });
    slice.ms += performance.now() - started;
    slice.reads += order.length;
    const after = keelReadCounters(instance);
    if (before !== undefined && after !== undefined) {
      keelReads.l1Hits += after.l1Hits - before.l1Hits;
      keelReads.l2Hits += after.l2Hits - before.l2Hits;
      keelReads.batches += after.batches - before.batches;
      keelReads.keysFetched += after.keysFetched - before.keysFetched;
    }
    await instance.close();
  } while (slice.ms < sliceMs);
  return slice;
}

async function benchL2Get(): Promise<Samples> {
  const url = REDIS_URL.href;
  const contenders = [
    keel('get', url, GET_MEMORY),
    bentocache('get', url, GET_MEMORY),
    cacheManager('get', url, GET_MEMORY),
    rawIoredis('get', url),
  ];
  const random = seededRandom(SEED);
  const orders = Array.from({ length: GET_ORDERS }, () => shuffledIds(GET_KEYS, random));
  for (const contender of contenders) {
    await unlinkMatching(admin, contender.pattern);
    const writer = await contender.open();
    await concurrently(GET_KEYS, (id) => writer.set(getKeys[id]!, product(id), TTL_MS));
    await writer.close();
  }
  for (const contender of contenders) await readSlice(contender, 0, orders);
  keelReads.l1Hits = keelReads.l2Hits = keelReads.batches = keelReads.keysFetched = 0;
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(round + k) % contenders.length]!;
      const slice = await readSlice(contender, SLICE_MS, orders);
      samples.get(contender.name)!.push((slice.reads / slice.ms) * 1000);
    }
  }
  if (keelReads.l1Hits !== 0) throw new Error(`Keel answered ${keelReads.l1Hits} L2-benchmark reads from L1`);
  return samples;
}

// ---------------------------------------------------------------------------------------------
// B. getOrSet under Zipf
// ---------------------------------------------------------------------------------------------

interface ZipfRun {
  opsPerSec: number;
  originCalls: number;
  /** Mean wall time of one origin call (the 2 ms sleep as the loaded event loop delivers it). */
  originMs: number;
  keel?: { l1Hits: number; l2Hits: number; misses: number; keysPerBatch: number };
}

async function zipfRun(instance: Instance, draws: Uint32Array, start: number, ops: number): Promise<ZipfRun> {
  const getOrSet = instance.getOrSet;
  if (getOrSet === undefined) throw new Error('this contender has no getOrSet');
  const before = instance.keelStats?.();
  let originCalls = 0;
  let originMs = 0;
  const started = performance.now();
  await concurrently(ops, async (n) => {
    const id = draws[(start + n) % draws.length]!;
    const value = await getOrSet(
      zipfKeys[id]!,
      async () => {
        originCalls++;
        const called = performance.now();
        await sleep(ORIGIN_MS);
        originMs += performance.now() - called;
        return product(id);
      },
      TTL_MS,
    );
    if (value?.id !== id) throw new Error(`getOrSet returned ${value?.id} for ${zipfKeys[id]}`);
  });
  const elapsed = performance.now() - started;
  const after = instance.keelStats?.();
  return {
    opsPerSec: (ops / elapsed) * 1000,
    originCalls,
    originMs: originCalls === 0 ? 0 : originMs / originCalls,
    keel:
      before === undefined || after === undefined
        ? undefined
        : {
            l1Hits: after.requests.l1Hits - before.requests.l1Hits,
            l2Hits: after.requests.l2Hits - before.requests.l2Hits,
            misses: after.requests.misses - before.requests.misses,
            keysPerBatch: after.l2?.keysPerBatch ?? 0,
          },
  };
}

interface ZipfReport {
  rates: Samples;
  rows: Record<string, Record<string, string>>;
  notes: string[];
}

async function benchZipf(): Promise<ZipfReport> {
  const url = REDIS_URL.href;
  const contenders = [
    keel('zipf', url, ZIPF_MEMORY),
    bentocache('zipf', url, ZIPF_MEMORY),
    cacheManager('zipf', url, ZIPF_MEMORY),
  ];
  const draws = zipfDraws(ZIPF_KEYS, ZIPF_S, ZIPF_DRAWS, seededRandom(SEED + 1));
  const instances = new Map<string, Instance>();
  for (const contender of contenders) {
    await unlinkMatching(admin, contender.pattern);
    const instance = await contender.open();
    instances.set(contender.name, instance);
    await zipfRun(instance, draws, 0, ZIPF_WARMUP);
  }
  const runs = new Map<string, ZipfRun[]>(contenders.map((c) => [c.name, []]));
  const floors: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = ZIPF_WARMUP + round * ZIPF_OPS;
    floors.push(newIn(draws, 0, start, ZIPF_OPS, ZIPF_KEYS));
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(round + k) % contenders.length]!;
      runs.get(contender.name)!.push(await zipfRun(instances.get(contender.name)!, draws, start, ZIPF_OPS));
    }
  }
  for (const instance of instances.values()) await instance.close();
  const rates: Samples = new Map([...runs].map(([name, list]) => [name, list.map((run) => run.opsPerSec)]));
  const rows = rateRows(rates, 'getOrSet/s');
  for (const [name, list] of runs) {
    const origin = median(list.map((run) => run.originCalls));
    rows[name] = {
      ...rows[name],
      'origin calls / round': origin.toFixed(0),
      'origin ÷ floor': (origin / median(floors)).toFixed(3),
      'hit ratio': `${((1 - origin / ZIPF_OPS) * 100).toFixed(1)} %`,
    };
  }
  const keelRuns = runs.get('keel')!.map((run) => run.keel!);
  const total = (pick: (run: NonNullable<ZipfRun['keel']>) => number) =>
    keelRuns.reduce((sum, run) => sum + pick(run), 0);
  const requests = total((run) => run.l1Hits + run.l2Hits + run.misses);
  const notes = [
    `Keel, all rounds: L1 hits ${pct(total((run) => run.l1Hits) / requests)}, L2 hits ${pct(total((run) => run.l2Hits) / requests)}, ` +
      `misses ${pct(total((run) => run.misses) / requests)}; keys per MGET: ${keelRuns.map((run) => run.keysPerBatch.toFixed(1)).join(', ')}`,
    `Origin-call floor (keys drawn for the first time in each round's window): ${floors.join(', ')}`,
  ];
  return { rates, rows, notes };
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/** Rates per contender, one per round, in round order. */
type Samples = Map<string, number[]>;

/**
 * Keel ÷ `peer`: the median over rounds of the ratio within each round. Pairing the two rates of
 * a round cancels most of the drift of a shared machine, which a ratio of medians would keep.
 */
function pairedRatio(samples: Samples, peer: string): number {
  const mine = samples.get('keel')!;
  const theirs = samples.get(peer)!;
  return median(mine.map((rate, round) => rate / theirs[round]!));
}

/** Table rows: median rate, the range over rounds, and Keel's paired ratio to each contender. */
function rateRows(samples: Samples, label: string): Record<string, Record<string, string>> {
  const rows: Record<string, Record<string, string>> = {};
  for (const [name, values] of samples) {
    rows[name] = {
      [label]: formatRate(median(values)),
      'rounds min–max': `${formatRate(Math.min(...values))} – ${formatRate(Math.max(...values))}`,
      'keel ÷ this': pairedRatio(samples, name).toFixed(2),
    };
  }
  return rows;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

// ---------------------------------------------------------------------------------------------

async function cleanUp(): Promise<void> {
  for (const scenario of ['get', 'zipf']) {
    const url = REDIS_URL.href;
    for (const contender of [
      keel(scenario, url, GET_MEMORY),
      bentocache(scenario, url, GET_MEMORY),
      cacheManager(scenario, url, GET_MEMORY),
      rawIoredis(scenario, url),
    ]) {
      await unlinkMatching(admin, contender.pattern);
    }
  }
}

try {
  const cpu = cpus();
  console.log(
    `Keel L2 benchmark — Node ${process.version}, Redis ${await redisVersion(admin)} at ${redactedUrl(REDIS_URL)}, ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
  );
  console.log(
    `${ROUNDS} alternating rounds; concurrency ${CONCURRENCY}; A: slices of ${SLICE_MS} ms; B: ${ZIPF_OPS.toLocaleString('en')} getOrSet per contender per round\n`,
  );

  const targets: [label: string, ratio: number, minimum: number][] = [];
  if (SCENARIOS.has('get')) {
    const gets = await benchL2Get();
    console.log(
      `A. L2 get: ${GET_KEYS.toLocaleString('en')} products, each read once per fresh instance (no L1 hits), ${CONCURRENCY} workers`,
    );
    console.table(rateRows(gets, 'L2 gets/s'));
    console.log(
      `   Keel, measured passes: ${keelReads.l2Hits} L2 hits, ${keelReads.l1Hits} L1 hits, ${keelReads.batches} MGETs, ` +
        `${(keelReads.keysFetched / keelReads.batches).toFixed(1)} keys per MGET`,
    );
    targets.push(
      ['L2 get vs BentoCache', pairedRatio(gets, 'bentocache'), TARGET_GET_VS_BENTO],
      ['L2 get vs raw ioredis GET+unpack', pairedRatio(gets, 'ioredis GET+unpack'), TARGET_GET_VS_RAW],
    );
  }
  if (SCENARIOS.has('zipf')) {
    console.log(
      `\nB. getOrSet, Zipf(${ZIPF_S}) over ${ZIPF_KEYS.toLocaleString('en')} keys, ${ORIGIN_MS} ms origin, memory layers of ${ZIPF_MEMORY.maxEntries.toLocaleString('en')} entries, steady state after ${ZIPF_WARMUP.toLocaleString('en')} draws`,
    );
    const zipf = await benchZipf();
    console.table(zipf.rows);
    for (const note of zipf.notes) console.log(`   ${note}`);
    targets.push([
      'getOrSet Zipf vs BentoCache',
      pairedRatio(zipf.rates, 'bentocache'),
      TARGET_ZIPF_VS_BENTO,
    ]);
  }
  console.log('\nTargets');
  const results = targets.map(([label, ratio, minimum]) => target(label, ratio, minimum));
  process.exitCode = results.every(Boolean) ? 0 : 1;
} finally {
  await cleanUp();
  await admin.quit();
}
