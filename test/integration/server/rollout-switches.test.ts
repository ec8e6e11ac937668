/**
 * A gateway's cache switches as rollout switches: a route's enablement set on one instance reaches
 * the others through Redis within a second and is read by an instance started later; with no
 * Redis it survives a restart in KEEL_DATA_DIR; the route groups `read-only` and
 * `write-affected` follow the cache-enable plan's stages, and of a route's own switch and its
 * group's the one set last wins; a plan naming what the gateway lacks is refused at start; every
 * read is counted on its side of the switch for the guards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheEnable, migration } from '../../../src/rollout/index.js';
import {
  redisUrl,
  startRedisServer,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';
import { admin, Gateways, get } from './gateway-harness.js';

const ROUTES = `
routes:
  - name: catalog
    path: /catalog/:id
    ttl: 1m
    tags: ["catalog"]
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
const gateways = new Gateways();
const folders: string[] = [];

beforeAll(async () => {
  origin = await startTestOrigin((request) => ({ body: JSON.stringify({ url: request.url }) }));
});
afterAll(async () => {
  await gateways.closeAll();
  await origin?.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const enabled = async (url: string, route: string) =>
  (JSON.parse((await admin(url, 'GET', '/routes')).body) as { name: string; enabledPercent: number }[]).find(
    (entry) => entry.name === route,
  )?.enabledPercent;

describe('a route enablement', () => {
  it('reaches every instance sharing Redis within a second, and an instance started later', async () => {
    const env = { REDIS_URL: await redisUrl(), KEEL_NAMESPACE: `switches-${randomUUID().slice(0, 8)}` };
    const a = await gateways.start(origin.url, ROUTES, env);
    const b = await gateways.start(origin.url, ROUTES, env);
    expect((await admin(a.url, 'PUT', '/routes/item/enabled', { percent: 0 })).status).toBe(200);
    const started = performance.now();
    expect(await waitUntil(async () => (await enabled(b.url, 'item')) === 0, 1_000)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    await get(`${b.url}/items/1`);
    expect((await get(`${b.url}/items/1`)).xCache).toBe('BYPASS');
    const c = await gateways.start(origin.url, ROUTES, env);
    expect(await enabled(c.url, 'item')).toBe(0);
    const audit = await a.rollout.rollout.store.audit({ limit: 1 });
    expect(audit[0]).toMatchObject({ actor: 'api', action: 'set-weight', switches: { 'cache:item': 0 } });
  });

  it('survives a restart in KEEL_DATA_DIR when there is no Redis', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keel-switches-'));
    folders.push(dataDir);
    const first = await gateways.start(origin.url, ROUTES, { KEEL_DATA_DIR: dataDir });
    await admin(first.url, 'PUT', '/routes/catalog/enabled', { percent: 25 });
    await gateways.stop(first);
    const second = await gateways.start(origin.url, ROUTES, { KEEL_DATA_DIR: dataDir });
    expect(await enabled(second.url, 'catalog')).toBe(25);
  });
});

describe('a shared store down at start', () => {
  it('starts with the routes file, refuses changes, and joins the others when the store answers', async () => {
    const redis = await startRedisServer();
    try {
      await redis.stop();
      const env = { REDIS_URL: redis.url, KEEL_NAMESPACE: `rejoin-${randomUUID().slice(0, 8)}` };
      const late = await gateways.start(origin.url, ROUTES, env);
      expect(late.rollout.storeWarning).toMatch(/rollout store not reached .*tried again every 5 s/);
      expect(await enabled(late.url, 'item')).toBe(100);
      const refused = await admin(late.url, 'PUT', '/routes/item/enabled', { percent: 0 });
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body).error.code).toBe('STORE_UNAVAILABLE');

      await redis.start();
      const first = await gateways.start(origin.url, ROUTES, env);
      expect((await admin(first.url, 'PUT', '/routes/item/enabled', { percent: 20 })).status).toBe(200);
      // The late instance tries again every 5 s, then takes the weights the others have.
      expect(await waitUntil(async () => (await enabled(late.url, 'item')) === 20, 12_000)).toBe(true);
      expect((await admin(late.url, 'PUT', '/routes/item/enabled', { percent: 30 })).status).toBe(200);
      expect(await waitUntil(async () => (await enabled(first.url, 'item')) === 30, 1_000)).toBe(true);
    } finally {
      await redis.stop();
    }
  }, 30_000);
});

describe('route groups', () => {
  it('follow the cache-enable plan stage by stage; a later route switch wins over its group', async () => {
    const gateway = await gateways.start(origin.url, ROUTES);
    expect(gateway.routes.group(gateway.routes.route('catalog')!)).toBe('read-only');
    expect(gateway.routes.group(gateway.routes.route('item')!)).toBe('write-affected');
    const { actions } = gateway.rollout.rollout;
    const record = await actions.start(cacheEnable(), 'operator:test');
    expect(await enabled(gateway.url, 'catalog')).toBe(10);
    expect(await enabled(gateway.url, 'item')).toBe(0);
    await actions.promote(record.id, 'operator:test');
    expect(await enabled(gateway.url, 'catalog')).toBe(100);
    expect(await enabled(gateway.url, 'item')).toBe(10);
    await admin(gateway.url, 'PUT', '/routes/item/enabled', { percent: 100 });
    expect(await enabled(gateway.url, 'item')).toBe(100);
    await actions.rollback(record.id, 'operator:test', 'test over');
    expect(await enabled(gateway.url, 'catalog')).toBe(0);
    expect(await enabled(gateway.url, 'item')).toBe(0);
  });

  it('refuses at start a plan naming a route the gateway lacks, or a traffic switch without a candidate', async () => {
    const gateway = await gateways.start(origin.url, ROUTES);
    const { actions } = gateway.rollout.rollout;
    await expect(actions.start(migration({ route: 'item' }), 'operator:test')).rejects.toThrow(
      /route item has no candidate origin; name one in the routes file/,
    );
    const plan = {
      ...cacheEnable(),
      stages: cacheEnable().stages.map((s) => ({ ...s, switches: { 'cache:nope': 10 } })),
    };
    await expect(actions.start(plan, 'operator:test')).rejects.toThrow(/no read route named nope/);
    const pathProbe = {
      ...cacheEnable(),
      metrics: {
        health: { probe: { url: '/health', timeoutMs: 1_000, intervalMs: 1_000, expectStatus: 200 } },
      },
    };
    await expect(actions.start(pathProbe, 'operator:test')).rejects.toThrow(
      /probe health: a path is sent to a route's candidate origin/,
    );
  });
});

describe('figures for the guards', () => {
  it('counts every read on its side of the switch: cached (candidate) or straight to the origin (stable)', async () => {
    const gateway = await gateways.start(origin.url, ROUTES, { KEEL_STICKY_KEY: 'header:x-user-id' });
    await admin(gateway.url, 'PUT', '/routes/item/enabled', { percent: 50 });
    for (let user = 0; user < 200; user++)
      await get(`${gateway.url}/items/${user % 5}`, { 'x-user-id': `u${user}` });
    const figures = gateway.rollout.figures.rotate(['cache:item']);
    expect(figures.stable.requests + figures.candidate.requests).toBe(200);
    expect(figures.candidate.requests).toBeGreaterThan(70);
    expect(figures.stable.requests).toBeGreaterThan(70);
    expect(figures.candidate.errors + figures.stable.errors).toBe(0);
  });
});

describe('the consistency probe', () => {
  it('finds a cached answer the origin no longer gives (compare.ignore fields aside), and agrees again once a write invalidates it', async () => {
    let version = 1;
    // The origin stamps every answer; the route's compare: leaves the stamp out.
    const changing = await startTestOrigin((request) => ({
      body: JSON.stringify({ url: request.url, version, servedAt: Date.now() }),
    }));
    try {
      const routes = ROUTES.replace(
        'tags: ["item:{id}"]',
        'tags: ["item:{id}"]\n    compare: { ignore: [servedAt] }',
      );
      const gateway = await gateways.start(changing.url, routes);
      await gateway.rollout.rollout.actions.start(cacheEnable(), 'operator:test');
      await admin(gateway.url, 'PUT', '/routes/item/enabled', { percent: 100 });
      expect(await waitUntil(async () => gateway.rollout.rollout.controller.evaluating, 5_000)).toBe(true);
      // Hot enough for the cache's sampled top keys (one request in TOP_KEYS_SAMPLE_EVERY).
      for (let i = 0; i < 200; i++) await get(`${gateway.url}/items/1`);
      await gateway.consistency.round();
      expect(gateway.consistency.mismatchRate()).toBe(0);
      version = 2; // changed at the origin, behind the cache's back
      await gateway.consistency.round();
      expect(gateway.consistency.mismatchRate()).toBe(1);
      await get(`${gateway.url}/items/1`, { 'content-type': 'application/json' }, 'PUT', '{}');
      for (let i = 0; i < 2; i++) await get(`${gateway.url}/items/1`);
      await gateway.consistency.round();
      expect(gateway.consistency.mismatchRate()).toBe(0);
    } finally {
      await changing.close();
    }
  });
});
