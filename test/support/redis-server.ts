/**
 * A dedicated throwaway Redis server for fault-injection tests.
 *
 * Unlike redisUrl(), which shares whatever Redis is at hand, startRedisServer() always spawns a new
 * server that the test owns: it may kill it, restart it on the same port (clients configured with
 * that port reconnect to the new process), or freeze every client with CLIENT PAUSE. A restarted
 * server is empty: persistence is off.
 */
import { freePort, LOOPBACK } from './free-port.js';
import { withRedis } from './redis-probe.js';
import { launchRedisServer, RedisLaunchError, type RedisProcess } from './redis-process.js';

/** Fresh ports tried when another process grabs the chosen one between freePort and bind. */
const PORT_ATTEMPTS = 3;

export interface RedisServerHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** SIGTERM and wait for the exit (SIGKILL after 5 s); no-op when already stopped. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: a crash, from the clients' point of view. */
  kill(): Promise<void>;
  /** Starts the server again on the same port after stop/kill and waits for PING; no-op if running. */
  start(): Promise<void>;
  /** CLIENT PAUSE `ms` ALL: every client's commands wait `ms` milliseconds. */
  pauseClients(ms: number): Promise<void>;
}

/** Spawns a redis-server on a free loopback port and resolves once it answers PING. */
export async function startRedisServer(): Promise<RedisServerHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return new DedicatedServer(await launchRedisServer(port));
    } catch (error) {
      const portTaken = error instanceof RedisLaunchError && error.addressInUse;
      if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

class DedicatedServer implements RedisServerHandle {
  readonly host = LOOPBACK;
  readonly port: number;
  readonly url: string;

  constructor(private current: RedisProcess) {
    this.port = current.port;
    this.url = `redis://${LOOPBACK}:${this.port}`;
  }

  stop(): Promise<void> {
    return this.current.terminate('SIGTERM');
  }

  kill(): Promise<void> {
    return this.current.terminate('SIGKILL');
  }

  async start(): Promise<void> {
    if (!this.current.hasExited) return;
    this.current = await launchRedisServer(this.port);
  }

  async pauseClients(ms: number): Promise<void> {
    await withRedis({ host: this.host, port: this.port }, (client) => client.client('PAUSE', ms, 'ALL'));
  }
}
