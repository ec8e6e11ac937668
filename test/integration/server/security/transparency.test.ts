/**
 * The gateway changes nothing but speed: every end-to-end header the origin sent reaches the
 * client on a miss and on a hit, the origin's "revalidate" directives win over Keel's TTLs,
 * answers a cache cannot hold are still answered, and writes invalidate every spelling of a path.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  type OriginAnswer,
  type ReceivedRequest,
  rawRequest,
  redisUrl,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
} from '../../../support/index.js';
import { get } from '../gateway-harness.js';

const ROUTES = `
defaults: { grace: 1m }
routes:
  - name: headers
    path: /headers/:n
    ttl: 1m
  - name: fixed
    path: /fixed/:n
    ttl: 1m
  - name: adaptive
    path: /adaptive/:n
    ttl: adaptive
    dataType: inventory
  - name: origin
    path: /origin/:n
    ttl: origin
  - name: long-tag
    path: /long/:id
    ttl: 1m
    tags: ["${'{id}'.repeat(700)}"]
  - name: alias
    path: /aliases/:id
    ttl: 1m
  - name: alias-write
    path: /aliases/:id
    methods: [PUT]
`;
const ORIGIN_HEADERS = {
  'x-ratelimit-remaining': '41',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'content-security-policy': "default-src 'none'",
  'access-control-allow-origin': 'https://shop.example',
  'access-control-allow-credentials': 'true',
  'x-custom': 'kept',
  'x-internal-debug': 'node-7',
  connection: 'x-hop',
  'x-hop': 'dropped',
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let origin: TestOrigin;
let gateway: GatewayProcess;
let directives = 'no-cache';
let originDate = '';

function answer(request: ReceivedRequest): OriginAnswer {
  const url = request.url;
  if (url.startsWith('/headers/'))
    return { headers: { ...ORIGIN_HEADERS, date: originDate, etag: ['"a"', '"b"'] }, body: 'with headers' };
  if (url.startsWith('/fixed/') || url.startsWith('/adaptive/')) {
    if (request.headers['if-none-match'] === '"v1"') return { status: 304, headers: { etag: '"v1"' } };
    return { headers: { 'cache-control': directives, etag: '"v1"' }, body: 'revalidate me' };
  }
  if (url === '/origin/huge')
    return { headers: { 'cache-control': `max-age=${'9'.repeat(22)}` }, body: 'forever' };
  if (url === '/origin/not-modified') return { status: 304, headers: { etag: '"x"' } };
  if (url === '/unrouted/head') return { headers: { 'content-length': '123' }, body: '' };
  return { body: JSON.stringify({ url, n: origin.received.length }) };
}

beforeAll(async () => {
  origin = await startTestOrigin(answer);
  gateway = await startGatewayProcess({
    origin: origin.url,
    routes: ROUTES,
    env: {
      KEEL_STRIP_HEADERS: 'x-internal-debug',
      REDIS_URL: await redisUrl(),
      KEEL_NAMESPACE: `transparency-${randomUUID()}`,
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
  await origin?.close();
});

describe('headers', () => {
  it("keeps every end-to-end header of the origin's answer, on a miss and on a hit", async () => {
    originDate = new Date(Date.now() - 3_000).toUTCString();
    for (const expected of ['MISS', 'HIT']) {
      const answer = await rawRequest(gateway.url, 'GET /headers/1 HTTP/1.1\nHost: keel\nConnection: close');
      const named = (name: string) =>
        answer.headers.filter(([candidate]) => candidate === name).map(([, v]) => v);
      expect(named('x-cache')).toEqual([expected]);
      for (const name of [
        'x-ratelimit-remaining',
        'strict-transport-security',
        'content-security-policy',
        'access-control-allow-origin',
        'access-control-allow-credentials',
        'x-custom',
      ]) {
        expect(named(name), `${name} on a ${expected}`).toEqual([ORIGIN_HEADERS[name as 'x-custom']]);
      }
      expect(named('date'), `date on a ${expected}`).toEqual([originDate]);
      expect(named('x-internal-debug')).toEqual([]);
      expect(named('x-hop')).toEqual([]);
      expect(named('etag')).toEqual(['"a"', '"b"']);
      expect(Number(named('age')[0])).toBeGreaterThanOrEqual(expected === 'HIT' ? 3 : 0);
    }
  });

  it('gives HEAD the Content-Length a GET would have, cached or passed through', async () => {
    const cached = await get(`${gateway.url}/aliases/head`);
    const head = await get(`${gateway.url}/aliases/head`, {}, 'HEAD');
    expect(head.xCache).toBe('HIT');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(cached.body)));
    const passed = await get(`${gateway.url}/unrouted/head`, {}, 'HEAD');
    expect(passed.headers['content-length']).toBe('123');
  });
});

describe("the origin's freshness rules win", () => {
  for (const value of ['no-cache', 'max-age=0', 'max-age=0, must-revalidate']) {
    it(`revalidates on a fixed and an adaptive TTL route when the origin says ${value}`, async () => {
      directives = value;
      for (const path of [`/fixed/${value}`, `/adaptive/${value}`]) {
        expect((await get(`${gateway.url}${path}`)).xCache).toBe('MISS');
        const again = await get(`${gateway.url}${path}`);
        expect([again.xCache, again.body], path).toEqual(['REVALIDATED', 'revalidate me']);
      }
    });
  }

  it('never serves stale what the origin marked must-revalidate, whatever the TTL', async () => {
    directives = 'max-age=1, must-revalidate';
    await get(`${gateway.url}/fixed/strict`);
    expect((await get(`${gateway.url}/fixed/strict`)).xCache).toBe('HIT');
    await sleep(1_100);
    origin.handle(() => ({ status: 503, body: 'down' }));
    try {
      expect((await get(`${gateway.url}/fixed/strict`)).status).toBe(503);
    } finally {
      origin.handle(answer);
    }
  });
});

describe('answers a cache cannot hold', () => {
  it('clamps an absurd max-age instead of failing the request', async () => {
    const first = await get(`${gateway.url}/origin/huge`);
    const second = await get(`${gateway.url}/origin/huge`);
    expect([first.status, first.body, second.status, second.xCache]).toEqual([200, 'forever', 200, 'HIT']);
  });

  it('answers, and counts, what the cache refuses to store', async () => {
    // A path parameter is at most 100 characters (the router's limit); its tag repeats it 700 times,
    // past the 64 KiB a stored tag may have.
    const path = `/long/${'x'.repeat(100)}`;
    const answer = await get(`${gateway.url}${path}`);
    expect([answer.status, JSON.parse(answer.body).url]).toEqual([200, path]);
    const metrics = await get(`${gateway.url}/metrics`);
    expect(metrics.body).toMatch(/keel_gateway_store_failures_total\{route="long-tag"\} 1/);
  });

  it('treats a 304 to an unconditional request as an origin error', async () => {
    const answer = await get(`${gateway.url}/origin/not-modified`);
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).error.code).toBe('UPSTREAM_INVALID_RESPONSE');
  });
});

describe('invalidation after a write', () => {
  it('reaches every spelling of the path the routes treat as one', async () => {
    expect((await get(`${gateway.url}/aliases/2`)).xCache).toBe('MISS');
    expect((await get(`${gateway.url}/aliases/%32`)).xCache).toBe('HIT'); // one URL, spelt two ways
    const entries = ['/aliases/2', '/aliases/2/', '/aliases//2'];
    for (const path of entries) await get(`${gateway.url}${path}`);
    for (const path of entries) expect((await get(`${gateway.url}${path}`)).xCache, path).toBe('HIT');
    expect((await get(`${gateway.url}/aliases/%32`, {}, 'PUT', '{}')).status).toBe(200);
    for (const path of entries) expect((await get(`${gateway.url}${path}`)).xCache, path).toBe('MISS');
  });
});
