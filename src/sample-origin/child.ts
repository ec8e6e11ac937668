/**
 * The sample origin in a process of its own, as `keel serve` starts it when no origin is given.
 *
 * Its embedded PostgreSQL (PGlite: Postgres compiled to WebAssembly) holds about 500 MB of memory
 * whatever the data; in the gateway's process that would be most of what its status page, its
 * metrics and its dashboard report as the gateway's memory. As a child it is the origin it stands
 * for: another process, reached over loopback, stopped with the gateway.
 *
 * The child is `keel sample-origin` from this same installation (the TypeScript sources through
 * tsx in a checkout, the compiled JavaScript in a package), on a free port; it is ready when it
 * prints its URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../errors.js';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
const READY_LINE = /sample origin ready at (http:\/\/\S+)/;

export interface SampleOriginProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly pid: number;
  close(): Promise<void>;
}

/** Starts the sample origin in a child process; resolves once it answers. */
export async function spawnSampleOrigin(options: { latencyMs: number }): Promise<SampleOriginProcess> {
  const here = fileURLToPath(import.meta.url);
  const extension = extname(here);
  const entry = join(dirname(here), '..', 'cli', `keel${extension}`);
  const loader = extension === '.ts' ? ['--import', 'tsx'] : [];
  const child = spawn(
    process.execPath,
    [...loader, entry, 'sample-origin', '--port', '0', '--latency', `${options.latencyMs}ms`],
    { cwd: join(dirname(here), '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stopWithParent = () => child.kill('SIGKILL');
  process.once('exit', stopWithParent);
  const close = async () => {
    process.off('exit', stopWithParent);
    await stop(child);
  };
  try {
    const url = await readyUrl(child);
    return { url, pid: child.pid as number, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    const timer = setTimeout(
      () => fail(`did not start within ${READY_TIMEOUT_MS / 1000} s`),
      READY_TIMEOUT_MS,
    );
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new KeelError('UPSTREAM_UNAVAILABLE', `the bundled sample origin ${why}: ${errors.trim()}`));
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = READY_LINE.exec(output);
      if (ready === null) return;
      clearTimeout(timer);
      for (const stream of [child.stdout, child.stderr]) {
        stream?.removeAllListeners('data');
        stream?.resume();
      }
      resolve(ready[1] as string);
    });
    child.once('exit', (code) => fail(`exited with code ${code}`));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
