/** SmartCache, Keel's in-process W-TinyLFU cache, and its option and statistics types. */
export {
  type EvictionReason,
  SmartCache,
  type SmartCacheOptions,
  type SmartCacheSetOptions,
  type SmartCacheStats,
} from './smart-cache.js';
