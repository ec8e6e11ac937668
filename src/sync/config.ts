/**
 * The sync's settings, under the names the property-listing deployment guide gives them
 * (SUPABASE_*, SYNC_*, DATABASE_URL, DB_POOL_*, MONITORING_INTERVAL, LOG_*) and KEEL_SYNC_* for
 * what it does not name. Read and validated once at start-up through config.ts's table reader: a
 * value that does not parse fails with a ConfigError naming the variable (or flag); secrets (the
 * keys, the Authorization header, DATABASE_URL's password) are never shown.
 *
 * The REST source: SUPABASE_REST_URL, or SUPABASE_URL + `/rest/v1`. Its headers: `apikey` from
 * SUPABASE_REST_HEADERS_APIKEY, else SUPABASE_ANON_KEY, else SUPABASE_SERVICE_ROLE_KEY; and
 * `Authorization` from SUPABASE_REST_HEADERS_AUTHORIZATION, else `Bearer` and the service-role key,
 * else the anon key. `credentialSettings` says which variables a 401 or 403 should be blamed on.
 * Neither set: the bundled sample listings origin is the source (embedded default).
 */

import {
  ADMIN_TOKEN_MIN_LENGTH,
  adminToken,
  boolean,
  bytes,
  durationWithin,
  filePath,
  loadSettings,
  port,
  positive,
  type Reader,
  SETTINGS,
  type SettingValues,
  setting,
  text,
  valueSource,
} from '../config.js';
import { ConfigError } from '../errors.js';
import { parseWholeNumber } from '../util/whole-number.js';

/** Largest batch: a page PostgREST serves at once is capped by its `db-max-rows` (often 1,000). */
const MAX_BATCH_SIZE = 10_000;
/** Largest pool: PostgreSQL's default max_connections is 100, shared with everything else. */
const MAX_POOL = 100;

/** A URL of one of `protocols` (`http:`…). */
const urlOf =
  (...protocols: string[]): Reader<URL> =>
  (value) => {
    try {
      const url = new URL(value);
      return protocols.includes(url.protocol) ? url : undefined;
    } catch {
      return undefined;
    }
  };
const httpUrl = urlOf('http:', 'https:');
const postgresUrl = urlOf('postgres:', 'postgresql:');
const wholeWithin =
  (min: number, max: number): Reader<number> =>
  (value) => {
    const n = parseWholeNumber(value);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  };
/** A PostgreSQL identifier Keel can write unquoted: lower-case letters, digits, underscores. */
const identifier: Reader<string> = (value) => (/^[a-z_][a-z0-9_]{0,62}$/.test(value) ? value : undefined);
const system: Reader<string> = (value) => (/^[a-z][a-z0-9_-]{0,31}$/.test(value) ? value : undefined);

/** Every setting of `keel sync`. */
export const SYNC_SETTINGS = {
  supabaseUrl: setting({
    env: 'SUPABASE_URL',
    flag: 'supabase-url',
    description:
      'the Supabase project; its REST API is at /rest/v1 (unless SUPABASE_REST_URL says otherwise)',
    fallback: undefined,
    expected: 'an http(s) URL',
    read: httpUrl,
  }),
  supabaseAnonKey: setting({
    env: 'SUPABASE_ANON_KEY',
    flag: 'supabase-anon-key',
    description: 'the project’s anon key (the apikey header when no other is given)',
    fallback: undefined,
    expected: 'a key',
    read: text,
    secret: true,
  }),
  supabaseServiceRoleKey: setting({
    env: 'SUPABASE_SERVICE_ROLE_KEY',
    flag: 'supabase-service-role-key',
    description: 'the project’s service-role key (the bearer token when no other is given)',
    fallback: undefined,
    expected: 'a key',
    read: text,
    secret: true,
  }),
  restUrl: setting({
    env: 'SUPABASE_REST_URL',
    flag: 'rest-url',
    description:
      'the PostgREST API the listings are read from; without it or SUPABASE_URL, the bundled sample',
    fallback: undefined,
    expected: 'an http(s) URL, like https://project.supabase.co/rest/v1',
    read: httpUrl,
  }),
  restApiKey: setting({
    env: 'SUPABASE_REST_HEADERS_APIKEY',
    flag: 'rest-apikey',
    description: 'the apikey header sent to the REST API',
    fallback: undefined,
    expected: 'a key',
    read: text,
    secret: true,
  }),
  restAuthorization: setting({
    env: 'SUPABASE_REST_HEADERS_AUTHORIZATION',
    flag: 'rest-authorization',
    description: 'the Authorization header sent to the REST API, like "Bearer <service-role key>"',
    fallback: undefined,
    expected: 'a header value',
    read: text,
    secret: true,
  }),
  batchSize: setting({
    env: 'SYNC_BATCH_SIZE',
    flag: 'batch-size',
    description: 'listings read per request and written per transaction',
    fallback: '100',
    expected: `a whole number from 1 to ${MAX_BATCH_SIZE}`,
    read: wholeWithin(1, MAX_BATCH_SIZE),
  }),
  maxPageBytes: setting({
    env: 'KEEL_SYNC_MAX_PAGE_BYTES',
    flag: 'max-page-bytes',
    description:
      'largest answer read from the REST API; a larger page fails the run instead of filling memory',
    fallback: '32mb',
    expected: 'a size with its unit, like 32mb (b, kb, mb, gb)',
    read: bytes,
  }),
  rateLimit: setting({
    env: 'SYNC_RATE_LIMIT_PER_SECOND',
    flag: 'rate-limit',
    description: 'most requests a second to the REST API (0: no limit)',
    fallback: '10',
    expected: 'a whole number (0: no limit)',
    read: wholeWithin(0, 100_000),
  }),
  breakerThreshold: setting({
    env: 'SYNC_CIRCUIT_BREAKER_THRESHOLD',
    flag: 'breaker-threshold',
    description: 'failed requests in a row after which the run pauses (the circuit opens)',
    fallback: '5',
    expected: 'a whole number from 1',
    read: positive,
  }),
  breakerTimeout: setting({
    env: 'SYNC_CIRCUIT_BREAKER_TIMEOUT',
    flag: 'breaker-timeout',
    description: 'how long an open circuit pauses the run before one request tries again',
    fallback: '60000',
    expected: 'a duration from 10ms to 1h, like 60s or 60000 (milliseconds)',
    read: durationWithin(10, 3_600_000),
  }),
  databaseUrl: setting({
    env: 'DATABASE_URL',
    flag: 'database-url',
    description:
      'the PostgreSQL the listings are written to; without it, embedded PostgreSQL in KEEL_SYNC_DATA_DIR',
    fallback: undefined,
    expected: 'a postgres:// or postgresql:// URL',
    read: postgresUrl,
  }),
  sourceDatabaseUrl: setting({
    env: 'KEEL_SYNC_SOURCE_DATABASE_URL',
    flag: 'source-database-url',
    description: 'read the listings from this PostgreSQL (the old system’s table) instead of a REST API',
    fallback: undefined,
    expected: 'a postgres:// or postgresql:// URL',
    read: postgresUrl,
  }),
  sourceTable: setting({
    env: 'KEEL_SYNC_SOURCE_TABLE',
    flag: 'source-table',
    description: 'the table of KEEL_SYNC_SOURCE_DATABASE_URL the listings are read from',
    fallback: 'property_listings',
    expected: 'lower-case letters, digits and underscores',
    read: identifier,
  }),
  flag: setting({
    env: 'KEEL_SYNC_FLAG',
    flag: 'flag',
    description:
      'a rollout flag deciding per listing which system writes it: the new one where it is on, the others where off',
    fallback: undefined,
    expected: 'a flag name, like sync.rest',
    read: (value) => (/^[A-Za-z0-9._-]{1,100}$/.test(value) ? value : undefined),
  }),
  redisUrl: setting({
    env: 'REDIS_URL',
    flag: 'redis-url',
    description: 'the rollout store KEEL_SYNC_FLAG is read from (else DATABASE_URL’s)',
    fallback: undefined,
    expected: 'a redis:// or rediss:// URL',
    read: (value) => (/^rediss?:\/\//.test(value) ? value : undefined),
    secret: true,
  }),
  poolMin: setting({
    env: 'DB_POOL_MIN',
    flag: 'db-pool-min',
    description: 'connections kept open to DATABASE_URL',
    fallback: '5',
    expected: `a whole number up to ${MAX_POOL}`,
    read: wholeWithin(0, MAX_POOL),
  }),
  poolMax: setting({
    env: 'DB_POOL_MAX',
    flag: 'db-pool-max',
    description: 'most connections open to DATABASE_URL',
    fallback: '20',
    expected: `a whole number from 1 to ${MAX_POOL}`,
    read: wholeWithin(1, MAX_POOL),
  }),
  dataDir: setting({
    env: 'KEEL_SYNC_DATA_DIR',
    flag: 'data-dir',
    description: 'folder of the embedded PostgreSQL used when DATABASE_URL is not set',
    fallback: '.keel/sync-db',
    expected: 'a folder path',
    read: filePath,
  }),
  name: setting({
    env: 'KEEL_SYNC_NAME',
    flag: 'sync-name',
    description: 'the sync’s name: its cursor, lock, runs and emergency stop are kept under it',
    fallback: 'property_listings',
    expected: 'lower-case letters, digits and underscores',
    read: identifier,
  }),
  resource: setting({
    env: 'KEEL_SYNC_RESOURCE',
    flag: 'resource',
    description: 'the REST API’s table (resource) the listings are read from',
    fallback: 'property_listings',
    expected: 'lower-case letters, digits and underscores',
    read: identifier,
  }),
  table: setting({
    env: 'KEEL_SYNC_TABLE',
    flag: 'table',
    description: 'the PostgreSQL table the listings are written to',
    fallback: 'property_listings',
    expected: 'lower-case letters, digits and underscores',
    read: identifier,
  }),
  shadowTable: setting({
    env: 'KEEL_SYNC_SHADOW_TABLE',
    flag: 'shadow-table',
    description:
      'the new system’s table for the shadow phase (KEEL_SYNC_FLAG at 0 %): written there, then verified against KEEL_SYNC_TABLE',
    fallback: undefined,
    expected: 'lower-case letters, digits and underscores',
    read: identifier,
  }),
  system: setting({
    env: 'KEEL_SYNC_SYSTEM',
    flag: 'system',
    description: 'which system this runner is (recorded on each row it writes): new or old',
    fallback: 'new',
    expected: 'a short lower-case name, like new or old',
    read: system,
  }),
  host: setting({
    env: 'KEEL_SYNC_HOST',
    flag: 'host',
    description: 'address `keel sync serve` listens on',
    fallback: '127.0.0.1',
    expected: 'an address',
    read: text,
  }),
  port: setting({
    env: 'KEEL_SYNC_PORT',
    flag: 'port',
    description: 'port `keel sync serve` listens on (its health, status and metrics endpoints)',
    fallback: '3002',
    expected: 'a port number (0 picks a free one)',
    read: port,
  }),
  adminToken: setting({
    env: 'KEEL_ADMIN_TOKEN',
    flag: 'admin-token',
    description:
      'enables the emergency stop and run endpoints of `keel sync serve` for requests bearing this token',
    fallback: undefined,
    expected: `a token of ${ADMIN_TOKEN_MIN_LENGTH} or more visible ASCII characters, no spaces, not one character repeated`,
    read: adminToken,
    secret: true,
  }),
  alertWebhookUrl: SETTINGS.alertWebhookUrl,
  /** The gateway's: the flag is read where `keel serve` keeps its rollouts. */
  namespace: SETTINGS.namespace,
  monitoringEnabled: setting({
    env: 'MONITORING_ENABLED',
    flag: 'monitoring-enabled',
    description: 'serve /metrics beside the sync’s endpoints',
    fallback: 'true',
    expected: 'true or false',
    read: boolean,
  }),
  monitoringInterval: setting({
    env: 'MONITORING_INTERVAL',
    flag: 'interval',
    description: 'how often `keel sync serve` runs the sync',
    fallback: '60000',
    expected: 'a duration from 1s to 1d, like 60s or 60000 (milliseconds)',
    read: durationWithin(1_000, 86_400_000),
  }),
  logLevel: SETTINGS.logLevel,
  logFile: setting({
    env: 'LOG_FILE_PATH',
    flag: 'log-file',
    description: 'also append the log (JSON lines) to this file',
    fallback: undefined,
    expected: 'a file path',
    read: filePath,
  }),
} as const;

export type SyncSettingName = keyof typeof SYNC_SETTINGS;
export type SyncConfig = SettingValues<typeof SYNC_SETTINGS>;

/** The REST source as configured: its URL and headers, and who to blame for a 401 or 403. */
export interface RestSourceConfig {
  url: URL;
  headers: Record<string, string>;
  /** The variables the headers came from, for an authentication error's message. */
  credentialSettings: string[];
}

/**
 * The sync's configuration from `flags` over `env`. Throws a ConfigError naming the setting
 * of the first value that does not parse, or of a value that contradicts another.
 */
export function loadSyncConfig(
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<SyncSettingName, string>> = {},
): SyncConfig {
  const config = loadSettings(SYNC_SETTINGS, env, flags);
  if (config.poolMin > config.poolMax)
    throw new ConfigError(
      valueSource(SYNC_SETTINGS, config, 'poolMin'),
      `is ${config.poolMin}, more than ${valueSource(SYNC_SETTINGS, config, 'poolMax')} (${config.poolMax})`,
    );
  const restGiven = config.restUrl !== undefined || config.supabaseUrl !== undefined;
  const keyGiven = [config.restApiKey, config.supabaseAnonKey, config.supabaseServiceRoleKey].some(
    (key) => key !== undefined,
  );
  if (restGiven && !keyGiven && config.restAuthorization === undefined)
    throw new ConfigError(
      'SUPABASE_REST_HEADERS_APIKEY',
      'no key is set for the REST API: set SUPABASE_REST_HEADERS_APIKEY (or SUPABASE_ANON_KEY / SUPABASE_SERVICE_ROLE_KEY)',
    );
  // The shadow phase writes every listing there: into the real table, it would overwrite the old system's.
  if (config.shadowTable !== undefined && config.shadowTable === config.table)
    throw new ConfigError(
      valueSource(SYNC_SETTINGS, config, 'shadowTable'),
      `is the table the listings are written to (${valueSource(SYNC_SETTINGS, config, 'table')}): the shadow phase needs a table of its own`,
    );
  return config;
}

/** The REST source the configuration names, or undefined for the bundled sample. */
export function restSourceConfig(config: SyncConfig): RestSourceConfig | undefined {
  const base = config.restUrl ?? (config.supabaseUrl && new URL('rest/v1', withSlash(config.supabaseUrl)));
  if (base === undefined) return undefined;
  const headers: Record<string, string> = {};
  const credentialSettings: string[] = [];
  const apiKey = firstSet(config, ['restApiKey', 'supabaseAnonKey', 'supabaseServiceRoleKey']);
  if (apiKey !== undefined) {
    headers.apikey = config[apiKey] as string;
    credentialSettings.push(SYNC_SETTINGS[apiKey].env);
  }
  if (config.restAuthorization !== undefined) {
    headers.Authorization = config.restAuthorization;
    credentialSettings.push(SYNC_SETTINGS.restAuthorization.env);
  } else {
    const bearer = firstSet(config, ['supabaseServiceRoleKey', 'supabaseAnonKey']);
    if (bearer !== undefined) {
      headers.Authorization = `Bearer ${config[bearer]}`;
      credentialSettings.push(SYNC_SETTINGS[bearer].env);
    }
  }
  return { url: base, headers, credentialSettings: [...new Set(credentialSettings)] };
}

function firstSet<K extends SyncSettingName>(config: SyncConfig, names: K[]): K | undefined {
  return names.find((name) => config[name] !== undefined);
}

function withSlash(url: URL): URL {
  return url.pathname.endsWith('/') ? url : new URL(`${url.href}/`);
}
