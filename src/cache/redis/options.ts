/**
 * Options of the Redis tier (`redis` in OptimizedCacheManager's options), validated by zod like the
 * rest: a bad one fails the constructor with a ConfigError naming its path (`redis.commandTimeoutMs`).
 *
 * Where Redis is: `url` (redis:// or rediss:// for TLS, credentials allowed), or `cluster.nodes`
 * for Redis Cluster, or `sentinel` for a Sentinel-managed primary, or an existing ioredis `client`
 * (Keel then never closes it). `tls`, `username` and `password` add to any of them; with Sentinel
 * they are the data servers', and `sentinel.username`, `sentinel.password` and `sentinel.tls` the
 * Sentinels' own.
 *
 * The defaults are those of a cache in front of a slow origin: a Redis that does not answer within
 * `commandTimeoutMs` is treated as a miss, five consecutive failures open the breaker for
 * `breaker.halfOpenAfterMs`, reads are retried once, and the manager starts in L1-only mode when
 * Redis is down unless `required` is set.
 */
import type { ConnectionOptions } from 'node:tls';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

/** Default command timeout: a cache read that takes longer is worth less than a miss. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 500;
/** How long `connect()` waits for a `required` Redis before failing start-up. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Consecutive failed Redis calls that open the circuit breaker. */
export const DEFAULT_BREAKER_FAILURES = 5;
/** How long the breaker stays open before one probe call is let through. */
export const DEFAULT_HALF_OPEN_AFTER_MS = 2_000;
/** Attempts of an idempotent read (1 = no retry). */
export const DEFAULT_READ_ATTEMPTS = 2;
/** First retry delay of a read; it doubles, with jitter, up to READ_RETRY_MAX_DELAY_MS. */
export const DEFAULT_READ_RETRY_DELAY_MS = 5;
/** Invalidations remembered while Redis is unreachable; beyond it, recovery flushes the namespace. */
export const DEFAULT_MAX_PENDING_INVALIDATIONS = 10_000;
/** Lifetime of a stampede lock: the longest a factory may run before another instance takes over. */
export const DEFAULT_LOCK_TTL_MS = 10_000;
/** How often a waiter re-reads Redis when no fill notification arrives. */
export const DEFAULT_LOCK_POLL_MS = 50;

const positiveInt = z.number().int().positive();
const hostPort = z.union([
  z.string().min(1),
  z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) }).strict(),
]);

export const redisOptionsSchema = z
  .object({
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'use a redis:// or rediss:// URL')
      .optional(),
    client: z.custom<Redis | Cluster>(isRedisClient, 'expected an ioredis Redis or Cluster').optional(),
    cluster: z
      .object({ nodes: z.array(hostPort).min(1) })
      .strict()
      .optional(),
    sentinel: z
      .object({
        sentinels: z.array(hostPort).min(1),
        name: z.string().min(1),
        /** The Sentinels' own credentials and TLS (`username`, `password` and `tls` are the data servers'). */
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        tls: z.union([z.boolean(), z.custom<ConnectionOptions>(isObject, 'expected TLS options')]).optional(),
      })
      .strict()
      .optional(),
    tls: z.union([z.boolean(), z.custom<ConnectionOptions>(isObject, 'expected TLS options')]).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]*$/, 'use letters, digits, "_", ".", ":" or "-" (no glob characters)')
      .default(''),
    commandTimeoutMs: positiveInt.default(DEFAULT_COMMAND_TIMEOUT_MS),
    connectTimeoutMs: positiveInt.default(DEFAULT_CONNECT_TIMEOUT_MS),
    required: z.boolean().default(false),
    breaker: z
      .object({
        failures: positiveInt.default(DEFAULT_BREAKER_FAILURES),
        halfOpenAfterMs: positiveInt.default(DEFAULT_HALF_OPEN_AFTER_MS),
      })
      .strict()
      .default({ failures: DEFAULT_BREAKER_FAILURES, halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS }),
    readAttempts: positiveInt.max(5).default(DEFAULT_READ_ATTEMPTS),
    maxPendingInvalidations: positiveInt.default(DEFAULT_MAX_PENDING_INVALIDATIONS),
    /** Cross-instance stampede protection for every getOrSet (also per call: `lock: true`). */
    lock: z.boolean().default(false),
    lockTtlMs: positiveInt.default(DEFAULT_LOCK_TTL_MS),
    lockPollMs: positiveInt.default(DEFAULT_LOCK_POLL_MS),
  })
  .strict()
  .superRefine((options, context) => {
    const sources = ['url', 'client', 'cluster', 'sentinel'].filter(
      (name) => options[name as keyof typeof options] !== undefined,
    );
    if (sources.length > 1) {
      context.addIssue({
        code: 'custom',
        path: [sources[1]],
        message: `give one of url, client, cluster or sentinel (got ${sources.join(' and ')})`,
      });
    }
  });

export type RedisOptions = z.input<typeof redisOptionsSchema>;
export type ResolvedRedisOptions = z.output<typeof redisOptionsSchema>;

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRedisClient(value: unknown): boolean {
  return isObject(value) && typeof (value as { sendCommand?: unknown }).sendCommand === 'function';
}
