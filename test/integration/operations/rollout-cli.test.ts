/**
 * `keel rollout` against running gateways, as an operator types it: start the cache-enable plan on
 * one instance, read its status and move it from another (they share the rollouts through Redis),
 * the emergency stop and its clearing, a rollback, and the history of all of it; and the errors an
 * operator meets (an unknown rollout, an action its state refuses, a plan file with a mistake);
 * and the shadow mismatches of a route with a candidate origin (`keel rollout diff`).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/server/index.js';
import { redisUrl, startTestOrigin, type TestOrigin, waitUntil } from '../../support/index.js';
import { ADMIN_TOKEN, Gateways } from '../server/gateway-harness.js';

const run = promisify(execFile);
const KEEL = ['node_modules/.bin/tsx', 'src/cli/keel.ts'];
const ROUTES = `
routes:
  - name: catalog
    path: /catalog/:id
    ttl: 1m
  - name: item
    path: /items/:id
    ttl: 1m
    tags: ["item:{id}"]
  - name: item-write
    path: /items/:id
    methods: [PUT]
    invalidates: ["item:{id}"]
`;

let origin: TestOrigin;
let a: RunningServer;
let b: RunningServer;
const gateways = new Gateways();
const folder = mkdtempSync(join(tmpdir(), 'keel-rollout-cli-'));

beforeAll(async () => {
  origin = await startTestOrigin(() => ({ body: '{}' }));
  const env = { REDIS_URL: await redisUrl(), KEEL_NAMESPACE: `rollout-cli-${randomUUID().slice(0, 8)}` };
  a = await gateways.start(origin.url, ROUTES, env);
  b = await gateways.start(origin.url, ROUTES, env);
});
afterAll(async () => {
  await gateways.closeAll();
  await origin?.close();
  rmSync(folder, { recursive: true, force: true });
});

async function keel(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(KEEL[0] as string, [...KEEL.slice(1), 'rollout', ...args], {
      env: { ...process.env, KEEL_ADMIN_TOKEN: ADMIN_TOKEN, NO_COLOR: '1', USER: 'ana' },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe('keel rollout', () => {
  it('starts, shows, moves, stops and rolls back a rollout shared by two gateways', async () => {
    const started = await keel('start', 'cache-enable', '--id', 'cache-1', '--base-url', a.url);
    expect(started.stdout).toMatch(/started cache-1 \(cache-enable\), stage 1/);

    const status = await keel('status', '--base-url', b.url);
    expect(status.stdout).toMatch(/cache-1 {2}cache-enable {2}running {2}stage 1/);
    expect(status.stdout).toMatch(/cache:read-only 10 %/);

    const detail = await keel('status', 'cache-1', '--base-url', b.url);
    expect(detail.code).toBe(0);
    expect(detail.stdout).toMatch(/stage since/);

    expect(
      (await keel('promote', 'cache-1', '--reason', 'logs are clean', '--base-url', b.url)).stdout,
    ).toMatch(/cache-1 .* stage 2/);
    expect(a.routes.enabledPercent(a.routes.route('catalog')!)).toBe(100);

    const stop = await keel('emergency-stop', '--reason', 'incident 42', '--base-url', a.url);
    expect(stop.stdout).toMatch(/stopped: cache:read-only 0 %, cache:write-affected 0 %/);
    const refused = await keel('promote', 'cache-1', '--base-url', a.url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/emergency stop is set \(operator:ana: incident 42\)/);
    expect((await keel('emergency-stop', '--clear', '--base-url', b.url)).stdout).toMatch(/cleared/);

    expect((await keel('rollback', 'cache-1', '--reason', 'test over', '--base-url', a.url)).stdout).toMatch(
      /rolled-back/,
    );
    const history = await keel('history', 'cache-1', '--base-url', b.url);
    const actions = history.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/)[1]);
    expect(actions.reverse()).toEqual(['start', 'weights', 'promote', 'weights', 'rollback', 'weights']);
    expect(history.stdout).toMatch(/promote +operator:ana: logs are clean/);
  }, 60_000);

  it('says what is wrong: an unknown rollout, a finished one, a plan file with a mistake', async () => {
    const unknown = await keel('pause', 'nope', '--base-url', a.url);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no rollout named nope/);
    const ended = await keel('resume', 'cache-1', '--base-url', a.url);
    expect(ended.stderr).toMatch(/cache-1 is rolled-back: it can no longer change/);
    const file = join(folder, 'bad.yaml');
    writeFileSync(
      file,
      'name: x\nstages:\n  - name: a\n    minDuration: 1m\n    switches: { cache:item: 150 }\n',
    );
    const fault = await keel('demo', '--fault', 'slowness');
    expect(fault.code).toBe(2);
    expect(fault.stderr).toMatch(/--fault: expected errors or latency \(got "slowness"\)/);
    const bad = await keel('start', file, '--base-url', a.url);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:5:\d+: stages\[0\]\.switches/);
  }, 60_000);

  it('shows the shadow mismatches of an instance, each with its differences', async () => {
    const candidate = await startTestOrigin((request) => ({
      body: JSON.stringify({ id: request.url, v: request.url === '/items/2' ? 2 : 1 }),
    }));
    const stable = await startTestOrigin((request) => ({ body: JSON.stringify({ id: request.url, v: 1 }) }));
    try {
      const routes = `routes:\n  - name: item\n    path: /items/:id\n    candidate: ${candidate.url}\n`;
      const gateway = await gateways.start(stable.url, routes);
      await gateway.rollout.rollout.board.set(
        { 'shadow:item': 100 },
        { actor: 'operator:test', action: 'set-weight', reason: 'test', at: Date.now() },
      );
      for (const id of [1, 2, 3]) await fetch(`${gateway.url}/items/${id}`).then((answer) => answer.text());
      expect(await waitUntil(async () => gateway.shadow.counts.compared === 3, 2_000)).toBe(true);
      const diff = await keel('diff', 'item', '--base-url', gateway.url);
      expect(diff.code).toBe(0);
      expect(diff.stdout).toMatch(/shadow: 3 compared, 66\.67 % identical/);
      expect(diff.stdout).toMatch(/GET \/items\/2 {2}\(item\) {2}stable 200, candidate 200/);
      expect(diff.stdout).toMatch(/ {2}body\.v: 1 → 2/);
      const json = JSON.parse((await keel('diff', '--json', '--base-url', gateway.url)).stdout);
      expect(json.mismatches[0].candidate.body).toBe('{"id":"/items/2","v":2}');
    } finally {
      await candidate.close();
      await stable.close();
    }
  }, 60_000);
});
