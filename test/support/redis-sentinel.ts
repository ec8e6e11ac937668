/**
 * A throwaway Sentinel deployment: a primary, one replica and one Sentinel monitoring them, for
 * tests of clients that find the primary through Sentinel and follow a failover.
 *
 * The replica is started with `--replicaof` and waited for until its link is up, and the Sentinel
 * only then, so that it finds the replica in its first INFO of the primary instead of ten seconds
 * later. One Sentinel with a quorum of 1 is enough: `failover()` uses SENTINEL FAILOVER, which
 * needs no agreement. After a failover the old primary is still running; Sentinel turns it into a
 * replica of the new one (and disconnects its clients) a few seconds later, as it would in
 * production.
 */
import { Redis } from 'ioredis';
import { freePorts, LOOPBACK } from './free-port.js';
import { withRedis } from './redis-probe.js';
import { launchRedisServer, type RedisProcess } from './redis-process.js';
import { waitUntil } from './wait.js';

/** The name under which the Sentinel monitors the primary. */
export const SENTINEL_MASTER_NAME = 'keel-test';
/** Bound on the replica's first sync and on the Sentinel seeing it. */
const READY_TIMEOUT_MS = 15_000;
/** Bound on a forced failover: promotion and the Sentinel's switch to the new address. */
const FAILOVER_TIMEOUT_MS = 20_000;
/** How soon the Sentinel suspects a silent primary; short for tests. */
const DOWN_AFTER_MS = 1_000;

export interface RedisSentinelHandle {
  /** Where the Sentinel listens; pass as `redis.sentinel.sentinels`. */
  readonly sentinels: { host: string; port: number }[];
  readonly name: string;
  /** The data servers' ports as started: the primary's, then the replica's. */
  readonly dataPorts: readonly [number, number];
  /** The port of the server the Sentinel names as primary now. */
  primaryPort(): Promise<number>;
  /** Forces a failover and resolves once the Sentinel names the replica as primary; returns its port. */
  failover(): Promise<number>;
  /** A plain client of the server on `port`, for the test's own checks (close it with `quit`). */
  clientOf(port: number): Redis;
  stop(): Promise<void>;
}

/** `sentinelPassword`: the Sentinel requires it (`requirepass` in its configuration). */
export async function startRedisSentinel(
  options: { sentinelPassword?: string } = {},
): Promise<RedisSentinelHandle> {
  const [primaryPort, replicaPort, sentinelPort] = (await freePorts(3)) as [number, number, number];
  const servers: RedisProcess[] = [];
  const ask = (...args: string[]) => sentinel(sentinelPort, options.sentinelPassword, ...args);
  const stop = () => Promise.all(servers.map((server) => server.terminate('SIGTERM'))).then(() => {});
  try {
    servers.push(await launchRedisServer(primaryPort));
    servers.push(await launchRedisServer(replicaPort, () => ['--replicaof', LOOPBACK, String(primaryPort)]));
    await expectWithin(READY_TIMEOUT_MS, `the replica on ${replicaPort} to sync`, async () =>
      (await info(replicaPort, 'replication')).includes('master_link_status:up'),
    );
    const config = [
      ...(options.sentinelPassword === undefined ? [] : [`requirepass ${options.sentinelPassword}`]),
      `sentinel monitor ${SENTINEL_MASTER_NAME} ${LOOPBACK} ${primaryPort} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
    ].join('\n');
    servers.push(
      await launchRedisServer(sentinelPort, () => ['--sentinel'], `${config}\n`, options.sentinelPassword),
    );
    await expectWithin(READY_TIMEOUT_MS, 'the Sentinel to see the replica', async () => {
      const replicas = (await ask('REPLICAS', SENTINEL_MASTER_NAME)) as string[][];
      return replicas.some(
        (fields) => field(fields, 'port') === String(replicaPort) && field(fields, 'flags') === 'slave',
      );
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const primaryPortNow = async () => {
    const [, port] = (await ask('GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as string[];
    return Number(port);
  };
  return {
    sentinels: [{ host: LOOPBACK, port: sentinelPort }],
    name: SENTINEL_MASTER_NAME,
    dataPorts: [primaryPort, replicaPort],
    primaryPort: primaryPortNow,
    async failover() {
      const before = await primaryPortNow();
      await ask('FAILOVER', SENTINEL_MASTER_NAME);
      await expectWithin(FAILOVER_TIMEOUT_MS, 'the Sentinel to switch primaries', async () => {
        const now = await primaryPortNow();
        return now !== before && (await info(now, 'replication')).includes('role:master');
      });
      return primaryPortNow();
    },
    clientOf: (port) => new Redis({ host: LOOPBACK, port, maxRetriesPerRequest: 1 }),
    stop,
  };
}

/** A value of a Sentinel reply given as a flat list of names and values. */
function field(fields: string[], name: string): string | undefined {
  const at = fields.indexOf(name);
  return at === -1 ? undefined : fields[at + 1];
}

function info(port: number, section: string): Promise<string> {
  return withRedis({ host: LOOPBACK, port }, (client) => client.info(section));
}

function sentinel(port: number, password: string | undefined, ...args: string[]): Promise<unknown> {
  const target =
    password === undefined ? { host: LOOPBACK, port } : `redis://:${password}@${LOOPBACK}:${port}`;
  return withRedis(target, (client) => client.call('SENTINEL', ...args));
}

async function expectWithin(ms: number, what: string, condition: () => Promise<boolean>): Promise<void> {
  const ok = await waitUntil(condition, ms);
  if (!ok) throw new Error(`Timed out after ${ms} ms waiting for ${what}.`);
}
