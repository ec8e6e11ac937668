/**
 * Invalidations too large to do in one step: a tag on 250,000 keys, a key with 120,000 dependents.
 * They must complete (in Redis and in every instance's L1), touch nothing else (no namespace
 * flush), never stall the event loop, and, when cut short, be finished afterwards.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptimizedCacheManager } from '../../../../src/cache/index.js';
import { type RedisServerHandle, startRedisServer, waitUntil } from '../../../support/index.js';
import { Managers, uniqueNamespace } from './managers.js';

// A server of their own: these tests fill it with hundreds of thousands of keys and kill its clients.
let server: RedisServerHandle;
let url: string;
let raw: Redis;
const managers = new Managers();

beforeAll(async () => {
  server = await startRedisServer();
  url = server.url;
  raw = new Redis(url);
});

afterAll(async () => {
  await managers.closeAll();
  raw.disconnect();
  await server.stop();
});

/** Large enough for every entry of these tests in each L1. */
const L1_BYTES = 512 * 2 ** 20;
/** The event loop may pause this long at most while an invalidation runs (a slice, a GC). */
const MAX_STALL_MS = 50;
const UNRELATED = 2_000;

/**
 * An instance with room for every entry in L1, and a command timeout long enough that filling
 * Redis with thousands of concurrent writes on a busy machine does not open its breaker.
 */
function open(ns: string, redis: object = {}): Promise<OptimizedCacheManager> {
  return managers.open(ns, { url, commandTimeoutMs: 5_000, ...redis }, { memory: { maxBytes: L1_BYTES } });
}

/** Runs `each(0..count-1)`, `batch` at a time. */
async function inBatches(count: number, each: (i: number) => Promise<unknown>, batch = 2_000): Promise<void> {
  for (let start = 0; start < count; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_, j) => each(start + j)));
  }
}

/**
 * Reads each key twice in a row, so that `cache` holds it in L1: it promotes a value from Redis on
 * its second read, while its frequency sketch still remembers the first.
 */
async function readTwice(cache: OptimizedCacheManager, keyOf: (i: number) => string, count: number) {
  await inBatches(
    count,
    async (i) => {
      await cache.get(keyOf(i));
      await cache.get(keyOf(i));
    },
    256,
  );
}

async function countKeys(match: string): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', match, 'COUNT', 10_000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/**
 * Eight workers reading random keys `m:<0..count-1>` through `cache`, each twice in a row (so that
 * what Redis still has is promoted), until `until` settles; the most entries `cache` held meanwhile.
 */
async function readWhile(cache: OptimizedCacheManager, count: number, until: Promise<unknown>) {
  let settledYet = false;
  const settle = () => {
    settledYet = true;
  };
  until.then(settle, settle);
  let mostHeld = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (!settledYet) {
        const key = `m:${Math.floor(Math.random() * count)}`;
        await cache.get(key);
        await cache.get(key);
        mostHeld = Math.max(mostHeld, cache.getMemoryUsage().entries);
      }
    }),
  );
  return mostHeld;
}

/** The event loop's longest pause, in ms, while `work` runs. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number; ms: number }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  delay.disable();
  return { result, stallMs: delay.max / 1e6, ms };
}

/** Resolves once `reader` has received every bus message `writer` sent. */
async function settled(writer: OptimizedCacheManager, reader: OptimizedCacheManager): Promise<void> {
  const sent = writer.getPerformanceStats().l2?.bus.published ?? 0;
  const received = await waitUntil(
    async () => (reader.getPerformanceStats().l2?.bus.received ?? 0) >= sent,
    10_000,
  );
  expect(received).toBe(true);
}

/**
 * Writes the unrelated keys through `writer` and has `reader` hold them in L1 too (nearly all:
 * see `expectMostHeld`); returns how many `reader` holds.
 */
async function writeUnrelated(writer: OptimizedCacheManager, reader: OptimizedCacheManager): Promise<number> {
  await inBatches(UNRELATED, (i) => writer.set(`u:${i}`, i, { tags: ['other'], ttlMs: 600_000 }));
  await settled(writer, reader);
  await readTwice(reader, (i) => `u:${i}`, UNRELATED);
  expect(writer.getMemoryUsage().entries).toBe(UNRELATED);
  expect(reader.getMemoryUsage().entries).toBeGreaterThanOrEqual(0.8 * UNRELATED);
  return reader.getMemoryUsage().entries;
}

/**
 * `cache` holds nearly all of `count` keys more than `before`: it promotes a value read from Redis
 * only when its frequency sketch remembers an earlier read, and the sketch of a young cache,
 * small and aged often, forgets the odd one.
 */
function expectMostHeld(cache: OptimizedCacheManager, before: number, count: number) {
  expect(cache.getMemoryUsage().entries).toBeGreaterThanOrEqual(before + 0.99 * count);
}

/** Redis still has every unrelated key, and each cache still holds as many entries as `held`. */
async function expectUnrelatedKept(ns: string, held: [OptimizedCacheManager, number][]) {
  expect(await countKeys(`${ns}#v:u:*`)).toBe(UNRELATED);
  for (const [cache, entries] of held) {
    expect(cache.getMemoryUsage().entries).toBe(entries);
    expect(await cache.get('u:7')).toBe(7);
  }
}

/**
 * Nothing of a drain is left in Redis but what expires: tombstones (draining keys holding only
 * their marker) and the lease of an instance that was cut off.
 */
async function expectNoDrainLeft(ns: string) {
  expect(await raw.zcard(`${ns}#drains`)).toBe(0);
  for (const key of await raw.keys(`${ns}#x:*`)) {
    if (!key.startsWith(`${ns}#x:lease:`)) expect(await raw.zrange(key, 0, -1)).toEqual(['']);
    expect(await raw.pttl(key)).toBeGreaterThan(0);
  }
}

describe('Redis tier: a tag on 250,000 keys', () => {
  it('leaves Redis and every L1 (values read back meanwhile too), nothing else, without stalling', async () => {
    const members = 250_000;
    const ns = uniqueNamespace('bigtag');
    const a = await open(ns);
    const b = await open(ns);
    const held = await writeUnrelated(a, b);
    await inBatches(members, (i) => a.set(`m:${i}`, i, { tags: ['path:/search'], ttlMs: 600_000 }));
    await settled(a, b);
    await readTwice(b, (i) => `m:${i}`, members);
    expect(a.getMemoryUsage().entries).toBe(members + UNRELATED);
    expectMostHeld(b, held, members);
    expect(await countKeys(`${ns}#v:m:*`)).toBe(members);

    // c holds nothing to start with and reads members while the drain runs, promoting what it
    // finds in Redis: whatever it takes in before a chunk is deleted must leave with the chunk.
    const c = await open(ns);
    const { result, stallMs, ms } = await longestStall(async () => {
      const invalidated = a.invalidateTags(['path:/search']);
      const readers = readWhile(c, members, invalidated);
      const removed = await invalidated;
      const promoted = await readers;
      const delivered = await waitUntil(
        async () => b.getMemoryUsage().entries === held && c.getMemoryUsage().entries === 0,
        30_000,
      );
      return { removed, delivered, promoted: promoted > 0 };
    });
    console.log(
      `250,000-key tag: invalidateTags ${ms.toFixed(0)} ms with the bus's delivery, event loop stalled at most ${stallMs.toFixed(1)} ms`,
    );
    expect(result).toEqual({ removed: members, delivered: true, promoted: true });
    expect(stallMs).toBeLessThanOrEqual(MAX_STALL_MS);
    expect(await countKeys(`${ns}#v:m:*`)).toBe(0);
    expect(await raw.exists(`${ns}#t:path:/search`)).toBe(0);
    for (const i of [0, 1, 124_999, 249_999]) {
      expect(await a.get(`m:${i}`)).toBeUndefined();
      expect(await b.get(`m:${i}`)).toBeUndefined();
    }
    await expectNoDrainLeft(ns);
    await expectUnrelatedKept(ns, [
      [a, UNRELATED],
      [b, held],
    ]);
    expect(a.getPerformanceStats().l2?.errors).toBe(0);
  }, 240_000);

  it('cut short by a killed connection, is finished by the replay of its journal', async () => {
    const members = 60_000;
    const ns = uniqueNamespace('killedtag');
    const a = await open(ns, { breaker: { failures: 5, halfOpenAfterMs: 300 } });
    const b = await open(ns);
    const held = await writeUnrelated(a, b);
    await inBatches(members, (i) => a.set(`m:${i}`, i, { tags: ['t'], ttlMs: 600_000 }));
    await settled(a, b);
    await readTwice(b, (i) => `m:${i}`, members);
    expectMostHeld(b, held, members);

    const invalidated = a.invalidateTags(['t']);
    await cutShort(`${ns}#t:t`, `${ns}#v:m:*`, members, () =>
      raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'),
    );
    await invalidated;
    expect(a.getPerformanceStats().l2?.failedWrites).toBeGreaterThanOrEqual(1);
    // The replay (journaled tag) joins the drain recorded in Redis and finishes it.
    expect(await waitUntil(async () => (await countKeys(`${ns}#v:m:*`)) === 0, 20_000)).toBe(true);
    expect(await waitUntil(async () => b.getMemoryUsage().entries === held, 10_000)).toBe(true);
    expect(await waitUntil(async () => a.getMemoryUsage().entries === UNRELATED, 10_000)).toBe(true);
    // The directory's sweep can finish the drain before the journal's replay has run; it still runs.
    expect(await waitUntil(async () => (a.getPerformanceStats().l2?.replays ?? 0) >= 1, 10_000)).toBe(true);
    await expectNoDrainLeft(ns);
    await expectUnrelatedKept(ns, [
      [a, UNRELATED],
      [b, held],
    ]);
  }, 120_000);
});

/**
 * Waits until the invalidation of `index` has begun removing the values matching `valuesMatch`
 * (the index gone, then two chunks' worth of values, or 300 ms after that), then `interrupt`s it.
 */
async function cutShort(
  index: string,
  valuesMatch: string,
  values: number,
  interrupt: () => Promise<unknown>,
): Promise<void> {
  expect(await waitUntil(async () => (await raw.exists(index)) === 0, 10_000)).toBe(true);
  const moved = Date.now();
  await waitUntil(
    async () => Date.now() - moved > 300 || (await countKeys(valuesMatch)) < values - 1_000,
    5_000,
  );
  await interrupt();
  expect(await countKeys(valuesMatch)).toBeGreaterThan(0);
}

describe('Redis tier: a key with 120,000 dependents', () => {
  const direct = 120_000;
  /** Every hundredth dependent has a dependent of its own. */
  const indirect = direct / 100;

  /**
   * Two instances of a fresh namespace, unrelated keys in both, the closure of `root` written by
   * `a` and mostly held by `b` too; `held` is what `b` holds besides the closure.
   */
  async function twoInstancesWithClosure(name: string) {
    const ns = uniqueNamespace(name);
    const a = await open(ns);
    const b = await open(ns);
    const held = await writeUnrelated(a, b);
    await a.set('root', 'r', { ttlMs: 600_000 });
    await inBatches(direct, (i) => a.set(`d:${i}`, i, { dependsOn: ['root'], ttlMs: 600_000 }));
    await inBatches(indirect, (i) => a.set(`d:${i * 100}:sub`, i, { dependsOn: [`d:${i * 100}`] }));
    await settled(a, b);
    await readTwice(b, (i) => `d:${i}`, direct);
    expectMostHeld(b, held, direct);
    return { ns, a, b, held };
  }

  it('delete removes the whole closure everywhere, nothing else, without stalling the event loop', async () => {
    const { ns, a, b, held } = await twoInstancesWithClosure('bigdeps');
    expect(a.getMemoryUsage().entries).toBe(1 + direct + indirect + UNRELATED);

    const { result, stallMs, ms } = await longestStall(async () => {
      const deleted = await a.delete('root');
      const delivered = await waitUntil(async () => b.getMemoryUsage().entries === held, 30_000);
      return { deleted, delivered };
    });
    console.log(
      `120,000 dependents: delete ${ms.toFixed(0)} ms with the bus's delivery, event loop stalled at most ${stallMs.toFixed(1)} ms`,
    );
    expect(result).toEqual({ deleted: true, delivered: true });
    expect(stallMs).toBeLessThanOrEqual(MAX_STALL_MS);
    expect(await countKeys(`${ns}#v:[rd]*`)).toBe(0);
    expect(await countKeys(`${ns}#d:*`)).toBe(0);
    await expectNoDrainLeft(ns);
    await expectUnrelatedKept(ns, [
      [a, UNRELATED],
      [b, held],
    ]);
  }, 240_000);

  it('cut short by closing its instance, is taken over by another one', async () => {
    const { ns, a, b, held } = await twoInstancesWithClosure('closeddeps');

    const deleted = a.delete('root');
    await cutShort(`${ns}#d:root`, `${ns}#v:[rd]*`, 1 + direct + indirect, () => a.close());
    await deleted;
    const c = await open(ns, { breaker: { failures: 5, halfOpenAfterMs: 300 } });
    // b (running) or c (new) takes the drain over once its first instance's lease has lapsed.
    expect(await waitUntil(async () => (await countKeys(`${ns}#v:[rd]*`)) === 0, 30_000)).toBe(true);
    expect(await waitUntil(async () => b.getMemoryUsage().entries === held, 10_000)).toBe(true);
    const resumed = [b, c].map((cache) => cache.getPerformanceStats().l2?.resumedDrains ?? 0);
    expect(resumed[0] + resumed[1]).toBeGreaterThanOrEqual(1);
    expect(await countKeys(`${ns}#d:*`)).toBe(0);
    await expectNoDrainLeft(ns);
    await expectUnrelatedKept(ns, [[b, held]]);
  }, 240_000);
});
