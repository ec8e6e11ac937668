/**
 * The processes `npm run bench:gateway` measures, each started as its own child so that the load
 * generator (wrk, a process of its own) never shares a CPU with a server's event loop:
 * the sample origin, `keel serve` in front of it, and nginx with `proxy_cache` in front of it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

const ROOT = join(import.meta.dirname, '..', '..');
const KEEL = join(ROOT, 'src', 'cli', 'keel.ts');
/** Node with tsx's loader, in one process (so its pid is the server's, for RSS readings). */
const NODE = [process.execPath, '--import', 'tsx', KEEL];
const READY_TIMEOUT_MS = 60_000;

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with code ${child.exitCode} before answering`);
    try {
      const response = await request(url);
      await response.body.dump();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${what} did not answer at ${url} within ${READY_TIMEOUT_MS} ms`);
}

/** Stops the child; then removes `folder` (its files), when it has one. */
function stopper(child: ChildProcess, folder?: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  };
}

export async function startSampleOrigin(port: number, latency: string): Promise<Child> {
  const child = spawn(
    NODE[0] as string,
    [...NODE.slice(1), 'sample-origin', '--port', String(port), '--latency', latency],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child, 'the sample origin');
  return { url, pid: child.pid as number, stop: stopper(child) };
}

const dataRoot = mkdtempSync(join(tmpdir(), 'keel-bench-data-'));
process.once('exit', () => rmSync(dataRoot, { recursive: true, force: true }));
const dataDir = (port: number) => join(dataRoot, String(port));

export async function startKeel(port: number, env: Record<string, string>): Promise<Child> {
  const child = spawn(NODE[0] as string, [...NODE.slice(1), 'serve'], {
    cwd: ROOT,
    // Its rollout state (an empty one) in a folder removed when the benchmark ends.
    env: { ...process.env, LOG_LEVEL: 'warn', KEEL_PORT: String(port), KEEL_DATA_DIR: dataDir(port), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health/live`, child, 'keel serve');
  return { url, pid: child.pid as number, stop: stopper(child) };
}

/**
 * nginx as a caching reverse proxy: one worker (Keel is one process), keep-alive to the origin,
 * a disk cache keyed by the request URI, 200s kept 10 minutes (the origin's max-age of 60 s is
 * honoured first), and `X-Cache` from `$upstream_cache_status`.
 */
export async function startNginx(binary: string, port: number, origin: string): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-nginx-'));
  mkdirSync(join(dir, 'logs'));
  // Started as root, nginx's worker runs as `nobody`, which must reach and write its cache here.
  chmodSync(dir, 0o777);
  const config = join(dir, 'nginx.conf');
  writeFileSync(
    config,
    `worker_processes 1;
error_log ${join(dir, 'logs', 'error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  proxy_cache_path ${join(dir, 'cache')} levels=1:2 keys_zone=keel:64m max_size=1g inactive=60m use_temp_path=off;
  upstream origin { server ${new URL(origin).host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} reuseport;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache keel;
      proxy_cache_key $request_uri;
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`,
  );
  const child = spawn(binary, ['-p', dir, '-c', config, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child, 'nginx');
  return { url, pid: child.pid as number, stop: stopper(child, dir) };
}

/** Resident memory of a process, from /proc (bytes). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}
