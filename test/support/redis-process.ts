/**
 * One throwaway redis-server process: spawn, wait until it answers PING, stop, clean up.
 *
 * Every launch gets its own temporary directory (the working directory of the server, where a
 * cluster node keeps its nodes.conf) that is removed once the process has exited. Persistence is
 * off (`--save "" --appendonly no`), so a restarted server starts empty. The server logs to stdout;
 * the last few kilobytes are kept so that a server that fails to start is reported with its own
 * explanation ("Address already in use", a bad option) instead of a bare timeout.
 *
 * Nothing outlives the test process. Live servers are SIGKILLed, and their directories removed,
 * when the process exits and when it receives SIGTERM, SIGINT or SIGHUP: vitest ends its fork
 * workers with a bare SIGTERM, which skips 'exit' listeners. The signal listener then re-raises the
 * signal when nobody else listens, so the process still dies of it as it would have (the technique
 * of the signal-exit package). Where util-linux's `setpriv` is installed the server is also started
 * under `--pdeathsig KILL`, so the kernel kills it even when the test process is SIGKILLed (its
 * directory is then left in the temp dir). The child and its pipes are unref'd: a memoized server
 * does not keep a finished process alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, requireExecutable } from './executables.js';
import { LOOPBACK } from './free-port.js';
import { killOnExit } from './kill-on-exit.js';
import { pingRedis } from './redis-probe.js';
import { waitUntil } from './wait.js';

/** From spawn to the first PONG; a local redis-server is usually ready in a few milliseconds. */
const READY_TIMEOUT_MS = 5_000;
/** After SIGTERM, how long a server may take to exit before it is SIGKILLed. */
const STOP_GRACE_MS = 5_000;
/** How much of the server's log is kept for error messages. */
const LOG_TAIL_CHARS = 4_000;
/** What redis-server logs when its port is taken (the race that freePort cannot rule out). */
const ADDRESS_IN_USE = /address already in use/i;

/** A server that did not come up; `addressInUse` tells the caller a fresh port may succeed. */
export class RedisLaunchError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'RedisLaunchError';
  }
}

/**
 * Spawns `redis-server` on 127.0.0.1:`port` with persistence off plus `extraArgs(dir)` (dir is the
 * server's temporary directory) and resolves once it answers PING. `configFile`, when given, is
 * written to the directory and named first on the command line (Sentinel needs a file it can
 * rewrite); `password` is the one it requires, for the readiness PING. Throws RedisLaunchError, with the server's last log lines, if it exits first or is not
 * ready within READY_TIMEOUT_MS.
 */
export async function launchRedisServer(
  port: number,
  extraArgs: (dir: string) => string[] = () => [],
  configFile?: string,
  password?: string,
): Promise<RedisProcess> {
  const [command, ...prefix] = await serverCommand();
  const dir = await mkdtemp(join(tmpdir(), 'keel-redis-'));
  const config = configFile === undefined ? [] : [join(dir, 'redis.conf')];
  if (configFile !== undefined) await writeFile(config[0] as string, configFile);
  const args = [
    ...prefix,
    ...config,
    ...['--port', String(port), '--bind', LOOPBACK],
    ...['--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    ...extraArgs(dir),
  ];
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new RedisProcess(child, port, dir);
  const ready = await Promise.race([
    waitUntil(
      () =>
        pingRedis(
          password === undefined ? { host: LOOPBACK, port } : `redis://:${password}@${LOOPBACK}:${port}`,
        ),
      READY_TIMEOUT_MS,
      () => server.hasExited,
    ),
    server.exited.then(() => false), // a server that dies is reported at once, not after a probe
  ]);
  if (ready) return server;
  const why = server.hasExited
    ? 'exited before answering PING'
    : `did not answer PING within ${READY_TIMEOUT_MS} ms`;
  await server.terminate('SIGKILL');
  const log = server.logTail();
  throw new RedisLaunchError(
    `redis-server on ${LOOPBACK}:${port} ${why}; its last log lines:\n${log || '(no output)'}`,
    ADDRESS_IN_USE.test(log),
  );
}

/** A spawned redis-server. terminate() is idempotent: every call waits for the same exit. */
export class RedisProcess {
  /** Resolves once the process has exited and its directory is gone. */
  readonly exited: Promise<void>;
  private exitedFlag = false;
  private log = '';

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {
    const forget = killOnExit(this);
    const append = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', append);
      (stream as Socket | null)?.unref();
    }
    child.unref();
    this.exited = new Promise((resolve) => {
      const onExit = () => {
        if (this.exitedFlag) return;
        this.exitedFlag = true;
        forget();
        rm(dir, { recursive: true, force: true }).then(resolve, resolve);
      };
      child.once('close', onExit);
      child.once('error', (error) => {
        append(Buffer.from(`spawn failed: ${error.message}\n`));
        onExit();
      });
    });
  }

  get hasExited(): boolean {
    return this.exitedFlag;
  }

  /** The server's last log lines. */
  logTail(): string {
    return this.log.trimEnd();
  }

  /** Sends `signal` unless the process has exited and waits for the exit; SIGTERM escalates. */
  async terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (this.exitedFlag) return this.exited;
    this.child.ref(); // the caller is waiting for the exit: keep the event loop alive until then
    this.child.kill(signal);
    const escalate =
      signal === 'SIGTERM' ? setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS) : undefined;
    try {
      await this.exited;
    } finally {
      clearTimeout(escalate);
    }
  }

  /** Synchronous last resort for the process 'exit' listener. */
  killNow(): void {
    this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function serverCommand(): Promise<string[]> {
  const server = await requireExecutable('redis-server');
  const setpriv = await findExecutable('setpriv');
  return setpriv === undefined ? [server] : [setpriv, '--pdeathsig', 'KILL', server];
}
