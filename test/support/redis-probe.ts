/**
 * One-shot Redis connections: "does it answer PING?" and "run this admin command".
 *
 * Each probe opens its own ioredis connection with retries and the offline queue turned off, so a
 * server that is down fails the probe at once instead of queueing the command, and closes it
 * afterwards. Probes are cheap on loopback; the readiness loops call them every 50 ms.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** A Redis endpoint: host and port, or a redis:// URL (which may carry credentials and a db). */
export type RedisTarget = string | { host: string; port: number };

/** How long a readiness probe waits for connect and for the PING reply. */
const PROBE_TIMEOUT_MS = 500;

/** True when `target` answers PING within `timeoutMs`. */
export async function pingRedis(target: RedisTarget, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return withRedis(target, async (client) => (await client.ping()) === 'PONG', timeoutMs).catch(() => false);
}

/**
 * Connects to `target`, runs `use`, and disconnects whatever happened. Connecting and each command
 * must finish within `timeoutMs`: this is for quick admin commands, not for work.
 */
export async function withRedis<T>(
  target: RedisTarget,
  use: (client: Redis) => Promise<T>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<T> {
  const options: RedisOptions = {
    lazyConnect: true,
    enableReadyCheck: false, // the ready check's INFO has no timeout: a hung peer would hang the probe
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  };
  const client =
    typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
  client.on('error', ignore);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

function ignore(): void {}
