/**
 * The operations toolkit against real parts: verification against Redis, measurement, a load
 * test, status, analysis and the admin client against a running gateway, and the CLI's exit codes.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, isKeelError } from '../../../src/errors.js';
import {
  AdminClient,
  analyze,
  checkStatus,
  loadTarget,
  measureEndpoints,
  parsePaths,
  reportHtml,
  runLoadTest,
  verifyCache,
} from '../../../src/operations/index.js';
import type { RunningServer } from '../../../src/server/index.js';
import {
  freePort,
  redisUrl,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
} from '../../support/index.js';
import { ADMIN_TOKEN, Gateways, get } from '../server/gateway-harness.js';

const run = promisify(execFile);
const KEEL = ['node_modules/.bin/tsx', 'src/cli/keel.ts'];
const ROUTES = `
routes:
  - name: item
    path: /items/:id
    ttl: 1m
  - name: session
    path: /session
    ttl: 1m
`;

let origin: TestOrigin;
let gateway: RunningServer;
const gateways = new Gateways();

beforeAll(async () => {
  origin = await startTestOrigin((request) =>
    request.url === '/session'
      ? { headers: { 'set-cookie': ['sid=1'] }, body: '{}' }
      : { delayMs: 20, body: JSON.stringify({ url: request.url }) },
  );
  gateway = await gateways.start(origin.url, ROUTES);
});
afterAll(async () => {
  await gateways.closeAll();
  await origin.close();
});

describe('keel verify', () => {
  it('passes every check against a real Redis', async () => {
    const results = await verifyCache(await redisUrl());
    expect(results.map((result) => result.check)).toEqual([
      'Redis answers PING',
      'set, then get from the same instance',
      'another instance reads it from Redis',
      'delete reaches both tiers and the other instance',
      'tag invalidation',
      'pattern invalidation',
    ]);
    expect(results.filter((result) => !result.ok)).toEqual([]);
  });

  it('fails the first check, and stops there, when Redis is not there', async () => {
    const results = await verifyCache(`redis://127.0.0.1:${await freePort()}`);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ check: 'Redis answers PING', ok: false });
  });
});

describe('keel measure and loadtest', () => {
  it('measures each endpoint without and with the cache', async () => {
    const [result] = await measureEndpoints({
      baseUrl: new URL(gateway.url),
      paths: ['/items/1'],
      samples: 10,
    });
    expect(result?.withoutCache.p50).toBeGreaterThanOrEqual(18);
    expect(result?.withCache.p50).toBeLessThan(result?.withoutCache.p50 ?? 0);
    expect(result?.improvement).toBeGreaterThan(0.5);
    expect(result?.outcomes).toEqual({ HIT: 10 });
  });

  it('loads the gateway and reports throughput, latency and outcomes', async () => {
    let progressed = 0;
    const summary = await runLoadTest({
      url: new URL(gateway.url),
      paths: ['/items/1', '/items/2'],
      connections: 8,
      durationSeconds: 2,
      onProgress: () => progressed++,
    });
    expect(summary.requests).toBeGreaterThan(100);
    expect(summary.errors + summary.non2xx).toBe(0);
    expect(summary.outcomes.HIT ?? 0).toBeGreaterThan(summary.requests * 0.9);
    expect(progressed).toBeGreaterThan(0);
  });

  it('sends load only to this machine unless told otherwise, and reads path lists', () => {
    expect(() => loadTarget('http://10.1.2.3:8080', '--base-url', false)).toThrow(ConfigError);
    expect(loadTarget('http://10.1.2.3:8080', '--base-url', true).host).toBe('10.1.2.3:8080');
    expect(() => loadTarget('ftp://127.0.0.1', '--base-url', false)).toThrow(/--base-url: expected an http/);
    expect(parsePaths('/a\n# comment\n/b,/c\n', '--paths')).toEqual(['/a', '/b', '/c']);
    expect(() => parsePaths('a', '--paths')).toThrow(/--paths: every path must start with "\/"/);
  });
});

describe('keel status and analyze', () => {
  it('holds the figures against the thresholds and says the gateway is healthy', async () => {
    for (let i = 0; i < 120; i++) await get(`${gateway.url}/items/${i % 5}`);
    const report = await checkStatus(new URL(gateway.url));
    expect(report.ready).toBe(true);
    expect(report.healthy).toBe(true);
    expect(report.rows.find((row) => row.name === 'KeelErrorRate')?.level).toBe('ok');
    expect(report.rows.find((row) => row.name === 'KeelRedisBreakerOpen')?.level).toBe('n/a');
  });

  it('recommends from the figures and writes an HTML report', async () => {
    for (let i = 0; i < 60; i++) await get(`${gateway.url}/session`);
    const analysis = await analyze({ gateway: new URL(gateway.url) });
    const texts = analysis.recommendations.map((item) => item.text).join('\n');
    // Its origin sets a cookie on every answer: counted as bypass, never advised a longer TTL.
    expect(texts).toMatch(/Route session: all 60 requests bypassed the cache\. Either its origin forbids/);
    expect(texts).not.toMatch(/Route session.*Lengthen its ttl/);
    const html = reportHtml(analysis);
    expect(html).toContain('<svg');
    expect(html).toContain('session');
    expect(html).toContain('Recommendations');
  });
});

describe('admin client', () => {
  it('sets enablement by route, refusing unknown routes and a wrong token', async () => {
    const client = new AdminClient(new URL(gateway.url), ADMIN_TOKEN);
    expect(await client.setEnablement(['item'], 25)).toEqual([{ name: 'item', from: 100, to: 25 }]);
    expect((await client.routes()).find((route) => route.name === 'item')?.enabledPercent).toBe(25);
    expect(await client.setEnablement([], 100)).toHaveLength(2);
    await expect(client.setEnablement(['nope'], 10)).rejects.toThrow(/no read route named nope/);
    const wrong = new AdminClient(new URL(gateway.url), 'not-the-token');
    await expect(wrong.routes()).rejects.toSatisfy((error: unknown) => isKeelError(error, 'UNAUTHORIZED'));
    expect(() => new AdminClient(new URL(gateway.url), undefined)).toThrow(/^KEEL_ADMIN_TOKEN: /);
  });
});

describe('the keel command', () => {
  it('exits 2 naming the setting on bad input, and 0 on success', async () => {
    const bad = await run(KEEL[0] as string, [
      ...KEEL.slice(1),
      'routes',
      'enable',
      '101',
      '--base-url',
      gateway.url,
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toMatch(/keel: percent: expected an integer 0–100/);
    const serveBad = await run(KEEL[0] as string, [...KEEL.slice(1), 'serve', '--port', 'x']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(serveBad).toMatchObject({ code: 2 });
    expect((serveBad as { stderr: string }).stderr).toMatch(/keel: --port: expected a port number/);
    const ok = await run(KEEL[0] as string, [...KEEL.slice(1), 'status', '--base-url', gateway.url]);
    expect(ok.stdout).toMatch(/ready: .*yes/);
  }, 30_000);

  it('prints its version, and says what to do when there is nothing to talk to', async () => {
    const keel = (...args: string[]) =>
      run(KEEL[0] as string, [...KEEL.slice(1), ...args], {
        env: { ...process.env, KEEL_ADMIN_TOKEN: ADMIN_TOKEN },
      }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    expect((await keel('--version')).stdout.trim()).toBe(version);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    for (const args of [['status'], ['loadtest', '--paths', '/a', '--duration', '2s'], ['analyze']]) {
      const answer = await keel(...args, '--base-url', nobody);
      expect(answer, args[0]).toMatchObject({ code: 1 });
      expect(answer.stderr, args[0]).toContain(
        `keel: no gateway at ${nobody} (ECONNREFUSED): start one with`,
      );
      expect(answer.stdout, args[0]).toBe('');
    }
    const withoutAdmin = await startGatewayProcess({ origin: origin.url, routes: ROUTES });
    try {
      const routes = await keel('routes', 'list', '--base-url', withoutAdmin.url);
      expect(routes).toMatchObject({ code: 1 });
      expect(routes.stderr).toContain('has no admin API: start the gateway with KEEL_ADMIN_TOKEN');
    } finally {
      await withoutAdmin.stop();
    }
    const down = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [['verify'], ['cache', 'verify']]) {
      const verify = await keel(...args, '--redis-url', down);
      expect(verify.stdout, args.join(' ')).toMatch(/ECONNREFUSED 127\.0\.0\.1:\d+: is Redis running at/);
    }
  }, 60_000);
});

describe('scripts/cache-verification', () => {
  const script = (name: string, args: string[]) =>
    run(`scripts/cache-verification/${name}`, args, {
      env: { ...process.env, KEEL_ADMIN_TOKEN: ADMIN_TOKEN },
    });

  it('stages the cache deployment as a rollout (phase 1: 10 %, phase 2: all), rolls it back, and checks status', async () => {
    const client = new AdminClient(new URL(gateway.url), ADMIN_TOKEN);
    const percentOf = async () => (await client.routes()).map((route) => route.enabledPercent);
    const phase1 = await script('deploy.sh', ['--phase=1', '--base-url', gateway.url]);
    expect(phase1.stdout).toMatch(/started cache-enable-\S+ at phase 1/);
    expect(await percentOf()).toEqual([10, 10]);
    await script('deploy.sh', ['--env=production', '--phase=2', '--base-url', gateway.url]);
    expect(await percentOf()).toEqual([100, 100]);
    const back = await script('deploy.sh', ['--phase=1', '--base-url', gateway.url]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(back).toMatchObject({ code: 2 });
    expect((back as { stderr: string }).stderr).toMatch(/at phase 2 already; to go back, roll back/);
    const wrongPhase = await script('rollback_cache.sh', ['--phase=1', '--base-url', gateway.url]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((wrongPhase as { stderr: string }).stderr).toMatch(
      /is at phase 2, not 1; nothing was rolled back/,
    );
    await script('rollback_cache.sh', ['--phase=2', '--base-url', gateway.url]);
    expect(await percentOf()).toEqual([0, 0]);
    await script('deploy.sh', ['--phase=2', '--base-url', gateway.url]);
    expect(await percentOf()).toEqual([100, 100]);
    const bad = await script('deploy.sh', ['--phase=9']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toMatch(/--phase: expected 1, 2 or 3 \(got "9"\)/);
    const staging = await script('deploy.sh', ['--env=staging']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((staging as { stderr: string }).stderr).toMatch(
      /STAGING_URL: set it to the staging gateway's URL/,
    );
    const status = await script('check_system_status.sh', ['--base-url', gateway.url]);
    expect(status.stdout).toMatch(/ready: .*yes/);
  }, 60_000);

  it('collects and reports with the script flags --collect and --report', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-analyze-'));
    try {
      const report = join(folder, 'report.html');
      const analyzeScript = (args: string[]) =>
        run('scripts/cache-verification/analyze_cache_performance.sh', [...args, '--base-url', gateway.url], {
          env: { ...process.env, REPORT: report },
        });
      await analyzeScript(['--collect']);
      expect(existsSync(report)).toBe(false);
      const both = await analyzeScript(['--collect', '--report']);
      expect(both.stdout).toMatch(/hit rate/);
      expect(readFileSync(report, 'utf8')).toContain('<svg');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});
