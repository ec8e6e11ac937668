/**
 * `keel cache verify`: a cache deployment's "verify the Redis connection" and "test the basic
 * operations" steps, as one list of checks against a real Redis — each a pass or a fail with what
 * it saw, so an operator sees at once what is wrong.
 *
 * Checks: Redis answers (and how fast: p50 / p99 of PING over PING_SAMPLES), then, through two
 * cache managers sharing a throwaway namespace (as two instances of a service would): set and get
 * back; read by the other instance from Redis; delete reaching the other instance; tag
 * invalidation; pattern invalidation. The namespace is removed at the end, whatever happened.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { OptimizedCacheManager, redactUrl } from '../cache/index.js';

const PING_SAMPLES = 20;
/** How long a change may take to reach the other instance (the bus's p99 target is 50 ms). */
const PROPAGATION_WAIT_MS = 1_000;

export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
  ms: number;
}

type Check = () => Promise<string>;

export async function verifyCache(redisUrl: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const run = async (check: string, body: Check): Promise<boolean> => {
    const started = performance.now();
    try {
      const detail = await body();
      results.push({ check, ok: true, detail, ms: performance.now() - started });
      return true;
    } catch (error) {
      results.push({
        check,
        ok: false,
        detail: error instanceof Error ? error.message : String(error),
        ms: performance.now() - started,
      });
      return false;
    }
  };

  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3_000,
    enableOfflineQueue: false,
  });
  // ioredis rejects with "Connection is closed."; the socket's own error says why.
  let connectionError: string | undefined;
  probe.on('error', (error: Error) => {
    connectionError ??= error.message;
  });
  const reachable = await run('Redis answers PING', async () => {
    await probe.connect().catch((error: Error) => {
      throw new Error(
        `${connectionError ?? error.message}: is Redis running at ${redactUrl(redisUrl)}? (REDIS_URL or --redis-url)`,
      );
    });
    const times: number[] = [];
    for (let i = 0; i < PING_SAMPLES; i++) {
      const started = performance.now();
      await probe.ping();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const info = await probe.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    return `Redis ${version}; PING p50 ${times[times.length >> 1]?.toFixed(2)} ms, p99 ${times[Math.ceil(times.length * 0.99) - 1]?.toFixed(2)} ms`;
  });
  probe.disconnect();
  if (!reachable) return results;

  const namespace = `keel-verify-${randomUUID().slice(0, 8)}`;
  const open = () =>
    OptimizedCacheManager.create({
      namespace,
      memory: { maxBytes: 8 * 1024 * 1024 },
      redis: { url: redisUrl, required: true },
      load: false,
    });
  const first = await open();
  const second = await open();
  const value = { id: 1, title: 'verification', at: new Date().toISOString() };
  try {
    await run('set, then get from the same instance', async () => {
      await first.set('product:1', value, { tags: ['verify'] });
      expectEqual(await first.get('product:1'), value, 'get');
      return 'value read back unchanged';
    });
    await run('another instance reads it from Redis', async () => {
      expectEqual(await second.get('product:1'), value, 'the second instance');
      return 'L2 hit on the second instance';
    });
    await run('delete reaches both tiers and the other instance', async () => {
      await first.delete('product:1');
      await waitFor(
        async () => (await second.get('product:1')) === undefined,
        'the second instance still had the value',
      );
      return 'gone on both instances';
    });
    await run('tag invalidation', async () => {
      await first.set('product:2', value, { tags: ['collection:7'] });
      await second.get('product:2');
      const removed = await second.invalidateTags(['collection:7']);
      await waitFor(async () => (await first.get('product:2')) === undefined, 'the tagged value survived');
      return `${removed} value removed by tag`;
    });
    await run('pattern invalidation', async () => {
      await first.set('inventory:1', 1);
      await first.set('inventory:2', 2);
      await first.set('customer:1', 3);
      const removed = await first.invalidate('inventory:*');
      expectEqual(removed, 2, 'values removed by the pattern');
      expectEqual(await second.get('customer:1'), 3, 'a value outside the pattern');
      return `${removed} values removed, others kept`;
    });
  } finally {
    await first.clear().catch(() => {});
    await Promise.all([first.close(), second.close()]);
  }
  return results;
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function waitFor(condition: () => Promise<boolean>, failure: string): Promise<void> {
  const deadline = Date.now() + PROPAGATION_WAIT_MS;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${failure} after ${PROPAGATION_WAIT_MS} ms`);
}
