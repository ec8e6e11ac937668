/**
 * What one contender's process measures, round by round (bench/l2/worker.ts drives it).
 *
 * A. `GetScenario`: the contender's keys are written once by one instance (and read once, as a
 *    warm-up); a round reads them
 *    through fresh instances (empty memory layers), each key once per instance, until SLICE_MS of
 *    measured reading, and returns the rate. Opening and closing instances is not timed.
 * B. `ZipfScenario`: one instance, warmed up on the first ZIPF_WARMUP draws; round r serves the
 *    r-th window of ZIPF_OPS draws, the same window for every contender, and returns the rate and
 *    the origin calls (the unmeasured settling rounds −1, −2, … re-serve the warm-up's last windows).
 * Every read is checked (the right product for its key); Keel's statistics ride along, for the
 * report and for the check that no A read was answered from L1.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CONCURRENCY,
  GET_KEYS,
  GET_MEMORY,
  GET_ORDERS,
  keyOf,
  ORIGIN_MS,
  REDIS_URL,
  SEED,
  SLICE_MS,
  TTL_MS,
  ZIPF_DRAWS,
  ZIPF_KEYS,
  ZIPF_MEMORY,
  ZIPF_OPS,
  ZIPF_S,
  ZIPF_WARMUP,
} from './config.js';
import { type Contender, type ContenderName, contenderNamed, type Instance } from './contenders.js';
import { product, seededRandom, shuffledIds, zipfDraws } from './workload.js';

/** Keel's request counters over a round (undefined for the other contenders). */
export interface KeelCounts {
  l1Hits: number;
  l2Hits: number;
  misses: number;
  readBatches: number;
  keysFetched: number;
}

export interface RoundResult {
  opsPerSec: number;
  /** B: origin calls in the round. */
  originCalls?: number;
  keel?: KeelCounts;
}

export interface Scenario {
  prepare(): Promise<void>;
  round(index: number): Promise<RoundResult>;
  finish(): Promise<void>;
}

/** Runs `work(0..count−1)` on CONCURRENCY workers sharing one cursor. */
async function concurrently(count: number, work: (n: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let n = next++; n < count; n = next++) await work(n);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function checkProduct(contender: string, value: { id: number } | undefined, id: number): void {
  if (value?.id !== id) {
    throw new Error(
      `${contender} returned ${value === undefined ? 'nothing' : `product ${value.id}`} for ${keyOf(id)}`,
    );
  }
}

function keelCounts(instance: Instance): KeelCounts | undefined {
  const stats = instance.keelStats?.();
  if (stats === undefined) return undefined;
  const readBatches = stats.l2?.readBatches ?? 0;
  return {
    l1Hits: stats.requests.l1Hits,
    l2Hits: stats.requests.l2Hits,
    misses: stats.requests.misses,
    readBatches,
    keysFetched: readBatches * (stats.l2?.keysPerBatch ?? 0),
  };
}

function countsBetween(
  before: KeelCounts | undefined,
  after: KeelCounts | undefined,
): KeelCounts | undefined {
  if (before === undefined || after === undefined) return undefined;
  return {
    l1Hits: after.l1Hits - before.l1Hits,
    l2Hits: after.l2Hits - before.l2Hits,
    misses: after.misses - before.misses,
    readBatches: after.readBatches - before.readBatches,
    keysFetched: after.keysFetched - before.keysFetched,
  };
}

function addCounts(total: KeelCounts | undefined, more: KeelCounts | undefined): KeelCounts | undefined {
  if (more === undefined) return total;
  if (total === undefined) return more;
  return {
    l1Hits: total.l1Hits + more.l1Hits,
    l2Hits: total.l2Hits + more.l2Hits,
    misses: total.misses + more.misses,
    readBatches: total.readBatches + more.readBatches,
    keysFetched: total.keysFetched + more.keysFetched,
  };
}

const getKeys = Array.from({ length: GET_KEYS }, (_, id) => keyOf(id));

export class GetScenario implements Scenario {
  private readonly contender: Contender;
  private readonly orders: Uint32Array[];
  private passes = 0;

  constructor(name: ContenderName) {
    this.contender = contenderNamed(name, 'get', REDIS_URL.href, GET_MEMORY);
    const random = seededRandom(SEED);
    this.orders = Array.from({ length: GET_ORDERS }, () => shuffledIds(GET_KEYS, random));
  }

  /** Writes the keys, then reads them through one fresh instance, unmeasured (the warm-up). */
  async prepare(): Promise<void> {
    const writer = await this.contender.open();
    await concurrently(GET_KEYS, (id) => writer.set(getKeys[id]!, product(id), TTL_MS));
    await writer.close();
    await this.round();
  }

  /** Passes of fresh instances until SLICE_MS of measured reading (at least one pass). */
  async round(): Promise<RoundResult> {
    let reads = 0;
    let ms = 0;
    let keel: KeelCounts | undefined;
    do {
      const instance = await this.contender.open();
      const order = this.orders[this.passes++ % this.orders.length]!;
      const before = keelCounts(instance);
      const started = performance.now();
      await concurrently(order.length, async (n) => {
        const id = order[n]!;
        checkProduct(this.contender.name, await instance.get(getKeys[id]!), id);
      });
      ms += performance.now() - started;
      reads += order.length;
      keel = addCounts(keel, countsBetween(before, keelCounts(instance)));
      await instance.close();
    } while (ms < SLICE_MS);
    if (keel !== undefined && keel.l1Hits !== 0) {
      throw new Error(`Keel answered ${keel.l1Hits} L2-benchmark reads from L1`);
    }
    return { opsPerSec: (reads / ms) * 1000, keel };
  }

  async finish(): Promise<void> {}
}

const zipfKeys = Array.from({ length: ZIPF_KEYS }, (_, id) => keyOf(id));

export class ZipfScenario implements Scenario {
  private readonly contender: Contender;
  private readonly draws = zipfDraws(ZIPF_KEYS, ZIPF_S, ZIPF_DRAWS, seededRandom(SEED + 1));
  private instance: Instance | undefined;

  constructor(name: ContenderName) {
    this.contender = contenderNamed(name, 'zipf', REDIS_URL.href, ZIPF_MEMORY);
  }

  async prepare(): Promise<void> {
    this.instance = await this.contender.open();
    await this.serve(0, ZIPF_WARMUP);
  }

  round(index: number): Promise<RoundResult> {
    return this.serve(ZIPF_WARMUP + index * ZIPF_OPS, ZIPF_OPS);
  }

  async finish(): Promise<void> {
    await this.instance?.close();
  }

  /** Serves draws[start, start + ops) through getOrSet with a 2 ms origin. */
  private async serve(start: number, ops: number): Promise<RoundResult> {
    const instance = this.instance as Instance;
    const getOrSet = instance.getOrSet;
    if (getOrSet === undefined) throw new Error(`${this.contender.name} has no getOrSet`);
    const draws = this.draws;
    const before = keelCounts(instance);
    let originCalls = 0;
    const started = performance.now();
    await concurrently(ops, async (n) => {
      const id = draws[(start + n) % draws.length]!;
      const value = await getOrSet(
        zipfKeys[id]!,
        async () => {
          originCalls++;
          await sleep(ORIGIN_MS);
          return product(id);
        },
        TTL_MS,
      );
      checkProduct(this.contender.name, value, id);
    });
    const elapsed = performance.now() - started;
    return {
      opsPerSec: (ops / elapsed) * 1000,
      originCalls,
      keel: countsBetween(before, keelCounts(instance)),
    };
  }
}
