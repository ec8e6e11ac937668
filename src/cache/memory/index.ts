/** SmartCache, Keel's in-process W-TinyLFU cache, its option and statistics types, and its key hash. */
export { hashString } from './hash.js';
export {
  type EvictionReason,
  SmartCache,
  type SmartCacheOptions,
  type SmartCacheSetOptions,
  type SmartCacheStats,
} from './smart-cache.js';
