/** keel/cache: the public surface of Keel's cache. */
export {
  Codec,
  type CompressionCodec,
  type CompressionOptions,
  type DecodedEnvelope,
  deserializeValue,
  type EnvelopeMeta,
  MAX_DATA_TYPE_BYTES,
  MAX_TAGS,
  serializeValue,
} from './codec.js';
export { MAX_KEY_BYTES } from './keys.js';
export { type Factory, type GetOrSetOptions, OptimizedCacheManager, type SetOptions } from './manager.js';
export type { HitRateReport, MemoryUsage, PerformanceStats } from './manager-stats.js';
export {
  type EvictionReason,
  SmartCache,
  type SmartCacheOptions,
  type SmartCacheStats,
} from './memory/index.js';
export type { CacheManagerOptions } from './options.js';
export { redactUrl } from './redis/connection.js';
export type { RedisOptions } from './redis/options.js';
export type { RedisTierStats } from './redis/redis-smart-cache.js';
export { LatencyHistogram, type LatencySnapshot, SpaceSaving, type TopKey } from './stats/index.js';
export { DEFAULT_TYPE_MULTIPLIERS, type TtlInput, type TtlOptions, TtlPolicy } from './ttl-policy.js';
