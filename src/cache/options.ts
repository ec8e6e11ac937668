/**
 * OptimizedCacheManager options: one zod schema gives the types, the defaults and the start-up
 * errors. A bad option fails the constructor with a ConfigError naming its path
 * (`memory.maxBytes: …`). The TTL and compression sections are validated by the TtlPolicy and the
 * Codec that own them, with the same kind of error.
 */
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { CompressionOptions } from './codec.js';
import type { LoadMonitorOptions } from './load-monitor.js';
import { redisOptionsSchema } from './redis/options.js';
import type { TtlOptions } from './ttl-policy.js';

/** Share of V8's heap limit that `memory.maxBytes: 'auto'` gives the L1. */
export const DEFAULT_AUTO_HEAP_FRACTION = 0.25;
/** Without an explicit bound, one entry may take at most this share of the byte budget. */
const DEFAULT_MAX_ENTRY_SHARE = 1 / 8;
/** Values whose serialized form is at least this large are held in L1 compressed (see manager.ts). */
const DEFAULT_COMPRESS_ABOVE_BYTES = 64 * 1024;
/** Tracked most-requested keys. */
const DEFAULT_TOP_KEYS = 100;

const positiveInt = z.number().int().positive();
const durationMs = z.number().int().nonnegative();

const schema = z
  .object({
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'use 1–64 letters, digits, "_", ".", ":" or "-" (no glob characters)')
      .default('keel'),
    memory: z
      .object({
        maxBytes: z.union([positiveInt, z.literal('auto')]).default('auto'),
        autoHeapFraction: z.number().gt(0).max(0.9).default(DEFAULT_AUTO_HEAP_FRACTION),
        maxEntries: positiveInt.optional(),
        maxEntryBytes: positiveInt.optional(),
        compressAboveBytes: z.union([positiveInt, z.literal(false)]).default(DEFAULT_COMPRESS_ABOVE_BYTES),
        /** Fixes the L1's admission window share (0..1); without it the share adapts (window-tuner.ts). */
        windowFraction: z.number().min(0).max(1).optional(),
      })
      .strict()
      .default({
        maxBytes: 'auto',
        autoHeapFraction: DEFAULT_AUTO_HEAP_FRACTION,
        compressAboveBytes: DEFAULT_COMPRESS_ABOVE_BYTES,
      }),
    redis: z.union([z.literal(false), redisOptionsSchema]).default(false),
    ttl: z.custom<TtlOptions>(isPlainObject, 'expected an object').default({}),
    compression: z
      .union([z.literal(false), z.custom<CompressionOptions>(isPlainObject, 'expected an object or false')])
      .default({}),
    defaults: z
      .object({
        graceMs: durationMs.default(0),
        softTimeoutMs: positiveInt.optional(),
        hardTimeoutMs: positiveInt.optional(),
      })
      .strict()
      .default({ graceMs: 0 }),
    stats: z
      .object({ topKeys: positiveInt.max(10_000).default(DEFAULT_TOP_KEYS) })
      .strict()
      .default({ topKeys: DEFAULT_TOP_KEYS }),
    load: z
      .union([z.literal(false), z.custom<LoadMonitorOptions>(isPlainObject, 'expected an object or false')])
      .default({}),
    /** Where the cache reports what a caller would otherwise not see (Redis unreachable). */
    logger: z
      .custom<CacheLogger>(
        (value) => isPlainObject(value) && typeof (value as CacheLogger).warn === 'function',
        'expected an object with a warn(message) method',
      )
      .default(() => PROCESS_WARNINGS),
  })
  .strict();

/** What the cache logs through: pino, console and most loggers fit. */
export interface CacheLogger {
  warn(message: string): void;
}

/** By default, Node's process warnings: printed once each, and catchable with process.on('warning'). */
const PROCESS_WARNINGS: CacheLogger = {
  warn: (message) => process.emitWarning(message, { code: 'KEEL_CACHE' }),
};

export type CacheManagerOptions = z.input<typeof schema>;
export type ResolvedOptions = z.output<typeof schema> & {
  memory: { resolvedMaxBytes: number; resolvedMaxEntryBytes: number };
};

export function resolveOptions(options: CacheManagerOptions = {}): ResolvedOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = [...issue.path, ...('keys' in issue ? issue.keys : [])].join('.') || 'options';
    throw new ConfigError(path, issue.message);
  }
  const resolved = parsed.data;
  const memory = resolved.memory;
  const resolvedMaxBytes =
    memory.maxBytes === 'auto'
      ? Math.floor(getHeapStatistics().heap_size_limit * memory.autoHeapFraction)
      : memory.maxBytes;
  const resolvedMaxEntryBytes =
    memory.maxEntryBytes ?? Math.floor(resolvedMaxBytes * DEFAULT_MAX_ENTRY_SHARE);
  if (resolvedMaxEntryBytes > resolvedMaxBytes) {
    throw new ConfigError('memory.maxEntryBytes', `must not exceed memory.maxBytes (${resolvedMaxBytes}).`);
  }
  const { softTimeoutMs, hardTimeoutMs } = resolved.defaults;
  if (softTimeoutMs !== undefined && hardTimeoutMs !== undefined && softTimeoutMs >= hardTimeoutMs) {
    throw new ConfigError('defaults.softTimeoutMs', 'must be shorter than defaults.hardTimeoutMs.');
  }
  return { ...resolved, memory: { ...memory, resolvedMaxBytes, resolvedMaxEntryBytes } };
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
