/**
 * The ioredis connections of the Redis tier: one for commands and one for the invalidation bus's
 * subscription (a subscribed connection can issue no other command).
 *
 * Settings and why:
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of waiting in
 *   a queue; the circuit breaker counts the failure and the cache answers from L1. A cache must
 *   never make a request wait for a Redis that is not there.
 * - `maxRetriesPerRequest: 0`: ioredis does not resend a command on its own; reads are retried by
 *   the resilience policy (resilience.ts), writes are not retried at all.
 * - `commandTimeout`: a command that gets no reply in time is failed by ioredis.
 * - auto-pipelining: off on a single node, where the tier holds the socket's writes for the turn
 *   itself (turn-writer.ts: no pipeline objects, and no wait for one turn's replies before the next
 *   turn's commands leave); on in Cluster, where commands issued in the same tick share one write
 *   per node — except MGET, which the tier already batches per tick itself.
 * - the reconnect strategy never gives up (backoff capped at RECONNECT_MAX_DELAY_MS): a cache
 *   started without Redis keeps trying and takes Redis into use when it appears.
 * - Sentinel: `failoverDetector` subscribes to the Sentinels' `+switch-master`, so both connections
 *   leave a demoted primary as soon as a failover ends. Without it they stay on the old primary
 *   until Sentinel reconfigures it (seconds later), and what they write there meanwhile is lost
 *   when it resynchronizes from the new one.
 *
 * Credentials in URLs are redacted wherever a URL is shown (`describeTarget`).
 */
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type RedisOptions as IORedisOptions, Redis } from 'ioredis';
import type { ResolvedRedisOptions } from './options.js';

/** Longest pause between two reconnection attempts. */
const RECONNECT_MAX_DELAY_MS = 1_000;
/**
 * Commands that the tier batches itself (read-batcher.ts sends one MGET per tick): wrapping each
 * in an auto-pipeline of one costs more than it saves.
 */
const ALREADY_BATCHED = ['mget'];
/**
 * Cluster: how often the slot map is re-read. ioredis otherwise re-reads it only when a node
 * redirects a command, so a failover would go unnoticed until traffic reached the moved slots;
 * the tier compares the masters after each refresh (redis-smart-cache.ts, noteMasters).
 */
const SLOTS_REFRESH_MS = 1_000;
/** First pause between reconnection attempts; it doubles up to RECONNECT_MAX_DELAY_MS. */
const RECONNECT_BASE_DELAY_MS = 50;

export type RedisClient = Redis | Cluster;

export interface Connections {
  commands: RedisClient;
  /** A second connection for SUBSCRIBE. */
  subscriber: RedisClient;
  /** True for Redis Cluster: multi-key commands must stay within one slot. */
  cluster: boolean;
  /** False when the caller passed its own client: Keel closes only its subscriber. */
  ownsCommands: boolean;
}

export function openConnections(options: ResolvedRedisOptions): Connections {
  if (options.client !== undefined) {
    const commands = options.client;
    return {
      commands,
      subscriber: commands.duplicate(),
      cluster: commands instanceof Cluster,
      ownsCommands: false,
    };
  }
  const base = clientOptions(options);
  if (options.cluster !== undefined) {
    const nodes = options.cluster.nodes.map((node) => (typeof node === 'string' ? node : { ...node }));
    const clusterOptions = {
      redisOptions: base,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: ALREADY_BATCHED,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshInterval: SLOTS_REFRESH_MS,
      lazyConnect: true,
    };
    return {
      commands: new Cluster(nodes, clusterOptions),
      subscriber: new Cluster(nodes, clusterOptions),
      cluster: true,
      ownsCommands: true,
    };
  }
  if (options.sentinel !== undefined) {
    const { sentinels, name, username, password, tls } = options.sentinel;
    const sentinelOptions: IORedisOptions = {
      ...base,
      sentinels: sentinels.map(toHostPort),
      name,
      sentinelUsername: username,
      sentinelPassword: password,
      sentinelTLS: tlsOptions(tls),
      // Without it ioredis reaches the primary Sentinel names in plain text whatever `tls` says.
      enableTLSForSentinelMode: base.tls !== undefined,
      failoverDetector: true,
    };
    return {
      commands: new Redis(sentinelOptions),
      subscriber: new Redis(sentinelOptions),
      cluster: false,
      ownsCommands: true,
    };
  }
  const url = options.url ?? 'redis://127.0.0.1:6379';
  return {
    commands: new Redis(url, base),
    subscriber: new Redis(url, base),
    cluster: false,
    ownsCommands: true,
  };
}

/** Where the tier connects, for messages: the URL with any password replaced by "***". */
export function describeTarget(options: ResolvedRedisOptions): string {
  if (options.client !== undefined) return 'the ioredis client passed in redis.client';
  if (options.cluster !== undefined) {
    return `Redis Cluster ${options.cluster.nodes.map((node) => (typeof node === 'string' ? node : `${node.host}:${node.port}`)).join(', ')}`;
  }
  if (options.sentinel !== undefined) return `Redis Sentinel primary "${options.sentinel.name}"`;
  return redactUrl(options.url ?? 'redis://127.0.0.1:6379');
}

export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_, scheme: string, credentials: string) => {
    const user = credentials.includes(':') ? credentials.slice(0, credentials.indexOf(':')) : '';
    return `${scheme}${user}${user === '' ? '' : ':'}***@`;
  });
}

function tlsOptions(tls: ResolvedRedisOptions['tls']): ConnectionOptions | undefined {
  return tls === true ? {} : tls === false ? undefined : tls;
}

function clientOptions(options: ResolvedRedisOptions): IORedisOptions {
  return {
    username: options.username,
    password: options.password,
    tls: tlsOptions(options.tls),
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: false,
    retryStrategy: reconnectDelay,
    lazyConnect: true,
  };
}

function reconnectDelay(attempt: number): number {
  return Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** Math.min(attempt, 10));
}

function toHostPort(node: string | { host: string; port: number }): { host: string; port: number } {
  if (typeof node !== 'string') return node;
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
}
