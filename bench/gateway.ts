/**
 * `npm run bench:gateway`: the gateway's cached GET throughput against nginx's `proxy_cache` in
 * front of the same origin, and the origin alone, measured in one run; then a long run over many
 * distinct keys that checks the gateway's memory stays within its budget.
 *
 * Set-up: the sample origin (20 ms of added latency), `keel serve` in front of it (L1 only, its
 * sample routes: products cached by the origin's Cache-Control), and nginx 1 worker (Keel is one
 * process) with a proxy cache, each a process of its own, and wrk (one thread) as the load
 * generator, in C, so that it is not what limits the servers (gateway/wrk.ts). All on loopback. The keys: 1,000 product URLs, requested once through each cache before measuring,
 * so every measured request is a cache hit (the X-Cache share is printed to show it).
 *
 * A. Throughput: BENCH_ROUNDS rounds (default 3), each giving every contender BENCH_SECONDS of
 *    load (default 8) from 64 connections, in a rotated order. Ratio = median over rounds of
 *    Keel's rate ÷ nginx's in the same round. Target: Keel ≥ 0.5× nginx.
 * B. Memory: BENCH_RSS_SECONDS (default 120) of load over 100,000 distinct URLs (1,000 products ×
 *    100 query variants, about 190 MiB of responses as charged) on two fresh gateways in turn: one
 *    with a 1 MiB L1 (the baseline: the runtime's own memory under this traffic, misses, origin
 *    connections, garbage) and one with a BENCH_RSS_BUDGET L1 (default 128 MiB), which the URLs
 *    overflow, so it evicts throughout. RSS is read from /proc every second. What the cache adds is
 *    the difference of the two peaks. Target: within the budget plus 20 %.
 * BENCH_PARTS=throughput or =memory runs one part alone.
 * Exit code 1 when a target fails. Needs nginx and wrk (Debian packages nginx, wrk): checked before
 * anything starts, exit code 2 with the apt-get line when one is missing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SAMPLE_ROUTES_YAML } from '../src/sample-origin/routes.js';
import { formatBytes, parseBytes } from '../src/util/bytes.js';
import { debianPackage, findExecutable, requireExecutable } from '../test/support/executables.js';
import { freePorts } from '../test/support/free-port.js';
import { type Child, rssOf, startKeel, startNginx, startSampleOrigin } from './gateway/processes.js';
import { pathsScript, wrk } from './gateway/wrk.js';
import { formatRate, median, target } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const RSS_SECONDS = Number(process.env.BENCH_RSS_SECONDS ?? 120);
const CONNECTIONS = 64;
const PRODUCTS = 1_000;
const VARIANTS = 100;
const ORIGIN_LATENCY = '20ms';
const RSS_BUDGET = process.env.BENCH_RSS_BUDGET ?? '128mb';
/** The baseline's budget: a cache that holds next to nothing. */
const BARE_BUDGET = '1mb';
const RSS_BUDGET_BYTES = parseBytes(RSS_BUDGET) ?? Number.NaN;
const TARGET_VS_NGINX = 0.5;
const RSS_ALLOWANCE = 1.2;

const productPaths = Array.from({ length: PRODUCTS }, (_, i) => `/products/${i + 1}`);

interface Run {
  rate: number;
  p99: number;
}

/** The benchmark's files (routes, wrk scripts), removed when it ends. */
const workFolder = mkdtempSync(join(tmpdir(), 'keel-bench-gateway-'));
process.once('exit', () => rmSync(workFolder, { recursive: true, force: true }));
const productScript = pathsScript(workFolder, productPaths);

/** wrk on `url` for `seconds`, walking `script`'s paths. */
function load(wrkBinary: string, url: string, script: string, seconds: number, connections = CONNECTIONS) {
  return wrk(wrkBinary, { url, script, seconds, connections });
}

/** Requests every path once (and reports how many answers were cache hits on a second pass). */
async function warm(base: string, paths: readonly string[]): Promise<number> {
  for (const path of paths) await (await request(`${base}${path}`)).body.dump();
  let hits = 0;
  for (const path of paths) {
    const response = await request(`${base}${path}`);
    await response.body.dump();
    if (response.headers['x-cache'] === 'HIT') hits++;
  }
  return hits / paths.length;
}

/** The sample routes, written to a file of their own for `keel serve --routes`. */
function sampleRoutesFile(): string {
  const routes = join(workFolder, 'routes.yaml');
  writeFileSync(routes, SAMPLE_ROUTES_YAML);
  return routes;
}

async function throughput(): Promise<boolean> {
  const [nginxBinary, wrkBinary] = await Promise.all([requireExecutable('nginx'), requireExecutable('wrk')]);
  const [originPort, keelPort, nginxPort] = await freePorts(3);
  const routes = sampleRoutesFile();
  const children: Child[] = [];
  try {
    const origin = await startSampleOrigin(originPort as number, ORIGIN_LATENCY);
    children.push(origin);
    const keel = await startKeel(keelPort as number, {
      KEEL_ORIGIN: origin.url,
      KEEL_ROUTES: routes,
      KEEL_MEMORY_MAX_BYTES: '256mb',
    });
    children.push(keel);
    const nginx = await startNginx(nginxBinary, nginxPort as number, origin.url);
    children.push(nginx);
    const contenders = [
      { name: 'keel', url: keel.url },
      { name: 'nginx proxy_cache', url: nginx.url },
      { name: 'origin alone', url: origin.url },
    ];
    console.log(
      `warm-up: Keel ${(await warm(keel.url, productPaths)) * 100}% hits, nginx ${(await warm(nginx.url, productPaths)) * 100}% hits on a second pass`,
    );
    for (const contender of contenders) await load(wrkBinary, contender.url, productScript, 2);
    const runs = new Map<string, Run[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(round + k) % contenders.length]!;
        const result = await load(wrkBinary, contender.url, productScript, SECONDS);
        if (result.errors > 0) throw new Error(`${contender.name}: ${result.errors} errors under load`);
        runs.get(contender.name)!.push({ rate: result.rate, p99: result.p99Ms });
      }
    }
    const keelRates = runs.get('keel')!.map((run) => run.rate);
    const ratio = (peer: string) =>
      median(keelRates.map((rate, round) => rate / runs.get(peer)![round]!.rate));
    console.table(
      Object.fromEntries(
        [...runs].map(([name, list]) => [
          name,
          {
            'GET/s': formatRate(median(list.map((run) => run.rate))),
            'rounds min–max': `${formatRate(Math.min(...list.map((run) => run.rate)))} – ${formatRate(Math.max(...list.map((run) => run.rate)))}`,
            'p99 ms': median(list.map((run) => run.p99)),
            'keel ÷ this': ratio(name).toFixed(2),
          },
        ]),
      ),
    );
    return target('cached GET throughput vs nginx proxy_cache', ratio('nginx proxy_cache'), TARGET_VS_NGINX);
  } finally {
    for (const child of children.reverse()) await child.stop();
  }
}

interface MemoryRun {
  peakRss: number;
  requests: number;
  rate: number;
  evictions: number;
  heldBytes: number;
  entries: number;
}

/** A fresh gateway with an L1 budget of `budget` under RSS_SECONDS of load on `paths`: its peak RSS. */
async function rssUnderLoad(
  wrkBinary: string,
  originUrl: string,
  routes: string,
  budget: string,
  script: string,
): Promise<MemoryRun> {
  const [port] = await freePorts(1);
  const keel = await startKeel(port as number, {
    KEEL_ORIGIN: originUrl,
    KEEL_ROUTES: routes,
    KEEL_MEMORY_MAX_BYTES: budget,
  });
  try {
    let peakRss = rssOf(keel.pid);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssOf(keel.pid));
    }, 1_000);
    const result = await load(wrkBinary, keel.url, script, RSS_SECONDS, 32);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssOf(keel.pid));
    const status = (await (await request(`${keel.url}/api/status`)).body.json()) as {
      cache: { memory: { bytes: number; entries: number }; evictions: number };
    };
    return {
      peakRss,
      requests: result.requests,
      rate: result.rate,
      evictions: status.cache.evictions,
      heldBytes: status.cache.memory.bytes,
      entries: status.cache.memory.entries,
    };
  } finally {
    await keel.stop();
  }
}

async function memory(): Promise<boolean> {
  const wrkBinary = await requireExecutable('wrk');
  const [originPort] = await freePorts(1);
  const routes = sampleRoutesFile();
  const paths: string[] = [];
  for (let variant = 0; variant < VARIANTS; variant++)
    for (const path of productPaths) paths.push(`${path}?variant=${variant}`);
  const origin = await startSampleOrigin(originPort as number, '0ms');
  try {
    console.log(
      `B. ${RSS_SECONDS} s over ${paths.length.toLocaleString('en')} distinct URLs, once with a ${BARE_BUDGET} L1 and once with ${RSS_BUDGET}`,
    );
    const script = pathsScript(workFolder, paths);
    const bare = await rssUnderLoad(wrkBinary, origin.url, routes, BARE_BUDGET, script);
    const cached = await rssUnderLoad(wrkBinary, origin.url, routes, RSS_BUDGET, script);
    for (const [name, run] of [
      [BARE_BUDGET, bare],
      [RSS_BUDGET, cached],
    ] as const) {
      console.log(
        `   L1 budget ${name}: ${run.requests.toLocaleString('en')} requests (${formatRate(run.rate)}), ${run.evictions.toLocaleString('en')} evictions, ` +
          `${formatBytes(run.heldBytes)} held in ${run.entries.toLocaleString('en')} entries at the end; peak RSS ${formatBytes(run.peakRss)}`,
      );
    }
    const growth = cached.peakRss - bare.peakRss;
    const share = growth / RSS_BUDGET_BYTES;
    const pass = share <= RSS_ALLOWANCE;
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  peak RSS the cache adds (${formatBytes(growth)}) ÷ its budget: ${share.toFixed(2)} (target ≤ ${RSS_ALLOWANCE})`,
    );
    return pass;
  } finally {
    await origin.stop();
  }
}

/** The programs `parts` run, checked before anything starts: a missing one stops the run at once. */
async function checkPrograms(parts: readonly string[]): Promise<void> {
  const programs = parts.includes('throughput') ? (['nginx', 'wrk'] as const) : (['wrk'] as const);
  const missing: (typeof programs)[number][] = [];
  for (const program of programs) if ((await findExecutable(program)) === undefined) missing.push(program);
  if (missing.length === 0) return;
  const packages = missing.map((program) => debianPackage(program)).join(' ');
  console.error(
    `bench:gateway needs ${missing.join(' and ')}, not found on PATH: apt-get install ${packages}`,
  );
  process.exit(2);
}

const parts = (process.env.BENCH_PARTS ?? 'throughput,memory').split(',');
await checkPrograms(parts);
console.log(
  `Keel gateway benchmark — Node ${process.version}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s\n`,
);
const passed: boolean[] = [];
if (parts.includes('throughput')) {
  console.log('A. Cached GET of 1,000 product URLs');
  passed.push(await throughput());
}
if (parts.includes('memory')) passed.push(await memory());
process.exitCode = passed.every(Boolean) ? 0 : 1;
