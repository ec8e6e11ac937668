/**
 * What the gateway tells clients and operators: clients never learn the origin's address or
 * credentials (errors carry a code and a request id, the log has the details), the origin's
 * credentials are used and never shown, and the operations endpoints can live on a listener of
 * their own, leaving the public port to the API alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
} from '../../../support/index.js';
import { ADMIN_TOKEN, admin, get } from '../gateway-harness.js';

const ROUTES = `
routes:
  - name: item
    path: /items/:n
    ttl: 1m
    timeout: 300ms
`;

let origin: TestOrigin;
const started: GatewayProcess[] = [];

async function gatewayWith(env: Record<string, string>, originUrl = origin.url): Promise<GatewayProcess> {
  const gateway = await startGatewayProcess({
    origin: originUrl,
    routes: ROUTES,
    env: { KEEL_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
  });
  started.push(gateway);
  return gateway;
}

beforeAll(async () => {
  origin = await startTestOrigin((request) =>
    request.url === '/items/slow'
      ? { delayMs: 1_000, body: 'late' }
      : { body: JSON.stringify({ url: request.url, authorization: request.headers.authorization ?? null }) },
  );
});
afterAll(async () => {
  await Promise.all(started.map((gateway) => gateway.stop()));
  await origin?.close();
});

describe('origin credentials', () => {
  it('sends the credentials of KEEL_ORIGIN as Basic auth and never shows them', async () => {
    const withCredentials = origin.url.replace('http://', 'http://keel:s3cret-pass@');
    const gateway = await gatewayWith({}, withCredentials);
    const answer = await get(`${gateway.url}/items/1`);
    expect(JSON.parse(answer.body).authorization).toBe(
      `Basic ${Buffer.from('keel:s3cret-pass').toString('base64')}`,
    );
    const own = await get(`${gateway.url}/elsewhere`, { authorization: 'Bearer client-token' });
    expect(JSON.parse(own.body).authorization).toBe('Bearer client-token');
    const config = await admin(gateway.adminUrl, 'GET', '/config');
    expect(config.status).toBe(200);
    expect(config.body).not.toContain('s3cret');
    expect(gateway.stdout()).not.toContain('s3cret');
  });
});

describe('errors', () => {
  it('tells the client a code and a request id, and the log the details, in one line', async () => {
    const lonely = await startTestOrigin(() => ({ body: 'x' }));
    const gateway = await gatewayWith({}, lonely.url);
    await lonely.close();
    const answer = await get(`${gateway.url}/items/1`);
    expect(answer.status).toBe(502);
    const error = JSON.parse(answer.body).error;
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(answer.body).not.toContain(String(lonely.port));
    expect(error.requestId).toBe(answer.headers['x-request-id']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = gateway
      .stdout()
      .split('\n')
      .filter((line) => line.includes(error.requestId));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(String(lonely.port));
    expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('does the same for a timeout', async () => {
    const gateway = await gatewayWith({});
    const answer = await get(`${gateway.url}/items/slow`);
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body).error.code).toBe('UPSTREAM_TIMEOUT');
    expect(answer.body).not.toContain(String(origin.port));
  });
});

describe('a separate operations listener', () => {
  it('serves /metrics, /api/status, /dashboard and /admin there, and only the API on the public port', async () => {
    const gateway = await gatewayWith({ KEEL_ADMIN_PORT: '0' });
    expect(gateway.adminUrl).not.toBe(gateway.url);
    for (const path of ['/metrics', '/api/status', '/dashboard', '/health/live']) {
      expect((await get(`${gateway.adminUrl}${path}`)).status, path).toBe(200);
      const before = origin.count(path);
      const proxied = await get(`${gateway.url}${path}`);
      expect([proxied.xCache, origin.count(path) - before], path).toEqual(['BYPASS', 1]);
    }
    expect((await admin(gateway.adminUrl, 'GET', '/routes')).status).toBe(200);
    expect((await get(`${gateway.adminUrl}/items/1`)).status).toBe(404);
    expect(new URL(gateway.adminUrl).hostname).toBe('127.0.0.1');
  });
});
