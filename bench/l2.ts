/**
 * `npm run bench:l2`: Keel's Redis tier (L2) against its peers, measured in one run.
 *
 * Contenders (bench/l2/contenders.ts): Keel (memory L1 + Redis), BentoCache (memory L1 + Redis
 * L2), cache-manager 7 (CacheableMemory + @keyv/redis), and, for reads, raw ioredis with
 * auto-pipelining doing `getBuffer` + msgpackr `unpack`: the floor of one GET and one decode per
 * key. Redis is REDIS_URL (default redis://127.0.0.1:6379), loopback only; every contender
 * writes under its own prefix, and only those keys are ever deleted (SCAN + UNLINK, no FLUSHDB).
 * Each contender runs in a process of its own, and only one runs at a time (bench/l2/processes.ts
 * tells why); what each measures is in bench/l2/measure.ts, the settings in bench/l2/config.ts.
 *
 * A. L2 get. Each contender writes the same 20,000 products (470–640 bytes as each stores them)
 *    with one instance; then 64 async workers read them through a FRESH instance. How reads are
 *    kept off L1, for all contenders alike: a pass is one fresh instance (empty memory layer)
 *    whose 64 workers share a cursor over a shuffled order of the 20,000 keys, so each key is read
 *    exactly once per instance and no read can be answered by that instance's memory layer; the
 *    instance is then closed. A round runs passes until BENCH_SLICE_MS of measured time; opening,
 *    connecting and closing instances is not timed. Every read must return the right product
 *    (checked by id); for Keel, its statistics must show zero L1 hits. Promotion into L1 on an L2
 *    hit (Keel, BentoCache) is part of the measured read path, as it is in production;
 *    cache-manager's `get` does not promote. Targets: Keel ≥ 2.5× BentoCache and ≥ 1.0× raw
 *    ioredis GET+unpack.
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
 * Alternation: after each contender's warm-up, and a settling time of unmeasured rounds for each
 * (`settle` tells why), BENCH_ROUNDS rounds in a rotated order.
 * Each round gives every contender one rate; a ratio is the median over rounds of Keel's rate ÷
 * the peer's in the same round (paired, so the drift of a shared machine cancels), and the tables
 * also show the quartiles of those per-round ratios and each rate's median and range over rounds.
 * Ratios are the result; absolute rates are context for this machine (Redis shares its CPUs with
 * the benchmark). Knobs: BENCH_ROUNDS (default 15), BENCH_SLICE_MS (A, default 400),
 * BENCH_ZIPF_OPS (B, default 40,000), BENCH_ZIPF_WARMUP, BENCH_SCENARIOS (`get`, `zipf` or both),
 * BENCH_PIN_CPU (the CPU of each contender's JavaScript thread, default 0, or `off`: l2/pinning.ts).
 * Many short rounds rather than a few long ones: a burst of the machine's other work then spoils
 * one pair of a round, which the median over rounds sets aside. Exit code 1 when a target fails.
 */
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import {
  CONCURRENCY,
  GET_KEYS,
  GET_MEMORY,
  ORIGIN_MS,
  REDIS_URL,
  ROUNDS,
  SCENARIOS,
  SEED,
  SETTLE_ROUNDS,
  SLICE_MS,
  TARGET_GET_VS_BENTO,
  TARGET_GET_VS_RAW,
  TARGET_ZIPF_VS_BENTO,
  ZIPF_DRAWS,
  ZIPF_KEYS,
  ZIPF_MEMORY,
  ZIPF_OPS,
  ZIPF_S,
  ZIPF_WARMUP,
} from './l2/config.js';
import { type ContenderName, contenderNamed } from './l2/contenders.js';
import type { KeelCounts, RoundResult } from './l2/measure.js';
import { describePlacement, placementFromEnv } from './l2/pinning.js';
import { ContenderProcess } from './l2/processes.js';
import { redactedUrl, redisVersion, unlinkMatching } from './l2/redis-admin.js';
import { newIn, seededRandom, zipfDraws } from './l2/workload.js';
import { formatRate, median, quantile, target } from './lib/harness.js';

const GET_CONTENDERS: ContenderName[] = ['keel', 'bentocache', 'cache-manager', 'ioredis GET+unpack'];
const ZIPF_CONTENDERS: ContenderName[] = ['keel', 'bentocache', 'cache-manager'];

const admin = new Redis(REDIS_URL.href, { enableAutoPipelining: true });
const placement = placementFromEnv();

/** Results per contender, one per round, in round order. */
type Rounds = Map<ContenderName, RoundResult[]>;

/** Removes every key the scenario's contenders write. */
async function cleanUp(scenario: string, names: readonly ContenderName[]): Promise<void> {
  const memory = scenario === 'get' ? GET_MEMORY : ZIPF_MEMORY;
  for (const name of names) {
    await unlinkMatching(admin, contenderNamed(name, scenario, REDIS_URL.href, memory).pattern);
  }
}

/**
 * SETTLE_ROUNDS unmeasured rounds, numbered −1, −2, …: B re-serves the last windows of its warm-up
 * (draws every contender has already served once, so the caches' contents barely move), A reads
 * passes as any round does. The contenders are prepared one after the other, so the first one then
 * idles through the others' preparation (about 20 s); on the machines this runs on, a process that
 * has idled that long runs at half speed for its next second of work (measured for Keel alone:
 * 61k and 68k getOrSet/s in the two rounds after a 20 s pause, 144k and 150k after none), which
 * would fall on the first measured rounds of whoever idled longest. Settling every contender the
 * same way removes that bias.
 */
async function settle(contender: ContenderProcess): Promise<void> {
  for (let round = 1; round <= SETTLE_ROUNDS; round++) await contender.round(-round);
}

/**
 * Starts one process per contender, prepares them one after the other (each scenario warms its
 * contender up there), runs ROUNDS rotated rounds, and stops them.
 */
async function runScenario(scenario: string, names: readonly ContenderName[]): Promise<Rounds> {
  await cleanUp(scenario, names);
  const processes: ContenderProcess[] = [];
  try {
    for (const name of names) processes.push(await ContenderProcess.start(name, scenario, placement));
    for (const { name, placement: actual } of processes) {
      if ('cpu' in placement && !('cpu' in actual)) console.log(`   ${name}: ${describePlacement(actual)}`);
    }
    for (const contender of processes) await contender.prepare();
    for (const contender of processes) await settle(contender);
    const rounds: Rounds = new Map(names.map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < processes.length; k++) {
        const contender = processes[(round + k) % processes.length]!;
        rounds.get(contender.name)!.push(await contender.round(round));
      }
    }
    for (const contender of processes) await contender.finish();
    return rounds;
  } finally {
    for (const contender of processes) contender.kill();
    await cleanUp(scenario, names);
  }
}

/** The scenario's rates: per contender, one per round. */
function ratesOf(rounds: Rounds): Map<ContenderName, number[]> {
  return new Map([...rounds].map(([name, list]) => [name, list.map((result) => result.opsPerSec)]));
}

/**
 * Keel ÷ `peer`: the median over rounds of the ratio within each round. Pairing the two rates of
 * a round cancels most of the drift of a shared machine, which a ratio of medians would keep.
 */
function pairedRatio(rates: Map<ContenderName, number[]>, peer: ContenderName): number {
  return median(roundRatios(rates, peer));
}

/** Keel's rate ÷ `peer`'s, round by round. */
function roundRatios(rates: Map<ContenderName, number[]>, peer: ContenderName): number[] {
  const theirs = rates.get(peer)!;
  return rates.get('keel')!.map((rate, round) => rate / theirs[round]!);
}

/** Table rows: median rate, the range over rounds, and Keel's paired ratio to each contender. */
function rateRows(
  rates: Map<ContenderName, number[]>,
  label: string,
): Record<string, Record<string, string>> {
  const rows: Record<string, Record<string, string>> = {};
  for (const [name, values] of rates) {
    rows[name] = {
      [label]: formatRate(median(values)),
      'rounds min–max': `${formatRate(Math.min(...values))} – ${formatRate(Math.max(...values))}`,
      'keel ÷ this': pairedRatio(rates, name).toFixed(2),
      'per round, quartiles': quartiles(roundRatios(rates, name)),
    };
  }
  return rows;
}

function quartiles(values: number[]): string {
  return `${quantile(values, 0.25).toFixed(2)} – ${quantile(values, 0.75).toFixed(2)}`;
}

/** Keel's counters summed over its rounds. */
function keelTotals(rounds: Rounds): KeelCounts {
  const total: KeelCounts = { l1Hits: 0, l2Hits: 0, misses: 0, readBatches: 0, keysFetched: 0 };
  for (const { keel } of rounds.get('keel')!) {
    if (keel === undefined) continue;
    for (const field of Object.keys(total) as (keyof KeelCounts)[]) total[field] += keel[field];
  }
  return total;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

const targets: [label: string, ratio: number, minimum: number][] = [];
try {
  const cpu = cpus();
  console.log(
    `Keel L2 benchmark — Node ${process.version}, Redis ${await redisVersion(admin)} at ${redactedUrl(REDIS_URL)}, ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
  );
  console.log(
    `${ROUNDS} alternating rounds, each contender in its own process; concurrency ${CONCURRENCY}; ` +
      `A: slices of ${SLICE_MS} ms; B: ${ZIPF_OPS.toLocaleString('en')} getOrSet per contender per round; ` +
      `${describePlacement(placement)}\n`,
  );

  if (SCENARIOS.has('get')) {
    const rounds = await runScenario('get', GET_CONTENDERS);
    const rates = ratesOf(rounds);
    console.log(
      `A. L2 get: ${GET_KEYS.toLocaleString('en')} products, each read once per fresh instance (no L1 hits), ${CONCURRENCY} workers`,
    );
    console.table(rateRows(rates, 'L2 gets/s'));
    const keel = keelTotals(rounds);
    console.log(
      `   Keel, measured rounds: ${keel.l2Hits} L2 hits, ${keel.l1Hits} L1 hits, ${keel.readBatches} MGETs, ` +
        `${(keel.keysFetched / keel.readBatches).toFixed(1)} keys per MGET`,
    );
    targets.push(
      ['L2 get vs BentoCache', pairedRatio(rates, 'bentocache'), TARGET_GET_VS_BENTO],
      ['L2 get vs raw ioredis GET+unpack', pairedRatio(rates, 'ioredis GET+unpack'), TARGET_GET_VS_RAW],
    );
  }

  if (SCENARIOS.has('zipf')) {
    console.log(
      `\nB. getOrSet, Zipf(${ZIPF_S}) over ${ZIPF_KEYS.toLocaleString('en')} keys, ${ORIGIN_MS} ms origin, ` +
        `memory layers of ${ZIPF_MEMORY.maxEntries.toLocaleString('en')} entries, steady state after ${ZIPF_WARMUP.toLocaleString('en')} draws`,
    );
    const rounds = await runScenario('zipf', ZIPF_CONTENDERS);
    const rates = ratesOf(rounds);
    const draws = zipfDraws(ZIPF_KEYS, ZIPF_S, ZIPF_DRAWS, seededRandom(SEED + 1));
    const floors = Array.from({ length: ROUNDS }, (_, round) =>
      newIn(draws, 0, ZIPF_WARMUP + round * ZIPF_OPS, ZIPF_OPS, ZIPF_KEYS),
    );
    const rows = rateRows(rates, 'getOrSet/s');
    for (const [name, list] of rounds) {
      const origin = median(list.map((result) => result.originCalls ?? 0));
      rows[name] = {
        ...rows[name],
        'origin calls / round': origin.toFixed(0),
        'origin ÷ floor': (origin / median(floors)).toFixed(3),
        'hit ratio': pct(1 - origin / ZIPF_OPS),
      };
    }
    console.table(rows);
    const keel = keelTotals(rounds);
    const requests = keel.l1Hits + keel.l2Hits + keel.misses;
    console.log(
      `   Keel, all rounds: L1 hits ${pct(keel.l1Hits / requests)}, L2 hits ${pct(keel.l2Hits / requests)}, ` +
        `misses ${pct(keel.misses / requests)}, ${(keel.keysFetched / keel.readBatches).toFixed(1)} keys per MGET`,
    );
    console.log(
      `   Origin-call floor (keys drawn for the first time in a round's window): ${Math.max(...floors)} in the first round, ${Math.min(...floors)} in the last`,
    );
    targets.push(['getOrSet Zipf vs BentoCache', pairedRatio(rates, 'bentocache'), TARGET_ZIPF_VS_BENTO]);
  }

  console.log('\nTargets');
  const results = targets.map(([label, ratio, minimum]) => target(label, ratio, minimum));
  process.exitCode = results.every(Boolean) ? 0 : 1;
} finally {
  await admin.quit();
}
