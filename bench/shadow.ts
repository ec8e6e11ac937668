/**
 * `npm run bench:shadow`: what shadow traffic costs the stable path. The same gateway set-up is
 * measured six times in one run, each a `keel serve` process of its own in front of the same
 * stable origin: shadowing off, twice (the second shows the run's noise); every request shadowed,
 * at the default KEEL_SHADOW_RATE, to a healthy candidate, to a candidate that takes 2 s to answer
 * and to a candidate that is gone (nothing listens on its port); and to the healthy candidate at
 * five times that rate, which shows what the rate buys (reported, not a target).
 *
 * The load is wrk (a C program, gateway/wrk.ts) at a fixed pace, not at saturation: BENCH_CONNECTIONS
 * connections (default 32), each pausing 10 ms between requests (at most 3,200 requests/s), over
 * 1,000 product URLs that are all cached (warmed first), so what is measured is the stable path's
 * own latency while the copies go out. BENCH_ROUNDS rounds (default 5) of BENCH_SECONDS (default 8)
 * per gateway, in a rotated order; p99 ratio = median over rounds of (that gateway's p99 ÷ the
 * shadow-off gateway's p99 in the same round). Target: the three at the default rate ≤ 1.10.
 *
 * The origins run in this process (they see only the warm-up and the shadow copies); the stable one
 * and the healthy candidate answer the same products after 20 ms, with an `updated_at` of their
 * own that the route's `compare:` ignores. On a machine of two cores or more, the gateway being
 * measured is pinned to the first core, and this process, its origins, wrk and the gateways not
 * being measured to the others (taskset, from util-linux): the candidate's own work, which in
 * production runs elsewhere, and the idle gateways' timers must not take the measured gateway's
 * CPU. A run prints whether it could pin. A second shadow-off gateway measured
 * like the others shows the run's own noise.
 * Exit code 1 when a target fails; 2 when wrk is missing.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SETTINGS } from '../src/config.js';
import { debianPackage, findExecutable } from '../test/support/executables.js';
import { freePorts, LOOPBACK } from '../test/support/free-port.js';
import { type Child, startKeel } from './gateway/processes.js';
import { pathsScript, wrk } from './gateway/wrk.js';
import { formatRate, median } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PAUSE_MS = 10;
const PRODUCTS = 1_000;
const ORIGIN_DELAY_MS = 20;
const SLOW_DELAY_MS = 2_000;
const TARGET_P99_RATIO = 1.1;
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const productPaths = Array.from({ length: PRODUCTS }, (_, i) => `/products/${i + 1}`);
const workFolder = mkdtempSync(join(tmpdir(), 'keel-bench-shadow-'));
process.once('exit', () => rmSync(workFolder, { recursive: true, force: true }));

/** An origin answering `/products/:id` with the same product after `delayMs`, stamped with its own time. */
async function productOrigin(port: number, delayMs: number): Promise<Server> {
  const server = createServer((req, res) => {
    const id = Number(req.url?.split('/')[2]);
    setTimeout(() => {
      const body = JSON.stringify({
        product: {
          id,
          title: `Product ${id}`,
          price: (id * 1.25).toFixed(2),
          updated_at: new Date().toISOString(),
        },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600' });
      res.end(body);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
  return server;
}

function routesFile(name: string, candidateUrl: string): string {
  const file = join(workFolder, `${name}.yaml`);
  writeFileSync(
    file,
    `routes:
  - name: product
    path: /products/:id
    ttl: origin
    candidate: ${candidateUrl}
    compare: { ignore: [updated_at] }
`,
  );
  return file;
}

const SHADOW_PLAN = `name: shadow-bench
stages:
  - name: shadow
    switches: { shadow:product: 100 }
    minDuration: 1d
    gate: manual
`;

async function admin(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await request(`${base}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text);
}

/** Pins `pid` to `cpus` (a taskset list such as "0" or "1-3"); false when it cannot. */
function pin(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-cp', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function warm(base: string): Promise<void> {
  for (const path of productPaths) await (await request(`${base}${path}`)).body.dump();
}

interface Setup {
  name: string;
  candidate: string;
  shadowed: boolean;
  /** Whether its p99 ratio is held to the target. */
  target: boolean;
  env?: Record<string, string>;
}

interface Contender {
  name: string;
  gateway: Child;
  shadowed: boolean;
  target: boolean;
}

async function main(): Promise<boolean> {
  const wrkBinary = await findExecutable('wrk');
  if (wrkBinary === undefined) {
    console.error(`bench:shadow needs wrk, not found on PATH: apt-get install ${debianPackage('wrk')}`);
    process.exit(2);
  }
  const [stablePort, healthyPort, slowPort, deadPort, ...gatewayPorts] = (await freePorts(10)) as number[];
  const cores = availableParallelism();
  const pinned = cores >= 2 && pin(process.pid, `1-${cores - 1}`);
  console.log(
    pinned
      ? `the gateway measured pinned to CPU 0; wrk, the origins and the other gateways to CPUs 1-${cores - 1}`
      : 'not pinned (one core, or no taskset): the candidate and wrk share the gateways’ CPUs',
  );
  const origins = await Promise.all([
    productOrigin(stablePort as number, ORIGIN_DELAY_MS),
    productOrigin(healthyPort as number, ORIGIN_DELAY_MS),
    productOrigin(slowPort as number, SLOW_DELAY_MS),
  ]);
  const url = (port: number | undefined) => `http://${LOOPBACK}:${port}`;
  const defaultRate = Number(SETTINGS.shadowRate.fallback);
  const setups: Setup[] = [
    { name: 'shadow off', candidate: url(healthyPort), shadowed: false, target: false },
    { name: 'shadow off (again: noise)', candidate: url(healthyPort), shadowed: false, target: false },
    { name: 'shadow → healthy candidate', candidate: url(healthyPort), shadowed: true, target: true },
    {
      name: `shadow → candidate taking ${SLOW_DELAY_MS / 1000} s`,
      candidate: url(slowPort),
      shadowed: true,
      target: true,
    },
    { name: 'shadow → candidate gone', candidate: url(deadPort), shadowed: true, target: true },
    {
      name: `shadow → healthy, ${defaultRate * 5}/s (not a target)`,
      candidate: url(healthyPort),
      shadowed: true,
      target: false,
      env: { KEEL_SHADOW_RATE: String(defaultRate * 5) },
    },
  ];
  const contenders: Contender[] = [];
  try {
    for (const [index, setup] of setups.entries()) {
      const gateway = await startKeel(gatewayPorts[index] as number, {
        KEEL_ORIGIN: url(stablePort),
        KEEL_ROUTES: routesFile(`routes-${index}`, setup.candidate),
        KEEL_ADMIN_TOKEN: ADMIN_TOKEN,
        KEEL_MEMORY_MAX_BYTES: '128mb',
        ...setup.env,
      });
      contenders.push({ name: setup.name, gateway, shadowed: setup.shadowed, target: setup.target });
      await warm(gateway.url);
      if (setup.shadowed) await admin(gateway.url, 'POST', '/rollouts', { plan: SHADOW_PLAN, by: 'bench' });
    }
    const script = pathsScript(workFolder, productPaths, PAUSE_MS);
    for (const contender of contenders)
      await wrk(wrkBinary, { url: contender.gateway.url, script, seconds: 2, connections: CONNECTIONS });
    const runs = new Map<string, { rate: number; p99: number }[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(round + k) % contenders.length] as Contender;
        if (pinned)
          for (const other of contenders)
            pin(other.gateway.pid, other === contender ? '0' : `1-${cores - 1}`);
        const result = await wrk(wrkBinary, {
          url: contender.gateway.url,
          script,
          seconds: SECONDS,
          connections: CONNECTIONS,
        });
        if (result.errors > 0) throw new Error(`${contender.name}: ${result.errors} errors under load`);
        runs.get(contender.name)?.push({ rate: result.rate, p99: result.p99Ms });
      }
    const baseline = runs.get('shadow off') ?? [];
    const rows: Record<string, Record<string, string | number>> = {};
    let pass = true;
    for (const contender of contenders) {
      const list = runs.get(contender.name) ?? [];
      const ratio = median(list.map((run, round) => run.p99 / (baseline[round] as { p99: number }).p99));
      const counts = contender.shadowed
        ? (
            (await admin(contender.gateway.url, 'GET', '/shadow?limit=1')) as {
              counts: { compared: number; matched: number; dropped: number; failed: number };
            }
          ).counts
        : undefined;
      if (contender.target && ratio > TARGET_P99_RATIO) pass = false;
      rows[contender.name] = {
        'GET/s': formatRate(median(list.map((run) => run.rate))),
        'p99 ms': Number(median(list.map((run) => run.p99)).toFixed(2)),
        'p99 ÷ off': ratio.toFixed(2),
        compared: counts?.compared ?? '-',
        identical:
          counts === undefined || counts.compared === 0
            ? '-'
            : `${((100 * counts.matched) / counts.compared).toFixed(1)} %`,
        'not sent (bound)': counts?.dropped ?? '-',
        unanswered: counts?.failed ?? '-',
      };
    }
    console.table(rows);
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  stable p99 with shadowing on at ${defaultRate} copies/s ÷ off, every candidate: target ≤ ${TARGET_P99_RATIO}`,
    );
    return pass;
  } finally {
    for (const contender of contenders) await contender.gateway.stop();
    await Promise.all(origins.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

console.log(
  `Keel shadow-traffic benchmark — Node ${process.version}; ${CONNECTIONS} connections pausing ${PAUSE_MS} ms, ${ROUNDS} rounds of ${SECONDS} s\n`,
);
process.exitCode = (await main()) ? 0 : 1;
