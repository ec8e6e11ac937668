/**
 * `keel serve` as a process of its own, for the tests that attack the gateway from the outside:
 * what a client or an origin can do to a real gateway (its sockets, its memory, its file
 * descriptors) only shows in a process the test does not share.
 *
 * The gateway is started from source (node with tsx's loader, one process, so its pid is the
 * server's for RSS readings) on free ports, with the routes file written to a folder of its own
 * that `stop()` removes. Ready when its banner has printed the URLs. Its stdout and stderr are
 * kept, so a test can read what it logged. `fdLimit` starts it under `ulimit -n`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const KEEL = join(ROOT, 'src', 'cli', 'keel.ts');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface GatewayProcessOptions {
  /** The origin's URL (KEEL_ORIGIN). */
  origin: string;
  /** The routes file's text, if any. */
  routes?: string;
  /** More settings, as environment variables. */
  env?: Record<string, string>;
  /** Soft and hard limit of open files for the process. */
  fdLimit?: number;
}

export interface GatewayProcess {
  /** The public URL (the API). */
  url: string;
  /** The operations URL (/metrics, /api/status, /admin): `url` unless KEEL_ADMIN_PORT is set. */
  adminUrl: string;
  /** The routes file, when the gateway has one (rewrite it, then `signal('SIGHUP')`). */
  routesFile?: string;
  pid: number;
  signal(name: NodeJS.Signals): void;
  /** Everything the process printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resident memory of the process now, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-gateway-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NO_COLOR: '1',
    LOG_LEVEL: 'warn',
    KEEL_PORT: '0',
    KEEL_MEMORY_MAX_BYTES: '64mb',
    KEEL_ORIGIN: options.origin,
    KEEL_DATA_DIR: join(dir, 'data'),
    ...options.env,
  };
  if (options.routes !== undefined) {
    env.KEEL_ROUTES = join(dir, 'routes.yaml');
    writeFileSync(env.KEEL_ROUTES, options.routes);
  }
  const node = [process.execPath, '--import', 'tsx', KEEL, 'serve'];
  const child =
    options.fdLimit === undefined
      ? spawn(node[0] as string, node.slice(1), { cwd: ROOT, env })
      : spawn('sh', ['-c', `ulimit -n ${options.fdLimit} && exec "$@"`, 'sh', ...node], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stop = stopper(child, dir);
  try {
    const urls = await banner(
      child,
      () => stdout,
      () => stderr,
    );
    return {
      ...urls,
      routesFile: env.KEEL_ROUTES,
      pid: child.pid as number,
      signal: (name) => child.kill(name),
      stdout: () => stdout,
      stderr: () => stderr,
      rss: () => rssOf(child.pid as number),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for the banner's URLs (the API's, and the admin listener's when it has one). */
async function banner(
  child: ChildProcess,
  stdout: () => string,
  stderr: () => string,
): Promise<{ url: string; adminUrl: string }> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const api = /API\s+(http:\/\/\S+)/.exec(stdout());
    if (api !== null) {
      const dashboard = /dashboard\s+(http:\/\/\S+)\/dashboard/.exec(stdout());
      return { url: api[1] as string, adminUrl: dashboard?.[1] ?? (api[1] as string) };
    }
    if (child.exitCode !== null)
      throw new Error(`keel serve exited with code ${child.exitCode} before it was ready:\n${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`keel serve printed no banner within ${READY_TIMEOUT_MS} ms:\n${stdout()}\n${stderr()}`);
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** VmRSS of a process, in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}
