/**
 * Real PostgreSQL for integration tests. No mocks: DESIGN.md asks for the real thing in tests.
 *
 * - databaseUrl(): the PostgreSQL ordinary tests share. In order: `DATABASE_URL` when set (the
 *   developer's explicit choice, used as given); else the conventional local server at
 *   postgresql://127.0.0.1:5432/test (as the operating-system user) if it answers within 500 ms; else a throwaway cluster started
 *   for this process. The answer is memoized per process (a failure is not: the next call looks
 *   again), so every test file in a worker shares one server.
 * - startPostgresServer(): always a new throwaway cluster, owned by the caller.
 * - pingPostgres(url): does it answer `SELECT 1`?
 *
 * A throwaway cluster comes from the PostgreSQL server binaries (Debian: /usr/lib/postgresql/<v>/
 * bin, the newest version; else initdb and postgres on PATH): initdb into a temporary directory
 * with trust authentication for the user `postgres`, then a server on a free 127.0.0.1 port with
 * its socket in that directory and durability off (fsync, full-page writes, synchronous commit:
 * a test database need not survive a power cut). PostgreSQL refuses to run as root, so as root
 * both programs run as the `postgres` user (else `nobody`) through util-linux's `setpriv`, the
 * directory handed to that user first. Where `setpriv` exists the server also gets
 * `--pdeathsig KILL`, so it dies with a SIGKILLed test process. Otherwise it is stopped, and its
 * directory removed, when the process exits or receives SIGTERM, SIGINT or SIGHUP (as
 * redis-process.ts does it). Missing binaries are an error that says `apt-get install postgresql`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { access, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import { findExecutable, requireExecutable } from './executables.js';
import { freePort, LOOPBACK } from './free-port.js';
import { killOnExit } from './kill-on-exit.js';
import { waitUntil } from './wait.js';

/**
 * Where a developer's PostgreSQL listens by default (trust authentication, database `test`), as
 * the operating-system user, as psql would connect (node-postgres reads only $USER, often unset
 * under a service manager or in a container, and then sends no user name at all).
 */
const DEFAULT_DATABASE_URL = `postgresql://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;
/** How long a readiness probe waits for connect and for the answer. */
const PROBE_TIMEOUT_MS = 500;
/** From spawn to the first answer; a fresh cluster's start-up and recovery take about a second. */
const READY_TIMEOUT_MS = 30_000;
/** After SIGINT (fast shutdown), how long the server may take before it is SIGKILLed. */
const STOP_GRACE_MS = 10_000;
/** How much of a program's output is kept for error messages. */
const LOG_TAIL_CHARS = 4_000;
/** Fresh ports tried when another process binds the chosen one first. */
const PORT_ATTEMPTS = 3;
const ADDRESS_IN_USE = /address already in use|could not bind/i;
const DEBIAN_BINARIES = '/usr/lib/postgresql';
/** The users a root test process runs PostgreSQL as, in order of preference. */
const SERVICE_USERS = ['postgres', 'nobody'];
const INSTALL_HINT = 'install the Debian package postgresql (apt-get install postgresql)';

export interface PostgresServerHandle {
  readonly url: string;
  readonly port: number;
  /** Fast shutdown, waits for the exit (SIGKILL after 10 s) and removes the directory; idempotent. */
  stop(): Promise<void>;
}

let resolved: Promise<string> | undefined;

/** A postgresql:// URL of a server that answers (see the note above for where it comes from). */
export function databaseUrl(): Promise<string> {
  resolved ??= findPostgres().catch((error: unknown) => {
    resolved = undefined; // a failure is not memoized: the next call looks again
    throw error;
  });
  return resolved;
}

/** True when `url` answers `SELECT 1` within `timeoutMs`. */
export async function pingPostgres(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Starts a throwaway cluster on a free loopback port and resolves once it answers. */
export async function startPostgresServer(): Promise<PostgresServerHandle> {
  const binaries = await findBinaries();
  if (binaries === undefined) throw new Error(`PostgreSQL is not installed: ${INSTALL_HINT}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await ThrowawayCluster.start(binaries, await freePort());
    } catch (error) {
      const portTaken = error instanceof Error && ADDRESS_IN_USE.test(error.message);
      if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

async function findPostgres(): Promise<string> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (await pingPostgres(DEFAULT_DATABASE_URL)) return DEFAULT_DATABASE_URL;
  if ((await findBinaries()) === undefined) {
    throw new Error(
      `No PostgreSQL reachable at DATABASE_URL (not set) or ${DEFAULT_DATABASE_URL}, and the PostgreSQL ` +
        `server (initdb, postgres) is not installed: ${INSTALL_HINT}, or set DATABASE_URL.`,
    );
  }
  return (await startPostgresServer()).url;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The newest Debian installation's programs, else those on PATH, else undefined. */
async function findBinaries(): Promise<Binaries | undefined> {
  const versions = await readdir(DEBIAN_BINARIES).catch(() => [] as string[]);
  const dirs = versions
    .filter((version) => /^\d+$/.test(version))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(DEBIAN_BINARIES, version, 'bin'));
  dirs.push(...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''));
  for (const dir of dirs) {
    const found = { initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres') };
    if ((await isPresent(found.initdb)) && (await isPresent(found.postgres))) return found;
  }
  return undefined;
}

async function isPresent(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** What runs a program as a non-root user, with --pdeathsig when possible; [] when nothing is needed. */
async function launcher(dir: string): Promise<string[]> {
  if (process.getuid?.() !== 0) {
    const setpriv = await findExecutable('setpriv');
    return setpriv === undefined ? [] : [setpriv, '--pdeathsig', 'KILL'];
  }
  const setpriv = await requireExecutable('setpriv');
  const { uid, gid } = await serviceUser();
  await chown(dir, uid, gid);
  return [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--pdeathsig', 'KILL'];
}

async function serviceUser(): Promise<{ uid: number; gid: number }> {
  const entries = (await readFile('/etc/passwd', 'utf8')).split('\n').map((line) => line.split(':'));
  for (const name of SERVICE_USERS) {
    const entry = entries.find((fields) => fields[0] === name);
    if (entry !== undefined) return { uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new Error(
    `Running as root, and none of the users ${SERVICE_USERS.join(', ')} exists to run PostgreSQL.`,
  );
}

class ThrowawayCluster implements PostgresServerHandle {
  readonly url: string;
  private readonly exited: Promise<void>;
  private hasExited = false;
  private log = '';

  private constructor(
    private readonly server: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {
    this.url = `postgresql://postgres@${LOOPBACK}:${port}/postgres`;
    const forget = killOnExit(this);
    for (const stream of [server.stdout, server.stderr])
      stream?.on('data', (chunk: Buffer) => this.append(chunk));
    this.exited = new Promise((resolve) => {
      server.once('close', () => {
        this.hasExited = true;
        forget();
        rm(dir, { recursive: true, force: true }).then(resolve, resolve);
      });
    });
  }

  /** initdb, then the server; throws with the programs' last output when either fails. */
  static async start(binaries: Binaries, port: number): Promise<ThrowawayCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'keel-postgres-'));
    try {
      const prefix = await launcher(dir);
      const data = join(dir, 'data');
      await runToEnd([...prefix, binaries.initdb, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
      const settings = ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off'].flatMap((s) => [
        '-c',
        s,
      ]);
      const args = [...prefix, binaries.postgres, '-D', data, '-p', String(port), '-h', LOOPBACK, '-k', dir];
      const [command, ...rest] = [...args, ...settings];
      const server = spawn(command as string, rest, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const cluster = new ThrowawayCluster(server, port, dir);
      await cluster.waitUntilReady();
      return cluster;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (this.hasExited) return this.exited;
    this.server.kill('SIGINT');
    const escalate = setTimeout(() => this.server.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(escalate);
  }

  /** Synchronous last resort for the process 'exit' listener: immediate shutdown. */
  killNow(): void {
    this.server.kill('SIGQUIT');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitUntilReady(): Promise<void> {
    const ready = await waitUntil(
      () => pingPostgres(this.url),
      READY_TIMEOUT_MS,
      () => this.hasExited,
    );
    if (ready) {
      this.server.unref();
      for (const stream of [this.server.stdout, this.server.stderr])
        (stream as { unref?(): void } | null)?.unref?.();
      return;
    }
    const why = this.hasExited ? 'exited before answering' : `did not answer within ${READY_TIMEOUT_MS} ms`;
    this.server.kill('SIGKILL');
    await this.exited;
    throw new Error(
      `postgres on ${LOOPBACK}:${this.port} ${why}; its last log lines:\n${this.log || '(none)'}`,
    );
  }

  private append(chunk: Buffer): void {
    this.log = (this.log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  }
}

/** Runs `command` and resolves when it exits with 0; rejects with its last output otherwise. */
function runToEnd([command, ...args]: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${[command, ...args].join(' ')} exited with ${code}:\n${output}`));
    });
  });
}
