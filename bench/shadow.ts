/**
 * `npm run bench:shadow`: what shadow traffic costs the stable path. Each candidate gets a
 * `keel serve` process of its own in front of the same stable origin, and each such gateway is
 * compared with itself: its route's `shadow:product` switch is turned on and off (a plan started
 * and stopped through the admin API) between measuring windows, off–on–off–on–…–off, so the
 * windows with shadowing on sit between windows with it off in the same process, and each "on"
 * window is divided by the mean of the two "off" windows around it. Two processes started alike
 * differ in p99 by more than the effect measured here (JIT and heap layout), and a drift within a
 * run cancels out of a ratio taken that way. The candidates: healthy; taking 2 s to answer; gone
 * (nothing listens on its port); and healthy at five times the default KEEL_SHADOW_RATE, which
 * shows what the rate costs (reported, not a target). The noise row is the ratio of each gateway's
 * successive "off" windows.
 *
 * The load is wrk (a C program, gateway/wrk.ts) at a fixed pace, not at saturation: BENCH_CONNECTIONS
 * connections (default 32), each pausing 10 ms between requests (at most 3,200 requests/s), over
 * 1,000 product URLs that are all cached (warmed first), so what is measured is the stable path's
 * own latency while the copies go out. BENCH_ROUNDS "on" windows (default 5) of BENCH_SECONDS
 * (default 6) per gateway; p99 ratio = median over its "on" windows of (p99 ÷ mean p99 of the "off"
 * windows either side). Target: the three at the default rate ≤ 1.10.
 *
 * The origins run in this process (they see only the warm-up and the shadow copies); the stable one
 * and the healthy candidate answer the same products after 20 ms, with an `updated_at` of their
 * own that the route's `compare:` ignores. On a machine of two cores or more, the gateway being
 * measured is pinned to the first core, and this process, its origins, wrk and the gateways not
 * being measured to the others (taskset, from util-linux): the candidate's own work, which in
 * production runs elsewhere, and the idle gateways' timers must not take the measured gateway's
 * CPU. A run prints whether it could pin.
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
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
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
  /** Whether its p99 ratio is held to the target. */
  target: boolean;
  env?: Record<string, string>;
}

interface Measured {
  /** p99 of each window, off and on alternating, starting and ending with off. */
  p99s: number[];
  rates: number[];
  counts: { compared: number; matched: number; dropped: number; failed: number };
}

/** Turns the gateway's shadow switch on (a plan started) or off (that plan stopped). */
async function shadowSwitch(base: string, on: boolean, running: { id?: string }): Promise<void> {
  if (on) {
    const started = (await admin(base, 'POST', '/rollouts', { plan: SHADOW_PLAN, by: 'bench' })) as {
      id: string;
    };
    running.id = started.id;
  } else if (running.id !== undefined) {
    await admin(base, 'POST', `/rollouts/${running.id}/stop`, { by: 'bench', reason: 'window over' });
    running.id = undefined;
  }
}

/** The gateway's windows: off, on, off, …, off (ROUNDS "on" windows). */
async function measure(wrkBinary: string, gateway: Child, script: string): Promise<Measured> {
  const p99s: number[] = [];
  const rates: number[] = [];
  const running: { id?: string } = {};
  for (let window = 0; window <= 2 * ROUNDS; window++) {
    await shadowSwitch(gateway.url, window % 2 === 1, running);
    const result = await wrk(wrkBinary, {
      url: gateway.url,
      script,
      seconds: SECONDS,
      connections: CONNECTIONS,
    });
    if (result.errors > 0) throw new Error(`${result.errors} errors under load`);
    p99s.push(result.p99Ms);
    rates.push(result.rate);
  }
  const { counts } = (await admin(gateway.url, 'GET', '/shadow?limit=1')) as { counts: Measured['counts'] };
  return { p99s, rates, counts };
}

/** Each "on" window's p99 ÷ the mean of the "off" windows either side. */
function onRatios(p99s: number[]): number[] {
  const ratios: number[] = [];
  for (let on = 1; on < p99s.length - 1; on += 2)
    ratios.push((p99s[on] as number) / (((p99s[on - 1] as number) + (p99s[on + 1] as number)) / 2));
  return ratios;
}

/** Each "off" window's p99 ÷ the previous "off" window's. */
function offRatios(p99s: number[]): number[] {
  const ratios: number[] = [];
  for (let off = 2; off < p99s.length; off += 2)
    ratios.push((p99s[off] as number) / (p99s[off - 2] as number));
  return ratios;
}

async function main(): Promise<boolean> {
  const wrkBinary = await findExecutable('wrk');
  if (wrkBinary === undefined) {
    console.error(`bench:shadow needs wrk, not found on PATH: apt-get install ${debianPackage('wrk')}`);
    process.exit(2);
  }
  const [stablePort, healthyPort, slowPort, deadPort, ...gatewayPorts] = (await freePorts(8)) as number[];
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
    { name: 'shadow → healthy candidate', candidate: url(healthyPort), target: true },
    { name: `shadow → candidate taking ${SLOW_DELAY_MS / 1000} s`, candidate: url(slowPort), target: true },
    { name: 'shadow → candidate gone', candidate: url(deadPort), target: true },
    ...[5].map((times) => ({
      name: `shadow → healthy, ${defaultRate * times}/s (not a target)`,
      candidate: url(healthyPort),
      target: false,
      env: { KEEL_SHADOW_RATE: String(defaultRate * times) },
    })),
  ];
  const gateways: Child[] = [];
  try {
    for (const [index, setup] of setups.entries()) {
      const gateway = await startKeel(gatewayPorts[index] as number, {
        KEEL_ORIGIN: url(stablePort),
        KEEL_ROUTES: routesFile(`routes-${index}`, setup.candidate),
        KEEL_ADMIN_TOKEN: ADMIN_TOKEN,
        KEEL_MEMORY_MAX_BYTES: '128mb',
        ...setup.env,
      });
      gateways.push(gateway);
      await warm(gateway.url);
    }
    const script = pathsScript(workFolder, productPaths, PAUSE_MS);
    const rows: Record<string, Record<string, string | number>> = {};
    const noise: number[] = [];
    let pass = true;
    for (const [index, setup] of setups.entries()) {
      const gateway = gateways[index] as Child;
      if (pinned) for (const other of gateways) pin(other.pid, other === gateway ? '0' : `1-${cores - 1}`);
      await wrk(wrkBinary, { url: gateway.url, script, seconds: 2, connections: CONNECTIONS });
      const { p99s, rates, counts } = await measure(wrkBinary, gateway, script);
      noise.push(...offRatios(p99s));
      const ratio = median(onRatios(p99s));
      if (setup.target && ratio > TARGET_P99_RATIO) pass = false;
      rows[setup.name] = {
        'GET/s': formatRate(median(rates)),
        'p99 ms off': Number(median(p99s.filter((_, i) => i % 2 === 0)).toFixed(2)),
        'p99 ms on': Number(median(p99s.filter((_, i) => i % 2 === 1)).toFixed(2)),
        'p99 on ÷ off': ratio.toFixed(2),
        compared: counts.compared,
        identical: counts.compared === 0 ? '-' : `${((100 * counts.matched) / counts.compared).toFixed(1)} %`,
        'not sent (bound)': counts.dropped,
        unanswered: counts.failed,
      };
    }
    const spread = noise.map((ratio) => Math.abs(Math.log(ratio))).sort((a, b) => a - b);
    console.table(rows);
    console.log(
      `noise: successive shadow-off windows of one gateway differ by a median ${(100 * (Math.exp(median(spread)) - 1)).toFixed(1)} % in p99 (largest ${(100 * (Math.exp(spread.at(-1) ?? 0) - 1)).toFixed(1)} %)`,
    );
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  stable p99 with shadowing on at ${defaultRate} copies/s ÷ off, every candidate: target ≤ ${TARGET_P99_RATIO}`,
    );
    return pass;
  } finally {
    for (const gateway of gateways) await gateway.stop();
    await Promise.all(origins.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

console.log(
  `Keel shadow-traffic benchmark — Node ${process.version}; ${CONNECTIONS} connections pausing ${PAUSE_MS} ms, ${ROUNDS} rounds of ${SECONDS} s\n`,
);
process.exitCode = (await main()) ? 0 : 1;
