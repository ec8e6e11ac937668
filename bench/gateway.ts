/**
 * `npm run bench:gateway`: the gateway's cached GET throughput against nginx's `proxy_cache` in
 * front of the same origin, and the origin alone, measured in one run; then a long run over many
 * distinct keys that checks the gateway's memory stays within its budget.
 *
 * Set-up: the sample origin (20 ms of added latency), `keel serve` in front of it (L1 only, its
 * sample routes: products cached by the origin's Cache-Control), and nginx 1 worker (Keel is one
 * process) with a proxy cache, each a process of its own; autocannon runs in this process. All
 * on loopback. The keys: 1,000 product URLs, requested once through each cache before measuring,
 * so every measured request is a cache hit (the X-Cache share is printed to show it).
 *
 * A. Throughput: BENCH_ROUNDS rounds (default 3), each giving every contender BENCH_SECONDS of
 *    load (default 8) from 64 connections, in a rotated order. Ratio = median over rounds of
 *    Keel's rate ÷ nginx's in the same round. Target: Keel ≥ 0.5× nginx.
 * B. Memory: a fresh gateway with a BENCH_RSS_BUDGET L1 budget (default 128 MiB) under
 *    BENCH_RSS_SECONDS (default 120) of load over 100,000 distinct URLs (1,000 products × 100 query
 *    variants, about 190 MiB of responses as charged), more than the budget holds, so it evicts
 *    throughout. RSS is read from /proc every second. The baseline is the peak RSS of the same load
 *    on a single URL for 10 s (the runtime's own share under load: heap growth, socket buffers).
 *    Target: the growth over it stays within the budget plus 20 %.
 * BENCH_PARTS=throughput or =memory runs one part alone.
 * Exit code 1 when a target fails. Needs nginx (Debian package nginx).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import { SAMPLE_ROUTES_YAML } from '../src/sample-origin/routes.js';
import { formatBytes, parseBytes } from '../src/util/bytes.js';
import { requireExecutable } from '../test/support/executables.js';
import { freePorts } from '../test/support/free-port.js';
import { type Child, rssOf, startKeel, startNginx, startSampleOrigin } from './gateway/processes.js';
import { formatRate, median, target } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const RSS_SECONDS = Number(process.env.BENCH_RSS_SECONDS ?? 120);
const BASELINE_SECONDS = 10;
const CONNECTIONS = 64;
const PRODUCTS = 1_000;
const VARIANTS = 100;
const ORIGIN_LATENCY = '20ms';
const RSS_BUDGET = process.env.BENCH_RSS_BUDGET ?? '128mb';
const RSS_BUDGET_BYTES = parseBytes(RSS_BUDGET) ?? Number.NaN;
const TARGET_VS_NGINX = 0.5;
const RSS_ALLOWANCE = 1.2;

const productPaths = Array.from({ length: PRODUCTS }, (_, i) => `/products/${i + 1}`);

interface Run {
  rate: number;
  p99: number;
}

/**
 * Load on `paths` for `seconds`: the connections share one cursor over the paths (autocannon's
 * own `requests` list would walk every connection through it in step), so N requests cover
 * N distinct paths before any repeats.
 */
function load(
  url: string,
  paths: readonly string[],
  seconds: number,
  connections = CONNECTIONS,
): Promise<autocannon.Result> {
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        requests: [
          { method: 'GET', setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
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

async function throughput(): Promise<boolean> {
  const nginxBinary = await requireExecutable('nginx');
  const [originPort, keelPort, nginxPort] = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-gateway-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, SAMPLE_ROUTES_YAML);
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
    for (const contender of contenders) await load(contender.url, productPaths, 2);
    const runs = new Map<string, Run[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(round + k) % contenders.length]!;
        const result = await load(contender.url, productPaths, SECONDS);
        runs.get(contender.name)!.push({ rate: result.requests.average, p99: result.latency.p99 });
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

async function memory(): Promise<boolean> {
  const [originPort, keelPort] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-rss-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, SAMPLE_ROUTES_YAML);
  const origin = await startSampleOrigin(originPort as number, '0ms');
  let keel: Child | undefined;
  try {
    keel = await startKeel(keelPort as number, {
      KEEL_ORIGIN: origin.url,
      KEEL_ROUTES: routes,
      KEEL_MEMORY_MAX_BYTES: RSS_BUDGET,
    });
    // The runtime's own share under load (heap growth, buffers), with a cache that holds next to
    // nothing: the same load on one URL. What the 100,000 URLs add beyond it is the cache's.
    const pid = keel.pid;
    let idle = rssOf(pid);
    const baseline = setInterval(() => {
      idle = Math.max(idle, rssOf(pid));
    }, 1_000);
    await load(keel.url, ['/products/1'], BASELINE_SECONDS, 32);
    clearInterval(baseline);
    idle = Math.max(idle, rssOf(pid));
    const paths: string[] = [];
    for (let variant = 0; variant < VARIANTS; variant++)
      for (const path of productPaths) paths.push(`${path}?variant=${variant}`);
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(pid));
    }, 1_000);
    const result = await load(keel.url, paths, RSS_SECONDS, 32);
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(pid));
    const status = (await (await request(`${keel.url}/api/status`)).body.json()) as {
      cache: { memory: { bytes: number; entries: number }; evictions: number };
      process: Record<string, number>;
    };
    const growth = peak - idle;
    console.log(
      `B. ${RSS_SECONDS} s over ${paths.length.toLocaleString('en')} distinct URLs: ${result.requests.total.toLocaleString('en')} requests (${formatRate(result.requests.average)}), ` +
        `${status.cache.evictions.toLocaleString('en')} evictions, L1 ${formatBytes(status.cache.memory.bytes)} in ${status.cache.memory.entries.toLocaleString('en')} entries; ` +
        `RSS under load on one URL ${formatBytes(idle)}, peak ${formatBytes(peak)}, growth ${formatBytes(growth)} for a ${formatBytes(RSS_BUDGET_BYTES)} budget ` +
        `(at the end: JS heap ${formatBytes(status.process.heapUsedBytes ?? 0)} used of ${formatBytes(status.process.heapTotalBytes ?? 0)}, buffers ${formatBytes(status.process.externalBytes ?? 0)})`,
    );
    const share = growth / RSS_BUDGET_BYTES;
    const pass = share <= RSS_ALLOWANCE;
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  RSS growth ÷ L1 budget: ${share.toFixed(2)} (target ≤ ${RSS_ALLOWANCE})`,
    );
    return pass;
  } finally {
    await keel?.stop();
    await origin.stop();
  }
}

console.log(
  `Keel gateway benchmark — Node ${process.version}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s\n`,
);
const parts = (process.env.BENCH_PARTS ?? 'throughput,memory').split(',');
const passed: boolean[] = [];
if (parts.includes('throughput')) {
  console.log('A. Cached GET of 1,000 product URLs');
  passed.push(await throughput());
}
if (parts.includes('memory')) passed.push(await memory());
process.exitCode = passed.every(Boolean) ? 0 : 1;
