/** keel: everything Keel exports. Subsystems are also importable on their own (`keel/cache`, `keel/rollout`). */
export * from './cache/index.js';
export { ConfigError, isKeelError, KeelError, type KeelErrorCode } from './errors.js';
export * from './rollout/index.js';
