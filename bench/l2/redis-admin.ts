/**
 * The benchmark's own Redis housekeeping: where Redis is (loopback only), what version it runs,
 * and removing one contender's keys.
 *
 * Only loopback targets are accepted: the benchmark writes and deletes a few hundred thousand keys
 * and must never be pointed at a shared server by accident. Keys are removed by pattern with
 * SCAN MATCH + UNLINK, never FLUSHDB or FLUSHALL, so other users of the same Redis (the
 * integration tests, say) keep their keys. A pattern must start with BENCH_KEY_ROOT and may hold
 * no glob character but a trailing `*`, so a mistake in a contender's layout cannot widen the
 * match to someone else's keys.
 */
import type { Redis } from 'ioredis';

/** Every pattern this benchmark deletes starts with it. */
const BENCH_KEY_ROOT = 'bench-l2';
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** SCAN's COUNT hint, and so the size of each UNLINK. */
const SCAN_COUNT = 1_000;
/** Letters, digits and `_ . : # -`, then one `*`: nothing else a SCAN MATCH glob would expand. */
const SAFE_PATTERN = /^[A-Za-z0-9_.:#-]+\*$/;

/** The parsed Redis URL; throws when it is not a redis:// URL on this machine. */
export function loopbackRedisUrl(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' || !LOOPBACK_HOSTS.has(parsed.hostname)) {
    throw new Error(
      `REDIS_URL must be a redis:// URL on this machine (127.0.0.1, localhost or ::1), got ${redactedUrl(parsed)}`,
    );
  }
  return parsed;
}

/** The URL with any password replaced by "***", for printing. */
export function redactedUrl(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

/** `redis_version` from INFO server. */
export async function redisVersion(admin: Redis): Promise<string> {
  const info = await admin.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/** Removes every key matching `pattern` (a benchmark prefix followed by `*`); returns how many. */
export async function unlinkMatching(admin: Redis, pattern: string): Promise<number> {
  if (!pattern.startsWith(BENCH_KEY_ROOT) || !SAFE_PATTERN.test(pattern)) {
    throw new Error(`refusing to delete keys matching "${pattern}": not a benchmark prefix followed by *`);
  }
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    if (keys.length > 0) removed += await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
