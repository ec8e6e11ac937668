/**
 * Start-up errors of a real `keel serve` process: a bad setting or routes file ends it with exit
 * code 2 and one line on stderr, `keel: <setting or file:line:col>: …`, with no stack trace. The
 * rules themselves have their unit tests (test/unit/server, test/unit/util); this file shows that
 * each kind of mistake reaches the process's exit that way, and that the start-up banner masks the
 * origin's credentials. Every case is its own short-lived process; they run concurrently.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const KEEL = join(ROOT, 'src', 'cli', 'keel.ts');
/** An origin nobody answers on: every case stops before the gateway would ask it anything. */
const ORIGIN = 'http://127.0.0.1:9';
const EXIT_TIMEOUT_MS = 25_000;

interface Outcome {
  /** The exit code, or 'started' when the gateway came up (it is then stopped). */
  exit: number | 'started';
  stdout: string;
  stderr: string;
}

/** The environment of the test run without any setting of Keel's, so each case sets only its own. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(KEEL_|REDIS_URL$|LOG_LEVEL$)/.test(name)),
  );
}

const routesDir = mkdtempSync(join(tmpdir(), 'keel-config-errors-'));
let dataCount = 0;

/** Runs `keel <args>` until it exits, or until it prints its ready banner (then stops it). */
function runKeel(args: readonly string[], env: Record<string, string>): Promise<Outcome> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', KEEL, ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), LOG_LEVEL: 'silent', KEEL_DATA_DIR: join(routesDir, `data-${++dataCount}`), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keel ${args.join(' ')} neither exited nor started within ${EXIT_TIMEOUT_MS} ms`));
    }, EXIT_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!started && stdout.includes('gateway ready')) {
        started = true;
        child.kill('SIGTERM');
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exit: started ? 'started' : (code ?? -1), stdout, stderr });
    });
  });
}

afterAll(() => rmSync(routesDir, { recursive: true, force: true }));
let fileCount = 0;
function routesFile(yaml: string): string {
  const file = join(routesDir, `routes-${++fileCount}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** `keel serve` with these settings must exit 2, printing one line that matches `line`. */
async function expectConfigError(env: Record<string, string>, line: RegExp): Promise<void> {
  const outcome = await runKeel(['serve'], { KEEL_ORIGIN: ORIGIN, KEEL_PORT: '0', ...env });
  expect(outcome.stderr.trimEnd().split('\n'), 'one line, no stack trace').toHaveLength(1);
  expect(outcome.stderr.trimEnd()).toMatch(line);
  expect(outcome.exit).toBe(2);
}

const SETTINGS_CASES: [string, Record<string, string>, RegExp][] = [
  [
    'a hexadecimal port',
    { KEEL_PORT: '0x1F9B' },
    /^keel: KEEL_PORT: expected a port number 0–65535 \(got "0x1F9B"\)$/,
  ],
  [
    'an empty port',
    { KEEL_PORT: '' },
    /^keel: KEEL_PORT: is empty, which is not read as unset: unset KEEL_PORT to use the default \(8080\)/,
  ],
  [
    'an origin timeout of 0',
    { KEEL_UPSTREAM_TIMEOUT: '0' },
    /^keel: KEEL_UPSTREAM_TIMEOUT: expected a duration from 1ms to 10m, like 10s \(got "0"\)$/,
  ],
  [
    'an admin token of 16 spaces (shown as ***)',
    { KEEL_ADMIN_TOKEN: ' '.repeat(16) },
    /^keel: KEEL_ADMIN_TOKEN: expected a token of 16 or more visible ASCII characters.* \(got \*\*\*\)$/,
  ],
  [
    'an origin with a path and query (its credentials masked)',
    { KEEL_ORIGIN: 'http://svc:s3cret@127.0.0.1:9/api?v=2' },
    /^keel: KEEL_ORIGIN: expected an http:\/\/ or https:\/\/ URL with no path, query or fragment \(the gateway forwards the client's path as is\) \(got "http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:9\/api\?v=2"\)$/,
  ],
  [
    'a log file in a folder that cannot be made (under a regular file)',
    { LOG_FILE_PATH: `${KEEL}/logs/app.log` },
    /^keel: LOG_FILE_PATH: cannot be opened for appending: ENOTDIR/,
  ],
];

/** Nine levels of ten aliases each: 10⁹ nodes once expanded, from a file of a few hundred bytes. */
function aliasBomb(): string {
  const letters = 'abcdefghij';
  const lines = ['routes:', '  - path: /a', `    tags: &a [${Array(10).fill('lol').join(', ')}]`];
  for (let level = 1; level < letters.length; level++) {
    const items = Array(10)
      .fill(`*${letters[level - 1]}`)
      .join(', ');
    lines.push(`  - path: /${letters[level]}`, `    tags: &${letters[level]} [${items}]`);
  }
  return `${lines.join('\n')}\n`;
}

const ROUTES_CASES: [string, string, string, RegExp][] = [
  [
    'two read routes of the same shape',
    'routes:\n  - path: /a/:id\n  - path: /a/:name\n',
    '3:11',
    /routes\[1\]\.path: "\/a\/:name" matches the same GET requests as routes\[0\] \("\/a\/:id"\)/,
  ],
  [
    'a "*" before the end of a path',
    'routes:\n  - path: /a/*/b\n',
    '2:11',
    /routes\[0\]\.path: "\/a\/\*\/b": "\*" matches the rest of the path, so it can only be the last segment$/,
  ],
  [
    'a parameter named twice',
    'routes:\n  - path: /a/:id/:id\n',
    '2:11',
    /routes\[0\]\.path: "\/a\/:id\/:id" names the parameter :id twice; give each a distinct name$/,
  ],
  [
    'a YAML alias bomb',
    aliasBomb(),
    '5:15',
    /routes\[1\]\.tags\[0\]: the YAML aliases here expand to more than 100 nodes/,
  ],
  ['an empty file', '', '1:1', /\(file\): the file is empty; list the routes under "routes:"/],
  [
    'a ttl past what the cache can keep',
    'routes:\n  - path: /a\n    ttl: 100000000000000d\n',
    '3:10',
    /routes\[0\]\.ttl: expected "adaptive", "origin" or a duration up to 365d, like "5m" \(got "100000000000000d"\)$/,
  ],
  [
    '255 tags',
    `routes:\n  - path: /a\n    tags: [${Array.from({ length: 255 }, (_, i) => `t${i}`).join(', ')}]\n`,
    '3:11',
    /routes\[0\]\.tags: at most 254 tags/,
  ],
  [
    'a dataType of 128 characters and 256 bytes',
    `routes:\n  - path: /a\n    dataType: ${'é'.repeat(128)}\n`,
    '3:15',
    /routes\[0\]\.dataType: must be at most 255 bytes in UTF-8/,
  ],
];

describe.concurrent('keel serve: a bad setting ends it with exit 2 and one line naming the setting', () => {
  it.each(SETTINGS_CASES)('%s', async (_title, env, line) => {
    await expectConfigError(env, line);
  });
});

describe.concurrent('keel serve: a bad routes file ends it with exit 2, naming file:line:col and field', () => {
  it.each(ROUTES_CASES)('%s', async (_title, yaml, position, message) => {
    const file = routesFile(yaml);
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expectConfigError(
      { KEEL_ROUTES: file },
      new RegExp(`^keel: ${escaped}:${position}: ${message.source}`),
    );
  });
});

describe.concurrent('keel serve: failures while starting, and the banner', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('a port in use: exit 2 naming KEEL_PORT', async () => {
    const port = (taken.address() as { port: number }).port;
    await expectConfigError(
      { KEEL_PORT: String(port) },
      new RegExp(`^keel: KEEL_PORT: cannot listen on 127\\.0\\.0\\.1:${port} \\(listen EADDRINUSE`),
    );
  });

  it('a required Redis that does not answer: exit 1, one line, its password masked', async () => {
    const outcome = await runKeel(['serve'], {
      KEEL_ORIGIN: ORIGIN,
      KEEL_PORT: '0',
      REDIS_URL: 'redis://:hunter2@127.0.0.1:9',
      KEEL_REDIS_REQUIRED: 'true',
    });
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(
      /^keel: Redis at redis:\/\/\*\*\*@127\.0\.0\.1:9 did not answer within \d+ ms/,
    );
    expect(outcome.exit).toBe(1);
  });

  it("shows the origin's credentials masked in the start-up banner", async () => {
    const outcome = await runKeel(['serve'], {
      KEEL_ORIGIN: 'http://svc:s3cret@127.0.0.1:9',
      KEEL_PORT: '0',
    });
    expect(outcome.exit).toBe('started');
    expect(outcome.stdout).toMatch(/origin {5}http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:9\//);
    expect(outcome.stdout + outcome.stderr).not.toMatch(/s3cret|svc/);
  });
});
