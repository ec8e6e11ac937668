/**
 * `npm run bench:shadow`: what shadow traffic costs the stable path.
 *
 * Each candidate gets a pair of `keel serve` processes in front of the same stable origin, and the
 * two of a pair are measured at the same time, under the same load, their event loops on the same
 * core: in each window one of them shadows (its route's `shadow:product` switch on: a plan started
 * through the admin API) and the other does not. What the machine does at a moment (another
 * tenant's burst, a timer) falls on both, where windows taken one after the other on a shared
 * machine differ by 10–20 % in p99, more than the effect measured. The two take turns shadowing,
 * so that what differs between two processes started alike (JIT, heap layout) weighs on both
 * sides. Between those windows come windows where neither shadows, one labelled "on" in turn:
 * the same figure computed on them (A/A) shows how far apart two sides without any difference
 * land, the method's resolution on this machine that day.
 *
 * The figure is the p99 of all the "on" windows' requests pooled ÷ that of the "off" windows'
 * (lib/latency-tail.ts, from the tail wrk prints of each window), with a bootstrap 95 % interval
 * over pairs of windows. The candidates: healthy; taking 2 s to answer; gone (nothing listens on
 * its port); and healthy at five times the default KEEL_SHADOW_RATE, which shows what the rate
 * costs (reported, not a target). Target: the three at the default rate ≤ 1.10.
 *
 * Each window starts BENCH_SETTLE_SECONDS (default 2) after its switch, under the same load:
 * starting or stopping a rollout is an operator's act that costs the event loop a few milliseconds
 * once (the plan parsed, the state written, the first evaluation), and a window opening on it
 * measured that one stall rather than what shadowing costs while it runs.
 *
 * The load is wrk (a C program, gateway/wrk.ts) at a fixed pace, not at saturation: per gateway,
 * BENCH_CONNECTIONS connections (default 16), each pausing 10 ms between requests (at most 1,600
 * requests/s each, 3,200 on the core), over 1,000 product URLs that are all cached (warmed first),
 * so what is measured is the stable path's own latency while the copies go out. BENCH_ROUNDS
 * (default 12) windows of BENCH_SECONDS (default 4) with one gateway shadowing, as many with
 * neither: about 11 minutes in all. BENCH_ONLY (a word of a candidate's name: healthy, taking,
 * gone) measures only the pairs whose name has it.
 *
 * The origins run in this process (they see only the warm-up and the shadow copies); the stable one
 * and the healthy candidate answer the same products after 20 ms, with an `updated_at` of their
 * own that the route's `compare:` ignores. On a machine of two cores or more, the event loops of
 * the pair being measured are pinned to the first core, and this process, its origins, wrk and
 * the gateways not being measured (all their threads) to the others (taskset, from util-linux):
 * the candidate's own work, which in production runs elsewhere, and the idle gateways' timers
 * must not take the measured gateways' CPU. Their helper threads (V8's garbage collector, libuv's
 * pool) stay where they were: on a server they have cores of their own too. A run prints whether
 * it could pin.
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
import { pathsScript, type WrkResult, wrk } from './gateway/wrk.js';
import { formatRate, median } from './lib/harness.js';
import {
  type PooledRatio,
  pooledPercentile,
  pooledRatio,
  type TailWindow,
  type WindowPair,
} from './lib/latency-tail.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
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

/** Pins `pid` to `cpus` (a taskset list such as "0" or "1-3"), all its threads or only its main one. */
function pin(pid: number, cpus: string, threads: 'all' | 'main' = 'all'): boolean {
  try {
    execFileSync('taskset', [...(threads === 'all' ? ['-a'] : []), '-cp', cpus, String(pid)], {
      stdio: 'ignore',
    });
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

type ShadowCounts = { compared: number; matched: number; dropped: number; failed: number };

/** A gateway of a pair, and the plan that turns its shadow switch on, while one runs. */
interface Shadowed {
  gateway: Child;
  runningId?: string;
}

/** Turns the gateway's shadow switch on (a plan started) or off (that plan stopped). */
async function setShadow(shadowed: Shadowed, on: boolean): Promise<void> {
  const { url } = shadowed.gateway;
  if (on && shadowed.runningId === undefined) {
    const started = (await admin(url, 'POST', '/rollouts', { plan: SHADOW_PLAN, by: 'bench' })) as {
      id: string;
    };
    shadowed.runningId = started.id;
  } else if (!on && shadowed.runningId !== undefined) {
    await admin(url, 'POST', `/rollouts/${shadowed.runningId}/stop`, { by: 'bench', reason: 'window over' });
    shadowed.runningId = undefined;
  }
}

/** The same load on every gateway at once, for `seconds`; each one's report. */
async function loadAll(
  wrkBinary: string,
  gateways: readonly Child[],
  script: string,
  seconds: number,
): Promise<(WrkResult & TailWindow)[]> {
  const results = await Promise.all(
    gateways.map((gateway) =>
      wrk(wrkBinary, { url: gateway.url, script, seconds, connections: CONNECTIONS }),
    ),
  );
  return results.map((result) => {
    if (result.errors > 0) throw new Error(`${result.errors} errors under load`);
    if (result.tail === undefined) throw new Error("wrk's report has no latency tail");
    return { ...result, tail: result.tail };
  });
}

interface PairMeasured {
  /** Windows where one gateway shadowed ("on") and the other did not ("off"). */
  shadow: WindowPair[];
  /** Windows where neither did, one of them labelled "on" in turn: the A/A check. */
  alike: WindowPair[];
  counts: ShadowCounts;
  rates: number[];
}

/**
 * A pair's windows. First, shadowing on for both and off again, unmeasured: the first time a
 * gateway copies a request, the request path's optimized code meets cases it has never run (a
 * sampled copy, an answer recorded) and V8 deoptimizes it (--trace-deopt: callOf, handle,
 * writeWhole, the switch lookups), then optimizes it again within a second or so; that happens
 * once per process, not at every switch. Then 2 × ROUNDS windows: A shadowing, neither (A
 * labelled "on"), B shadowing, neither (B labelled "on"), … each after SETTLE_SECONDS of load.
 */
async function measurePair(
  wrkBinary: string,
  pair: [Shadowed, Shadowed],
  script: string,
): Promise<PairMeasured> {
  const gateways = pair.map((shadowed) => shadowed.gateway);
  for (const on of [true, false]) {
    for (const shadowed of pair) await setShadow(shadowed, on);
    await loadAll(wrkBinary, gateways, script, SETTLE_SECONDS);
  }
  const measured: PairMeasured = {
    shadow: [],
    alike: [],
    counts: { compared: 0, matched: 0, dropped: 0, failed: 0 },
    rates: [],
  };
  for (let window = 0; window < 2 * ROUNDS; window++) {
    const shadowing = window % 2 === 0;
    const labelledOn = Math.floor(window / 2) % 2;
    const [first, second] = [pair[labelledOn] as Shadowed, pair[1 - labelledOn] as Shadowed];
    await setShadow(second, false);
    await setShadow(first, shadowing);
    await loadAll(wrkBinary, gateways, script, SETTLE_SECONDS);
    const [on, off] = await loadAll(wrkBinary, [first.gateway, second.gateway], script, SECONDS);
    (shadowing ? measured.shadow : measured.alike).push({ on: on as TailWindow, off: off as TailWindow });
    measured.rates.push((on as WrkResult).rate, (off as WrkResult).rate);
  }
  for (const shadowed of pair) {
    await setShadow(shadowed, false);
    const { counts } = (await admin(shadowed.gateway.url, 'GET', '/shadow?limit=1')) as {
      counts: ShadowCounts;
    };
    for (const key of Object.keys(counts) as (keyof ShadowCounts)[]) measured.counts[key] += counts[key];
  }
  return measured;
}

const interval = ({ ratio, low, high }: PooledRatio) =>
  `${ratio.toFixed(2)} (${low.toFixed(2)}–${high.toFixed(2)})`;

async function main(): Promise<boolean> {
  const wrkBinary = await findExecutable('wrk');
  if (wrkBinary === undefined) {
    console.error(`bench:shadow needs wrk, not found on PATH: apt-get install ${debianPackage('wrk')}`);
    process.exit(2);
  }
  const [stablePort, healthyPort, slowPort, deadPort, ...gatewayPorts] = (await freePorts(12)) as number[];
  const cores = availableParallelism();
  const pinned = cores >= 2 && pin(process.pid, `1-${cores - 1}`);
  console.log(
    pinned
      ? `the pair measured pinned to CPU 0; wrk, the origins and the other gateways to CPUs 1-${cores - 1}`
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
  const only = process.env.BENCH_ONLY;
  if (only !== undefined)
    setups.splice(0, setups.length, ...setups.filter((setup) => setup.name.includes(only)));
  const gateways: Child[] = [];
  const pairs: [Shadowed, Shadowed][] = [];
  try {
    for (const [index, setup] of setups.entries()) {
      const routes = routesFile(`routes-${index}`, setup.candidate);
      const pair = await Promise.all(
        [0, 1].map(async (member) => {
          const gateway = await startKeel(gatewayPorts[2 * index + member] as number, {
            KEEL_ORIGIN: url(stablePort),
            KEEL_ROUTES: routes,
            KEEL_ADMIN_TOKEN: ADMIN_TOKEN,
            KEEL_MEMORY_MAX_BYTES: '128mb',
            ...setup.env,
          });
          gateways.push(gateway);
          await warm(gateway.url);
          return { gateway };
        }),
      );
      pairs.push(pair as [Shadowed, Shadowed]);
    }
    const script = pathsScript(workFolder, productPaths, PAUSE_MS, { tail: true });
    const rows: Record<string, Record<string, string | number>> = {};
    let pass = true;
    let conclusive = true;
    for (const [index, setup] of setups.entries()) {
      const pair = pairs[index] as [Shadowed, Shadowed];
      const measuring = pair.map((shadowed) => shadowed.gateway);
      if (pinned)
        for (const gateway of gateways)
          if (measuring.includes(gateway)) pin(gateway.pid, '0', 'main');
          else pin(gateway.pid, `1-${cores - 1}`);
      const { shadow, alike, counts, rates } = await measurePair(wrkBinary, pair, script);
      const shadowCost = pooledRatio(shadow);
      if (setup.target && shadowCost.ratio > TARGET_P99_RATIO) pass = false;
      if (setup.target && shadowCost.high > TARGET_P99_RATIO) conclusive = false;
      rows[setup.name] = {
        'GET/s each': formatRate(median(rates)),
        'p99 ms off': Number(pooledPercentile(shadow.map((window) => window.off)).toFixed(2)),
        'p99 ms on': Number(pooledPercentile(shadow.map((window) => window.on)).toFixed(2)),
        'p99 on ÷ off (95 %)': interval(shadowCost),
        'A/A (95 %)': interval(pooledRatio(alike)),
        compared: counts.compared,
        identical: counts.compared === 0 ? '-' : `${((100 * counts.matched) / counts.compared).toFixed(1)} %`,
        'not sent (bound)': counts.dropped,
        unanswered: counts.failed,
      };
    }
    console.table(rows);
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  stable p99 with shadowing on at ${defaultRate} copies/s ÷ off, every candidate: target ≤ ${TARGET_P99_RATIO}${conclusive ? '' : ' (an interval reaches past the target: more rounds would tell)'}`,
    );
    return pass;
  } finally {
    for (const gateway of gateways) await gateway.stop();
    await Promise.all(origins.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

console.log(
  `Keel shadow-traffic benchmark — Node ${process.version}; two gateways at once, ${CONNECTIONS} connections each pausing ${PAUSE_MS} ms; ${ROUNDS} windows of ${SECONDS} s with one shadowing and ${ROUNDS} with neither, each ${SETTLE_SECONDS} s after its switch\n`,
);
process.exitCode = (await main()) ? 0 : 1;
