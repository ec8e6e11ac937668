/**
 * The gateway's operations surface: the admin API, per-route enablement, health, status and
 * metrics; the bundled sample origin end to end; and two gateways sharing Redis.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/server/index.js';
import {
  redisUrl,
  startRedisServer,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';
import { ADMIN_TOKEN, admin, Gateways, get } from './gateway-harness.js';

const ROUTES = `
routes:
  - name: item
    path: /items/:id
    ttl: 1m
    tags: ["item:{id}"]
    enabled: 100
  - name: half
    path: /half/:id
    ttl: 1m
    enabled: 50
  - name: item-write
    path: /items/:id
    methods: [PUT]
    invalidates: ["item:{id}"]
`;

let origin: TestOrigin;
const gateways = new Gateways();
let gateway: RunningServer;

beforeAll(async () => {
  origin = await startTestOrigin((request) => ({
    body: JSON.stringify({ url: request.url, at: Date.now() }),
  }));
  gateway = await gateways.start(origin.url, ROUTES, { KEEL_STICKY_KEY: 'header:x-user-id' });
});
afterAll(async () => {
  await gateways.closeAll();
  await origin.close();
});

describe('admin API', () => {
  it('answers 401 with no detail to a missing or wrong token', async () => {
    for (const token of ['', 'wrong-token', `${ADMIN_TOKEN}x`]) {
      const answer = await admin(gateway.url, 'GET', '/routes', undefined, token);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Unauthorized.' } });
    }
  });

  it('keeps the rollout endpoints behind the token too: nothing starts, stops or is read without it', async () => {
    const attempts: [string, string, unknown][] = [
      ['GET', '/rollouts', undefined],
      ['POST', '/rollouts', { builtin: 'cache-enable' }],
      ['POST', '/emergency-stop', { reason: 'hostile' }],
      ['GET', '/audit', undefined],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await admin(gateway.url, method, path, body, 'wrong-token');
      expect(answer.status, `${method} ${path}`).toBe(401);
    }
    expect(await gateway.rollout.rollout.store.rollouts()).toEqual([]);
    expect(await gateway.rollout.rollout.store.emergencyStop()).toBeUndefined();
  });

  it('invalidates by URL, by tag and by pattern, and flushes', async () => {
    const cached = async (path: string) => (await get(`${gateway.url}${path}`)).xCache;
    await cached('/items/1');
    expect(JSON.parse((await admin(gateway.url, 'POST', '/invalidate', { url: '/items/1' })).body)).toEqual({
      removed: 1,
    });
    expect(await cached('/items/1')).toBe('MISS');
    expect(
      JSON.parse((await admin(gateway.url, 'POST', '/invalidate', { tags: ['item:1'] })).body).removed,
    ).toBe(1);
    expect(await cached('/items/1')).toBe('MISS');
    await cached('/items/2');
    expect(
      JSON.parse((await admin(gateway.url, 'POST', '/invalidate', { pattern: 'GET /items/*' })).body).removed,
    ).toBe(2);
    expect(await cached('/items/2')).toBe('MISS');
    expect((await admin(gateway.url, 'POST', '/flush')).status).toBe(200);
    expect(await cached('/items/2')).toBe('MISS');
    expect((await admin(gateway.url, 'POST', '/invalidate', { url: 'no-slash' })).status).toBe(400);
    expect((await admin(gateway.url, 'POST', '/invalidate', {})).status).toBe(400);
  });

  it('answers 400 with { error: { code, message } } to a pattern or a body the cache or schema refuses', async () => {
    const refused = async (body: unknown, code: string, message: RegExp) => {
      const answer = await admin(gateway.url, 'POST', '/invalidate', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.stringMatching(message) } });
    };
    await refused({ pattern: '[' }, 'INVALID_ARGUMENT', /^Unterminated "\[" in invalidation pattern "\["/);
    await refused(
      { pattern: 'GET /items/[1' },
      'INVALID_ARGUMENT',
      /^Unterminated "\[" in invalidation pattern/,
    );
    await refused({ pattern: '' }, 'INVALID_ARGUMENT', /pattern/);
    const malformed = await get(
      `${gateway.url}/admin/invalidate`,
      { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      'POST',
      '{"pattern":',
    );
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body).error.code).toBe('INVALID_ARGUMENT');
    // The gateway still works after them.
    expect((await admin(gateway.url, 'POST', '/invalidate', { pattern: 'GET /nothing*' })).status).toBe(200);
  });

  it('reads and sets route enablement, refusing bad percentages and unknown routes', async () => {
    const routes = JSON.parse((await admin(gateway.url, 'GET', '/routes')).body) as {
      name: string;
      enabledPercent: number | null;
    }[];
    expect(routes.find((route) => route.name === 'half')?.enabledPercent).toBe(50);
    expect(routes.find((route) => route.name === 'item-write')?.enabledPercent).toBeNull();
    expect((await admin(gateway.url, 'PUT', '/routes/half/enabled', { percent: 101 })).status).toBe(400);
    expect((await admin(gateway.url, 'PUT', '/routes/nope/enabled', { percent: 10 })).status).toBe(404);
    expect((await admin(gateway.url, 'PUT', '/routes/item-write/enabled', { percent: 10 })).status).toBe(404);
    expect(
      JSON.parse((await admin(gateway.url, 'PUT', '/routes/item/enabled', { percent: 0 })).body),
    ).toEqual({ name: 'item', enabledPercent: 0 });
    await get(`${gateway.url}/items/3`);
    expect((await get(`${gateway.url}/items/3`)).xCache).toBe('BYPASS');
    await admin(gateway.url, 'PUT', '/routes/item/enabled', { percent: 100 });
    await get(`${gateway.url}/items/3`);
    expect((await get(`${gateway.url}/items/3`)).xCache).toBe('HIT');
  });

  it('shows the effective configuration with secrets redacted', async () => {
    const config = JSON.parse((await admin(gateway.url, 'GET', '/config')).body) as Record<string, unknown>;
    expect(config.KEEL_ADMIN_TOKEN).toBe('***');
    expect(config.KEEL_ORIGIN).toBe(`${origin.url}/`);
    expect(config.KEEL_STICKY_KEY).toBe('header:x-user-id');
  });
});

describe('per-route enablement', () => {
  it("caches for about the route's share of clients, each client always on the same side", async () => {
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const sides = new Map<string, string | undefined>();
    for (const user of users) {
      await get(`${gateway.url}/half/1`, { 'x-user-id': user });
      sides.set(user, (await get(`${gateway.url}/half/1`, { 'x-user-id': user })).xCache);
    }
    const cached = [...sides.values()].filter((outcome) => outcome === 'HIT').length;
    expect(cached).toBeGreaterThan(70);
    expect(cached).toBeLessThan(130);
    expect([...sides.values()].every((outcome) => outcome === 'HIT' || outcome === 'BYPASS')).toBe(true);
    for (const user of users.slice(0, 40)) {
      expect((await get(`${gateway.url}/half/1`, { 'x-user-id': user })).xCache).toBe(sides.get(user));
    }
  });
});

describe('health, status and metrics', () => {
  it('is live and ready while the origin answers, and not ready when it cannot be reached', async () => {
    expect((await get(`${gateway.url}/health/live`)).status).toBe(200);
    expect((await get(`${gateway.url}/health/ready`)).status).toBe(200);
    const lonely = await startTestOrigin(() => ({ body: '' }));
    const alone = await gateways.start(lonely.url, undefined);
    await lonely.close();
    const answer = await get(`${alone.url}/health/ready`);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).checks.origin.ok).toBe(false);
  });

  it('reports per-route figures in /api/status', async () => {
    await get(`${gateway.url}/items/40`);
    await get(`${gateway.url}/items/40`);
    const status = JSON.parse((await get(`${gateway.url}/api/status`)).body);
    const item = status.routes.find((route: { route: string }) => route.route === 'item');
    expect(item).toMatchObject({ kind: 'read', path: '/items/:id', enabledPercent: 100 });
    expect(item.outcomes.HIT).toBeGreaterThan(0);
    expect(status.http.requests).toBeGreaterThan(0);
    expect(status.cache.memory.budgetBytes).toBe(64 * 1024 * 1024);
    expect(status.cache.redis).toBeNull();
  });

  it('exposes Prometheus metrics for HTTP requests, the cache and the process', async () => {
    await get(`${gateway.url}/items/41`);
    await get(`${gateway.url}/items/41`);
    const text = (await get(`${gateway.url}/metrics`)).body;
    expect(text).toMatch(
      /keel_http_requests_total\{route="item",method="GET",status="200",cache="HIT"\} \d+/,
    );
    expect(text).toMatch(/keel_cache_requests_total\{tier="l1",result="hit"\} [1-9]/);
    expect(text).toMatch(/keel_http_request_duration_seconds_bucket\{le="0.005",route="item",cache="HIT"\}/);
    expect(text).toMatch(/keel_route_enabled_ratio\{route="half"\} 0.5/);
    expect(text).toMatch(/keel_process_resident_memory_bytes \d+/);
  });
});

describe('the sample origin behind the gateway', () => {
  it('caches products by ETag, keeps customers private, and invalidates on writes', async () => {
    const sample = await gateways.start(undefined, undefined, { KEEL_SAMPLE_LATENCY: '5ms' });
    const url = sample.url;
    expect((await get(`${url}/products/5`)).xCache).toBe('MISS');
    const hit = await get(`${url}/products/5`);
    expect([hit.xCache, hit.headers.etag]).toEqual(['HIT', '"product-5-v1"']);
    await get(`${url}/customers/5`);
    expect((await get(`${url}/customers/5`)).xCache).toBe('BYPASS'); // the origin says private
    const status = JSON.parse((await get(`${url}/api/status`)).body);
    const customer = status.routes.find((route: { route: string }) => route.route === 'customer');
    expect(customer.upstream.requests).toBe(2);
    const put = await get(
      `${url}/products/5`,
      { 'content-type': 'application/json' },
      'PUT',
      JSON.stringify({ product: { price: '99.00' } }),
    );
    expect(put.status).toBe(200);
    const after = await get(`${url}/products/5`);
    expect(after.xCache).toBe('MISS');
    expect(JSON.parse(after.body).product.price).toBe('99.00');
    expect((await get(`${url}/products/abc`)).status).toBe(400);
  }, 60_000);
});

describe('two gateways sharing Redis', () => {
  it("a write through one gateway invalidates the other's L1 (the invalidation bus)", async () => {
    const redis = await redisUrl();
    const env = { REDIS_URL: redis, KEEL_NAMESPACE: `gw-${randomUUID().slice(0, 8)}` };
    const a = await gateways.start(origin.url, ROUTES, env);
    const b = await gateways.start(origin.url, ROUTES, env);
    await get(`${a.url}/items/77`);
    expect((await get(`${b.url}/items/77`)).xCache).toBe('HIT');
    await get(`${b.url}/items/77`);
    await get(`${a.url}/items/77`, { 'content-type': 'application/json' }, 'PUT', '{}');
    expect(await waitUntil(async () => (await get(`${b.url}/items/77`)).xCache === 'MISS', 2_000)).toBe(true);
    const status = JSON.parse((await get(`${b.url}/api/status`)).body);
    expect(status.cache.redis.state).toBe('ready');
  });

  it('is not ready while its Redis is down, and ready again once it is back', async () => {
    const server = await startRedisServer();
    const gw = await gateways.start(origin.url, ROUTES, {
      REDIS_URL: server.url,
      KEEL_NAMESPACE: 'gw-ready',
    });
    expect((await get(`${gw.url}/health/ready`)).status).toBe(200);
    await server.stop();
    expect(await waitUntil(async () => (await get(`${gw.url}/health/ready`)).status === 503, 5_000)).toBe(
      true,
    );
    expect((await get(`${gw.url}/items/5`)).status).toBe(200);
    await server.start();
    expect(await waitUntil(async () => (await get(`${gw.url}/health/ready`)).status === 200, 10_000)).toBe(
      true,
    );
    await server.stop();
  });
});
