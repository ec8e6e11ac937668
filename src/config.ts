/**
 * Keel's configuration: every setting of `keel serve` and the operations commands, read from the
 * environment (the common names where they exist: REDIS_URL, LOG_LEVEL, MONITORING_ENABLED,
 * MONITORING_INTERVAL, LOG_FILE_PATH, each also read under a KEEL_* alias; KEEL_* otherwise) and
 * overridden by command-line flags, validated once at start-up.
 *
 * One table (SETTINGS) lists each setting with its variable, its flag, its default and how to read
 * it; the CLI builds its `--help` from the same table, so the two never disagree. A value that does
 * not parse fails start-up with a ConfigError naming the variable (or flag) and what was expected.
 * Durations accept `30s`, `5m`…; sizes `256mb`…; numbers are plain decimal digits (whole-number.ts).
 *
 * A variable set to the empty string is an error, not "unset": `KEEL_ORIGIN=` left empty by a
 * deployment template would otherwise start the bundled sample origin, and `KEEL_PORT=` a random
 * port. Values are shown in messages as written, except secrets (***) and the userinfo of URLs
 * (`http://***:***@host/`), which stays in the parsed URL for the gateway to use.
 */
import { ConfigError } from './errors.js';
import { parseBytes } from './util/bytes.js';
import { closest } from './util/closest.js';
import { formatDuration, parseDuration } from './util/duration.js';
import { parseWholeNumber } from './util/whole-number.js';

/**
 * Origin timeouts, for KEEL_UPSTREAM_TIMEOUT and the routes file's `timeout`: at least 1 ms, since
 * undici reads 0 as "wait forever" and a hung origin would then hold a connection for ever; at
 * most 10 minutes, far beyond any API answer a client still waits for.
 */
export const ORIGIN_TIMEOUT_MS = { min: 1, max: 10 * 60_000 } as const;
/** Client-side timeouts (idle, headers, whole request, event-loop delay): at most an hour. */
const CLIENT_TIMEOUT_MAX_MS = 3_600_000;
/** The bundled sample origin's added latency: a demo setting, at most a minute. */
const MAX_SAMPLE_LATENCY_MS = 60_000;
/** Shortest admin token: 16 characters (64 bits even as hex digits; `openssl rand -hex 32` makes 64). */
export const ADMIN_TOKEN_MIN_LENGTH = 16;

export type Reader<T> = (text: string) => T | undefined;

export interface Setting<T> {
  env: string;
  /** Other variables read for the same setting when `env` is not set, in order. */
  aliases?: readonly string[];
  flag: string;
  description: string;
  /** The default as written (shown in --help), or undefined for none. */
  fallback: string | undefined;
  /** What a valid value looks like, for the error message. */
  expected: string;
  read: Reader<T>;
  /** Shown as *** in messages and the admin API. */
  secret?: boolean;
}

export const text: Reader<string> = (value) => value;
/** The origin: scheme, host and port only, since the gateway forwards each client's path and query as sent. */
const origin: Reader<URL> = (value) => {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return undefined;
  }
  const bare = parsed.pathname === '/' && !/[?#]/.test(value);
  return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && bare ? parsed : undefined;
};
export const port: Reader<number> = (value) => {
  const n = parseWholeNumber(value);
  return n !== undefined && n <= 65535 ? n : undefined;
};
export const positive: Reader<number> = (value) => {
  const n = parseWholeNumber(value);
  return n !== undefined && n > 0 ? n : undefined;
};
export const boolean: Reader<boolean> = (value) =>
  ['1', 'true', 'yes', 'on'].includes(value.toLowerCase())
    ? true
    : ['0', 'false', 'no', 'off'].includes(value.toLowerCase())
      ? false
      : undefined;
export const durationWithin =
  (min: number, max: number): Reader<number> =>
  (value) => {
    const ms = parseDuration(value);
    return ms !== undefined && ms >= min && ms <= max ? ms : undefined;
  };
/**
 * A size with its unit: a bare number would be bytes, and `--memory 256` meant as MiB would give
 * the cache 256 bytes. `256b` says bytes when bytes are meant.
 */
export const bytes: Reader<number> = (value) =>
  /^\d+(\.\d+)?$/.test(value.trim()) ? undefined : parseBytes(value);
const memory: Reader<number | 'auto'> = (value) => (value === 'auto' ? 'auto' : bytes(value));
/** Visible ASCII (what an Authorization header carries intact), long enough, and not one character repeated. */
export const adminToken: Reader<string> = (value) =>
  value.length >= ADMIN_TOKEN_MIN_LENGTH && /^[\x21-\x7e]+$/.test(value) && !/^(.)\1*$/.test(value)
    ? value
    : undefined;
/** The public URL the origin is told about: scheme and host only. */
const publicUrl: Reader<URL> = (value) => {
  const parsed = origin(value);
  return parsed !== undefined && parsed.username === '' && parsed.password === '' ? parsed : undefined;
};
/** `true`, `false`, or the addresses (CIDR ranges, `loopback`, …) of the trusted proxies. */
const trustProxy: Reader<boolean | string[]> = (value) => {
  const yes = boolean(value);
  if (yes !== undefined) return yes;
  const addresses = value.split(',').map((part) => part.trim());
  return addresses.every((address) => /^[0-9A-Fa-f.:/]+$|^(loopback|linklocal|uniquelocal)$/.test(address))
    ? addresses
    : undefined;
};
/** Header names (RFC 9110 tokens), lower-cased. */
const headerNames: Reader<string[]> = (value) => {
  const names = value.split(',').map((name) => name.trim().toLowerCase());
  return names.every((name) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) ? names : undefined;
};
const connections: Reader<number | 'auto'> = (value) => (value === 'auto' ? 'auto' : positive(value));
/** A file path for the log: not a directory name (a trailing slash) and no NUL byte. */
export const filePath: Reader<string> = (value) =>
  value.endsWith('/') || value.includes('\0') ? undefined : value;
const logLevel: Reader<string> = (value) =>
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(value) ? value : undefined;

/** Keeps the fallback's type, so settings with a default are typed as always present. */
export function setting<T, F extends string | undefined>(
  definition: Setting<T> & { fallback: F },
): Setting<T> & { fallback: F } {
  return definition;
}

/** Every setting of `keel serve`, in the order `--help` lists them. */
export const SETTINGS = {
  origin: setting({
    env: 'KEEL_ORIGIN',
    flag: 'origin',
    description: 'the API to put the cache in front of; without it, the bundled sample origin starts',
    fallback: undefined,
    expected:
      "an http:// or https:// URL with no path, query or fragment (the gateway forwards the client's path as is)",
    read: origin,
  }),
  routes: setting({
    env: 'KEEL_ROUTES',
    flag: 'routes',
    description: 'routes file (YAML): what is cached, how long, what writes invalidate',
    fallback: undefined,
    expected: 'a file path',
    read: text,
  }),
  host: setting({
    env: 'KEEL_HOST',
    flag: 'host',
    description: 'address to listen on',
    fallback: '127.0.0.1',
    expected: 'an address',
    read: text,
  }),
  port: setting({
    env: 'KEEL_PORT',
    flag: 'port',
    description: 'port to listen on (0: any free port)',
    fallback: '8080',
    expected: 'a port number 0–65535',
    read: port,
  }),
  redisUrl: setting({
    env: 'REDIS_URL',
    flag: 'redis-url',
    description: 'Redis for the shared L2 and the invalidation bus; without it, L1 only',
    fallback: undefined,
    expected: 'a redis:// or rediss:// URL',
    read: (value) => (/^rediss?:\/\//.test(value) ? value : undefined),
    secret: true,
  }),
  databaseUrl: setting({
    env: 'DATABASE_URL',
    flag: 'database-url',
    description: 'PostgreSQL for the rollout state when there is no Redis (shared by every instance)',
    fallback: undefined,
    expected: 'a postgres:// or postgresql:// URL',
    read: (value) => (/^postgres(ql)?:\/\//.test(value) ? value : undefined),
    secret: true,
  }),
  dataDir: setting({
    env: 'KEEL_DATA_DIR',
    flag: 'data-dir',
    description: 'folder of the rollout state of a single instance (without Redis or PostgreSQL)',
    fallback: '.keel',
    expected: 'a folder path',
    read: (value) => (value.includes('\0') ? undefined : value),
  }),
  alertWebhookUrl: setting({
    env: 'ALERT_WEBHOOK_URL',
    flag: 'alert-webhook-url',
    description: "Slack-compatible webhook for the rollouts' notifications",
    fallback: undefined,
    expected: 'an http:// or https:// URL',
    read: (value) => (/^https?:\/\/[^/]/.test(value) ? value : undefined),
    secret: true,
  }),
  prometheusUrl: setting({
    env: 'PROMETHEUS_URL',
    flag: 'prometheus-url',
    description: "Prometheus the rollouts' PromQL guards query",
    fallback: undefined,
    expected: 'an http:// or https:// URL',
    read: (value) => (/^https?:\/\/[^/]/.test(value) ? value : undefined),
  }),
  redisRequired: setting({
    env: 'KEEL_REDIS_REQUIRED',
    flag: 'redis-required',
    description: 'fail start-up when Redis does not answer (else start L1-only and keep trying)',
    fallback: 'false',
    expected: 'true or false',
    read: boolean,
  }),
  namespace: setting({
    env: 'KEEL_NAMESPACE',
    flag: 'namespace',
    description: 'cache namespace (shared by the instances of one service)',
    fallback: 'keel-gateway',
    expected: '1–64 letters, digits, _ . : -',
    read: (v) => (/^[A-Za-z0-9_.:-]{1,64}$/.test(v) ? v : undefined),
  }),
  memory: setting({
    env: 'KEEL_MEMORY_MAX_BYTES',
    flag: 'memory',
    description: 'L1 byte budget, or auto (a quarter of the heap limit)',
    fallback: 'auto',
    expected: 'auto or a size with its unit, like 256mb (b, kb, mb, gb)',
    read: memory,
  }),
  adminToken: setting({
    env: 'KEEL_ADMIN_TOKEN',
    flag: 'admin-token',
    description: 'enables /admin/* for requests bearing this token',
    fallback: undefined,
    expected: `a token of ${ADMIN_TOKEN_MIN_LENGTH} or more visible ASCII characters, no spaces, not one character repeated (openssl rand -hex 32 makes one)`,
    read: adminToken,
    secret: true,
  }),
  stickyKey: setting({
    env: 'KEEL_STICKY_KEY',
    flag: 'sticky-key',
    description:
      "what keeps a client on one side of a route's enablement: ip, header:<name> or cookie:<name>",
    fallback: 'ip',
    expected: 'ip, header:<name> or cookie:<name>',
    read: text,
  }),
  upstreamTimeout: setting({
    env: 'KEEL_UPSTREAM_TIMEOUT',
    flag: 'upstream-timeout',
    description: 'origin timeout for requests no route sets one for',
    fallback: '10s',
    expected: `a duration from ${formatDuration(ORIGIN_TIMEOUT_MS.min)} to ${formatDuration(ORIGIN_TIMEOUT_MS.max)}, like 10s`,
    read: durationWithin(ORIGIN_TIMEOUT_MS.min, ORIGIN_TIMEOUT_MS.max),
  }),
  upstreamConnections: setting({
    env: 'KEEL_UPSTREAM_CONNECTIONS',
    flag: 'upstream-connections',
    description: 'most connections to the origin',
    fallback: '128',
    expected: 'a positive integer',
    read: positive,
  }),
  shadowConcurrency: setting({
    env: 'KEEL_SHADOW_CONCURRENCY',
    flag: 'shadow-concurrency',
    description: 'most shadow copies of requests in flight to candidate origins (more are not sent)',
    fallback: '16',
    expected: 'a positive integer',
    read: positive,
  }),
  shadowRate: setting({
    env: 'KEEL_SHADOW_RATE',
    flag: 'shadow-rate',
    description: 'most shadow copies sent per second by this instance (more are not sent)',
    fallback: '10',
    expected: 'a positive integer',
    read: positive,
  }),
  maxBodyBytes: setting({
    env: 'KEEL_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    description: 'largest request or response body the gateway relays',
    fallback: '8mb',
    expected: 'a size with its unit, like 8mb (b, kb, mb, gb)',
    read: bytes,
  }),
  trustProxy: setting({
    env: 'KEEL_TRUST_PROXY',
    flag: 'trust-proxy',
    description:
      'whether the hop before the gateway is a proxy that speaks for the client (its X-Forwarded-* are forwarded, and key the cache): true, false, or its addresses',
    fallback: 'false',
    expected: 'true, false, or addresses and CIDR ranges separated by commas (10.0.0.0/8, loopback)',
    read: trustProxy,
  }),
  publicUrl: setting({
    env: 'KEEL_PUBLIC_URL',
    flag: 'public-url',
    description:
      'the scheme and host clients use, told to the origin as X-Forwarded-Proto and -Host (else it is told neither)',
    fallback: undefined,
    expected: 'an http:// or https:// URL with no path or credentials, like https://api.example.com',
    read: publicUrl,
  }),
  stripHeaders: setting({
    env: 'KEEL_STRIP_HEADERS',
    flag: 'strip-headers',
    description: 'origin response headers never passed to clients (comma-separated), e.g. x-powered-by',
    fallback: undefined,
    expected: 'header names separated by commas',
    read: headerNames,
  }),
  adminPort: setting({
    env: 'KEEL_ADMIN_PORT',
    flag: 'admin-port',
    description:
      'serve /metrics, /health, /api/status, /dashboard and /admin on this port instead (the public port then serves only the API)',
    fallback: undefined,
    expected: 'a port number 0–65535',
    read: port,
  }),
  adminHost: setting({
    env: 'KEEL_ADMIN_HOST',
    flag: 'admin-host',
    description: 'address of the KEEL_ADMIN_PORT listener',
    fallback: '127.0.0.1',
    expected: 'an address',
    read: text,
  }),
  maxConnections: setting({
    env: 'KEEL_MAX_CONNECTIONS',
    flag: 'max-connections',
    description:
      'most client connections at once; at the limit, idle ones are closed first (auto: what the open-file limit leaves after the origin connections)',
    fallback: 'auto',
    expected: 'auto or a positive integer',
    read: connections,
  }),
  idleTimeout: setting({
    env: 'KEEL_IDLE_TIMEOUT',
    flag: 'idle-timeout',
    description: 'how long an idle keep-alive client connection stays open',
    fallback: '72s',
    expected: `a duration from 1ms to ${formatDuration(CLIENT_TIMEOUT_MAX_MS)}, like 72s`,
    read: durationWithin(1, CLIENT_TIMEOUT_MAX_MS),
  }),
  headersTimeout: setting({
    env: 'KEEL_HEADERS_TIMEOUT',
    flag: 'headers-timeout',
    description:
      "time a client has to send a request's headers, from connecting or from its previous request",
    fallback: '10s',
    expected: `a duration from 1ms to ${formatDuration(CLIENT_TIMEOUT_MAX_MS)}, like 10s`,
    read: durationWithin(1, CLIENT_TIMEOUT_MAX_MS),
  }),
  requestTimeout: setting({
    env: 'KEEL_REQUEST_TIMEOUT',
    flag: 'request-timeout',
    description: 'time a client has to send a whole request, body included',
    fallback: '30s',
    expected: `a duration from 1ms to ${formatDuration(CLIENT_TIMEOUT_MAX_MS)}, like 30s`,
    read: durationWithin(1, CLIENT_TIMEOUT_MAX_MS),
  }),
  upstreamQueueTimeout: setting({
    env: 'KEEL_UPSTREAM_QUEUE_TIMEOUT',
    flag: 'upstream-queue-timeout',
    description: 'longest wait for a free origin connection before answering 503 with Retry-After',
    fallback: '1s',
    expected: `a duration from ${formatDuration(ORIGIN_TIMEOUT_MS.min)} to ${formatDuration(ORIGIN_TIMEOUT_MS.max)}, like 1s`,
    read: durationWithin(ORIGIN_TIMEOUT_MS.min, ORIGIN_TIMEOUT_MS.max),
  }),
  maxBufferedBytes: setting({
    env: 'KEEL_MAX_BUFFERED_BYTES',
    flag: 'max-buffered-bytes',
    description: 'request and response bodies held in memory at once; beyond it, bodies stream',
    fallback: '64mb',
    expected: 'a size with its unit, like 64mb (b, kb, mb, gb)',
    read: bytes,
  }),
  maxEventLoopDelay: setting({
    env: 'KEEL_MAX_EVENT_LOOP_DELAY',
    flag: 'max-event-loop-delay',
    description: 'event-loop delay past which requests get 503 with Retry-After (0: never)',
    fallback: '1s',
    expected: `a duration up to ${formatDuration(CLIENT_TIMEOUT_MAX_MS)}, like 1s`,
    read: durationWithin(0, CLIENT_TIMEOUT_MAX_MS),
  }),
  originHealthPath: setting({
    env: 'KEEL_ORIGIN_HEALTH_PATH',
    flag: 'origin-health-path',
    description: 'path /health/ready asks the origin for',
    fallback: '/',
    expected: 'a path starting with /',
    read: (v) => (v.startsWith('/') ? v : undefined),
  }),
  sampleLatency: setting({
    env: 'KEEL_SAMPLE_LATENCY',
    flag: 'sample-latency',
    description: 'added latency of the bundled sample origin',
    fallback: '40ms',
    expected: `a duration up to ${formatDuration(MAX_SAMPLE_LATENCY_MS)}, like 40ms`,
    read: durationWithin(0, MAX_SAMPLE_LATENCY_MS),
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    flag: 'log-level',
    description: 'fatal, error, warn, info, debug, trace or silent',
    fallback: 'info',
    expected: 'a pino level',
    read: logLevel,
  }),
  logFile: setting({
    env: 'LOG_FILE_PATH',
    aliases: ['KEEL_LOG_FILE'],
    flag: 'log-file',
    description: 'also append the log (JSON lines) to this file; SIGHUP reopens it after a rotation',
    fallback: undefined,
    expected: 'a file path',
    read: filePath,
  }),
  monitoringEnabled: setting({
    env: 'MONITORING_ENABLED',
    aliases: ['KEEL_MONITORING_ENABLED'],
    flag: 'monitoring-enabled',
    description: 'serve /metrics, /api/status and /dashboard (health endpoints are always served)',
    fallback: 'true',
    expected: 'true or false',
    read: boolean,
  }),
  monitoringInterval: setting({
    env: 'MONITORING_INTERVAL',
    aliases: ['KEEL_MONITORING_INTERVAL'],
    flag: 'monitoring-interval',
    description: 'interval of the status history the dashboard and keel analyze read (an hour is kept)',
    fallback: '10s',
    expected: `a duration from 1s to 1h, like 10s or 60000 (milliseconds)`,
    read: durationWithin(1_000, 3_600_000),
  }),
} as const;

/** A table of settings: name → definition. */
export type SettingTable = Record<string, Setting<unknown> & { fallback: string | undefined }>;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** The values of a table's settings: those with a default always present. */
export type SettingValues<Table extends SettingTable> = {
  [K in keyof Table]: Table[K]['fallback'] extends string ? ValueOf<Table[K]> : ValueOf<Table[K]> | undefined;
};

type Settings = typeof SETTINGS;
export type SettingName = keyof Settings;
export type ServeConfig = SettingValues<Settings>;

/**
 * The configuration from `flags` (by setting name, as commander parsed them) over `env`. Throws a
 * ConfigError naming the flag or variable of the first value that does not parse.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<SettingName, string>> = {},
): ServeConfig {
  return loadSettings(SETTINGS, env, flags);
}

/** The values of `table`'s settings from `flags` over `env` (see loadConfig). */
export function loadSettings<Table extends SettingTable>(
  table: Table,
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<keyof Table, string>> = {},
): SettingValues<Table> {
  const config: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [name, definition] of Object.entries(table)) {
    const fromFlag = flags[name];
    const variable = [definition.env, ...(definition.aliases ?? [])].find((key) => env[key] !== undefined);
    const raw = fromFlag ?? (variable === undefined ? undefined : env[variable]) ?? definition.fallback;
    if (raw === undefined) continue;
    const source =
      fromFlag !== undefined ? `--${definition.flag}` : (variable ?? `${definition.env} (default)`);
    if (raw === '') throw emptySetting(source, definition, fromFlag !== undefined);
    const value = definition.read(raw);
    if (value === undefined) {
      const shown = definition.secret ? '***' : JSON.stringify(maskUserinfo(raw));
      throw new ConfigError(source, `expected ${definition.expected} (got ${shown})`);
    }
    config[name] = value;
    sources[name] = fromFlag !== undefined ? `--${definition.flag}` : (variable ?? definition.env);
  }
  SOURCES.set(config, sources);
  return config as SettingValues<Table>;
}

/**
 * KEEL_* variables in `env` that no setting reads (a typo such as KEEL_ORIGN would otherwise be
 * ignored in silence), each with the likely setting when one is close.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = Object.values(SETTINGS).flatMap((definition: Setting<unknown>) => [
    definition.env,
    ...(definition.aliases ?? []),
  ]);
  return Object.keys(env)
    .filter((name) => name.startsWith('KEEL_') && !known.includes(name) && !OTHER_KEEL_VARIABLES.has(name))
    .map((name) => {
      const likely = closest(name, known);
      return likely === undefined ? name : `${name} (did you mean ${likely}?)`;
    });
}

/** KEEL_* variables read elsewhere than by `keel serve` (monitoring, the tour, benchmarks, tests). */
const OTHER_KEEL_VARIABLES = new Set([
  'KEEL_ALERT_EMAIL_FROM',
  'KEEL_ALERT_EMAIL_TO',
  'KEEL_ALERT_PAGER_WEBHOOK_URL',
  'KEEL_ALERT_SLACK_WEBHOOK_URL',
  'KEEL_ALERT_SMTP_PASSWORD',
  'KEEL_ALERT_SMTP_SMARTHOST',
  'KEEL_ALERT_SMTP_USERNAME',
  'KEEL_DEMO_PHASE_MS',
  'KEEL_TRACES_DIR',
  'KEEL_UPDATE_SCREENSHOT',
]);

/** Where each loaded configuration's values came from, for errors found after loading. */
const SOURCES = new WeakMap<object, Record<string, string>>();

/** How the user gave a setting: its flag (`--port`) when they used it, else its variable. */
export function settingSource(config: ServeConfig, name: SettingName): string {
  return valueSource(SETTINGS, config, name);
}

/** How the user gave the value of `table`'s setting `name` in `values` (settingSource). */
export function valueSource<Table extends SettingTable>(
  table: Table,
  values: SettingValues<Table>,
  name: keyof Table & string,
): string {
  return SOURCES.get(values)?.[name] ?? (table[name] as Setting<unknown>).env;
}

function emptySetting(source: string, definition: Setting<unknown>, isFlag: boolean): ConfigError {
  const instead = isFlag ? 'leave the flag out' : `unset ${source}`;
  const fallback = definition.fallback === undefined ? '' : ` (${definition.fallback})`;
  return new ConfigError(
    source,
    `is empty, which is not read as unset: ${instead} to use the default${fallback}, or give ${definition.expected}`,
  );
}

/** The configuration for display: secrets replaced by ***, URLs as text with their userinfo masked. */
export function describeConfig(config: ServeConfig): Record<string, unknown> {
  return describeSettings(SETTINGS, config);
}

/** `table`'s values for display, by variable name (describeConfig). */
export function describeSettings<Table extends SettingTable>(
  table: Table,
  values: SettingValues<Table>,
): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(table)) {
    const value = (values as Record<string, unknown>)[name];
    if (value === undefined) continue;
    shown[definition.env] = definition.secret ? '***' : value instanceof URL ? displayUrl(value) : value;
  }
  return shown;
}

/** A URL for display: `http://user:pass@host/` as `http://***:***@host/`. */
export function displayUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const masked = new URL(url.href);
  if (masked.username !== '') masked.username = '***';
  if (masked.password !== '') masked.password = '***';
  return masked.href;
}

/** The same masking for text that may not parse as a URL (shown in error messages). */
function maskUserinfo(text: string): string {
  const masked = text.replace(
    /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/,
    (_, scheme: string, userinfo: string) => `${scheme}${userinfo.includes(':') ? '***:***' : '***'}@`,
  );
  // A URL mistyped around its scheme (`postgres//user:pass@host`) still shows no password.
  return masked.replace(/[^\s/:@]+:[^\s/@]*@/g, '***:***@');
}
