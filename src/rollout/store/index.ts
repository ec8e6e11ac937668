/**
 * The rollout stores and the choice among them.
 *
 * `openRolloutStore` picks where the rollout state lives: Redis when a Redis URL is set (the
 * instances already share it for the cache), else PostgreSQL when a database URL is set, else a
 * file in the data dir for a single instance. An empty string
 * counts as unset, as it does for the environment variables these options come from. The memory
 * store is for tests and library users, who construct it themselves.
 */
import { ConfigError } from '../../errors.js';
import type { RolloutStore } from '../state.js';
import { openFileRolloutStore } from './file-store.js';
import { openPostgresRolloutStore } from './postgres-store.js';
import { openRedisRolloutStore } from './redis-store.js';

export { AUDIT_CAP, EMERGENCY_STOP_ACTION, EMERGENCY_STOP_CLEARED_ACTION } from './contract.js';
export { type FileRolloutStoreOptions, openFileRolloutStore, stateFilePath } from './file-store.js';
export { InProcessBackend, MemoryRolloutStore } from './memory-store.js';
export {
  openPostgresRolloutStore,
  type PostgresRolloutStore,
  type PostgresRolloutStoreOptions,
} from './postgres-store.js';
export {
  openRedisRolloutStore,
  type RedisRolloutStore,
  type RedisRolloutStoreOptions,
} from './redis-store.js';
export { REJOIN_EVERY_MS, RejoiningRolloutStore } from './rejoining-store.js';

export interface RolloutStoreOptions {
  /** REDIS_URL: when set, the state lives in this Redis. */
  redisUrl?: string;
  /** DATABASE_URL: when set (and no Redis URL), the state lives in this PostgreSQL database. */
  databaseUrl?: string;
  /** Where the file store keeps its file when neither URL is set. */
  dataDir?: string;
  /** Separates the state of several services sharing one Redis or database. */
  namespace: string;
}

/** Opens the store that `options` name (see the note); STORE_UNAVAILABLE when its backend cannot be reached. */
export function openRolloutStore(options: RolloutStoreOptions): Promise<RolloutStore> {
  const { redisUrl, databaseUrl, dataDir, namespace } = options;
  if (isSet(redisUrl)) return openRedisRolloutStore({ url: redisUrl, namespace });
  if (isSet(databaseUrl)) return openPostgresRolloutStore({ url: databaseUrl, namespace });
  if (isSet(dataDir)) return openFileRolloutStore({ dataDir, namespace });
  return Promise.reject(
    new ConfigError(
      'dataDir',
      'the rollout state needs a place: set REDIS_URL or DATABASE_URL to share it between instances, or a data dir for a single instance',
    ),
  );
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}
