/**
 * The gateway against a programmable origin: what is cached, for how long, what is revalidated,
 * what happens when the origin fails, and what writes invalidate.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { startTestOrigin, type TestOrigin } from '../../support/index.js';
import { Gateways, get } from './gateway-harness.js';

const ROUTES = `
defaults: { grace: 2s, timeout: 500ms }
routes:
  - name: item
    path: /items/:id
    dataType: product
    ttl: 10s
    tags: ["item:{id}"]
  - name: item-origin
    path: /fresh/:id
    ttl: origin
  - name: listing
    path: /items
    ttl: 10s
    tags: ["items"]
    sortQuery: true
  - name: strict
    path: /strict/:id
    ttl: 10s
    clientCacheControl: honor
  - name: account
    path: /account
    ttl: 10s
    cacheAuthenticated: true
  - name: item-write
    path: /items/:id
    methods: [PUT, DELETE]
    invalidates: ["item:{id}", "items"]
`;

let origin: TestOrigin;
const gateways = new Gateways();
let base: string;

beforeAll(async () => {
  origin = await startTestOrigin((request) => ({
    body: JSON.stringify({ url: request.url, n: origin.received.length }),
  }));
  base = (await gateways.start(origin.url, ROUTES)).url;
});
afterEach(() => {
  origin.handle((request) => ({ body: JSON.stringify({ url: request.url, n: origin.received.length }) }));
});
afterAll(async () => {
  await gateways.closeAll();
  await origin.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('gateway: read path', () => {
  it('answers a miss from the origin, then hits with the same body, an Age and no second request', async () => {
    const first = await get(`${base}/items/1`);
    const second = await get(`${base}/items/1`);
    expect([first.xCache, second.xCache]).toEqual(['MISS', 'HIT']);
    expect(second.body).toBe(first.body);
    expect(second.headers['content-type']).toBe('application/json');
    // Age in whole seconds since it was stored: 0, or 1 on a machine slow enough to cross a second.
    expect(second.headers.age).toMatch(/^[01]$/);
    const head = await get(`${base}/items/1`, {}, 'HEAD');
    expect([head.status, head.xCache, head.body]).toEqual([200, 'HIT', '']);
    expect(origin.count('/items/1')).toBe(1);
  });

  it('shares an entry between queries a sortQuery route sorts alike, and separates different ones', async () => {
    await get(`${base}/items?b=2&a=1`);
    expect(origin.received.at(-1)?.url).toBe('/items?a=1&b=2');
    expect((await get(`${base}/items?a=1&b=2`)).xCache).toBe('HIT');
    expect((await get(`${base}/items?a=1&b=3`)).xCache).toBe('MISS');
    expect((await get(`${base}/items?a=1&b=3&b=2`)).xCache).toBe('MISS');
  });

  it('keeps one entry per value of the headers the origin varies on', async () => {
    origin.handle((request) => ({
      headers: { vary: 'Accept-Language' },
      body: `hello in ${request.headers['accept-language']}`,
    }));
    const ja = await get(`${base}/items/vary`, { 'accept-language': 'ja' });
    const en = await get(`${base}/items/vary`, { 'accept-language': 'en' });
    expect([ja.body, en.body]).toEqual(['hello in ja', 'hello in en']);
    expect((await get(`${base}/items/vary`, { 'accept-language': 'ja' })).body).toBe('hello in ja');
    expect((await get(`${base}/items/vary`, { 'accept-language': 'en' })).xCache).toBe('HIT');
    expect(origin.count('/items/vary')).toBe(2);
  });

  it('shares one origin request among concurrent misses on a URL', async () => {
    origin.handle(() => ({ delayMs: 100, body: '{"slow":true}' }));
    const answers = await Promise.all(Array.from({ length: 50 }, () => get(`${base}/items/stampede`)));
    expect(answers.every((answer) => answer.status === 200 && answer.body === '{"slow":true}')).toBe(true);
    expect(origin.count('/items/stampede')).toBe(1);
  });

  it('answers a client conditional request from the cache with 304', async () => {
    origin.handle(() => ({ headers: { etag: '"v1"' }, body: 'tagged' }));
    await get(`${base}/items/etag`);
    const conditional = await get(`${base}/items/etag`, { 'if-none-match': '"v1"' });
    expect([conditional.status, conditional.xCache, conditional.body]).toEqual([304, 'HIT', '']);
    expect((await get(`${base}/items/etag`, { 'if-none-match': '"v0"' })).status).toBe(200);
    expect(origin.count('/items/etag')).toBe(1);
  });
});

describe('gateway: HTTP safety', () => {
  it('never stores Set-Cookie, private, no-store or error answers', async () => {
    const cases: [string, Record<string, string | string[]>, number][] = [
      ['/items/cookie', { 'set-cookie': ['sid=1'] }, 200],
      ['/items/private', { 'cache-control': 'private, max-age=60' }, 200],
      ['/items/nostore', { 'cache-control': 'no-store' }, 200],
      ['/items/broken', {}, 500],
    ];
    for (const [path, headers, status] of cases) {
      origin.handle(() => ({ status, headers, body: 'x' }));
      await get(`${base}${path}`);
      await get(`${base}${path}`);
      expect(origin.count(path), path).toBe(2);
    }
    origin.handle(() => ({ status: 404, body: 'none' }));
    await get(`${base}/items/missing`);
    expect((await get(`${base}/items/missing`)).xCache).toBe('HIT');
  });

  it('passes requests with Authorization or Cookie through, unless the route opts in', async () => {
    await get(`${base}/items/auth`, { authorization: 'Bearer a' });
    const again = await get(`${base}/items/auth`, { authorization: 'Bearer a' });
    expect(again.xCache).toBe('BYPASS');
    expect((await get(`${base}/items/auth`, { cookie: 'sid=2' })).xCache).toBe('BYPASS');
    expect(origin.count('/items/auth')).toBe(3);
    await get(`${base}/account`, { authorization: 'Bearer a' });
    expect((await get(`${base}/account`, { authorization: 'Bearer a' })).xCache).toBe('HIT');
  });

  it("ignores a client's no-cache and no-store unless the route honours them", async () => {
    await get(`${base}/items/nocache`);
    expect((await get(`${base}/items/nocache`, { 'cache-control': 'no-cache' })).xCache).toBe('HIT');
    expect((await get(`${base}/items/nocache`, { 'cache-control': 'no-store' })).xCache).toBe('HIT');
    expect(origin.count('/items/nocache')).toBe(1);
    expect((await get(`${base}/strict/1`, { 'cache-control': 'no-store' })).xCache).toBe('MISS');
    expect((await get(`${base}/strict/1`)).xCache).toBe('MISS'); // no-store: the first answer was not kept
    expect((await get(`${base}/strict/1`, { 'cache-control': 'no-store' })).xCache).toBe('HIT');
    expect((await get(`${base}/strict/1`, { 'cache-control': 'no-cache' })).xCache).toBe('MISS');
    expect((await get(`${base}/items/never`, { 'cache-control': 'only-if-cached' })).status).toBe(504);
  });

  it('passes unrouted paths through untouched', async () => {
    const answer = await get(`${base}/elsewhere`);
    expect([answer.status, answer.xCache]).toEqual([200, 'BYPASS']);
  });
});

describe('gateway: freshness from the origin (RFC 9111)', () => {
  it('follows max-age, shows Age, revalidates by ETag and refreshes on 304 without a body', async () => {
    let version = 1;
    origin.handle((request) =>
      request.headers['if-none-match'] === `"v${version}"`
        ? { status: 304, headers: { etag: `"v${version}"`, 'cache-control': 'max-age=1' } }
        : {
            headers: { etag: `"v${version}"`, 'cache-control': 'max-age=1', age: '0' },
            body: `body v${version}`,
          },
    );
    expect((await get(`${base}/fresh/1`)).xCache).toBe('MISS');
    expect((await get(`${base}/fresh/1`)).xCache).toBe('HIT');
    await sleep(1_100);
    const revalidated = await get(`${base}/fresh/1`);
    expect([revalidated.xCache, revalidated.body]).toEqual(['REVALIDATED', 'body v1']);
    expect(origin.received.at(-1)?.headers['if-none-match']).toBe('"v1"');
    expect((await get(`${base}/fresh/1`)).xCache).toBe('HIT');
    await sleep(1_100);
    version = 2;
    const changed = await get(`${base}/fresh/1`);
    expect([changed.xCache, changed.body]).toEqual(['MISS', 'body v2']);
  });

  it('counts the age the response already had, and honours Expires', async () => {
    origin.handle(() => ({ headers: { 'cache-control': 'max-age=100', age: '40' }, body: 'aged' }));
    await get(`${base}/fresh/aged`);
    expect(Number((await get(`${base}/fresh/aged`)).headers.age)).toBeGreaterThanOrEqual(40);
    const date = new Date();
    origin.handle(() => ({
      headers: { date: date.toUTCString(), expires: new Date(date.getTime() + 60_000).toUTCString() },
      body: 'expires',
    }));
    await get(`${base}/fresh/expires`);
    expect((await get(`${base}/fresh/expires`)).xCache).toBe('HIT');
  });

  it('stores no-cache answers but revalidates them every time', async () => {
    origin.handle((request) =>
      request.headers['if-none-match'] === '"n"'
        ? { status: 304, headers: { etag: '"n"' } }
        : { headers: { etag: '"n"', 'cache-control': 'no-cache' }, body: 'nc' },
    );
    await get(`${base}/fresh/nc`);
    const second = await get(`${base}/fresh/nc`);
    expect([second.xCache, second.body]).toEqual(['REVALIDATED', 'nc']);
  });
});

describe('gateway: origin failures', () => {
  it("serves stale within grace when the origin fails, and the origin's own error after it", async () => {
    origin.handle(() => ({ headers: { 'cache-control': 'max-age=1' }, body: 'good' }));
    await get(`${base}/fresh/down`);
    await sleep(1_100);
    origin.handle(() => ({ status: 503, body: 'down' }));
    const stale = await get(`${base}/fresh/down`);
    expect([stale.status, stale.xCache, stale.body]).toEqual([200, 'STALE', 'good']);
    await sleep(2_100);
    const gone = await get(`${base}/fresh/down`);
    expect([gone.status, gone.body]).toEqual([503, 'down']);
  });

  it('answers 504 UPSTREAM_TIMEOUT when the origin is too slow and nothing is cached', async () => {
    origin.handle(() => ({ delayMs: 1_500, body: 'late' }));
    const answer = await get(`${base}/items/slow`);
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body).error.code).toBe('UPSTREAM_TIMEOUT');
  });

  it('does not serve stale what the origin marked must-revalidate', async () => {
    origin.handle(() => ({ headers: { 'cache-control': 'max-age=1, must-revalidate' }, body: 'strict' }));
    await get(`${base}/fresh/strict`);
    await sleep(1_100);
    origin.handle(() => ({ status: 503, body: 'down' }));
    expect((await get(`${base}/fresh/strict`)).status).toBe(503);
  });

  it('answers 502 UPSTREAM_UNAVAILABLE when the origin cannot be reached', async () => {
    const lonely = await startTestOrigin(() => ({ body: 'x' }));
    const gateway = await gateways.start(lonely.url, ROUTES);
    await lonely.close();
    const answer = await get(`${gateway.url}/items/1`);
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(answer.body).not.toContain(lonely.url);
  });
});

describe('gateway: writes invalidate', () => {
  it('a write route invalidates the tags it names', async () => {
    await get(`${base}/items/7`);
    await get(`${base}/items?page=1`);
    const put = await get(
      `${base}/items/7`,
      { 'content-type': 'application/json' },
      'PUT',
      '{"title":"new"}',
    );
    expect([put.status, put.xCache]).toEqual([200, 'BYPASS']);
    expect(origin.received.at(-1)).toMatchObject({ method: 'PUT', body: '{"title":"new"}' });
    expect((await get(`${base}/items/7`)).xCache).toBe('MISS');
    expect((await get(`${base}/items?page=1`)).xCache).toBe('MISS');
  });

  it('any successful unsafe request invalidates its own URL and its Location (RFC 9111 §4.4)', async () => {
    await get(`${base}/items/9`);
    await get(`${base}/items/10`);
    origin.handle((request) =>
      request.method === 'POST'
        ? { status: 201, headers: { location: '/items/10' }, body: '{}' }
        : { body: 'item' },
    );
    await get(`${base}/items/9`, {}, 'POST', '{}');
    expect((await get(`${base}/items/9`)).xCache).toBe('MISS');
    expect((await get(`${base}/items/10`)).xCache).toBe('MISS');
    origin.handle((request) =>
      request.method === 'DELETE' ? { status: 500, body: 'no' } : { body: 'item' },
    );
    await get(`${base}/items/9`, {}, 'DELETE');
    expect((await get(`${base}/items/9`)).xCache).toBe('HIT');
  });
});

describe('gateway: load shedding', () => {
  it('answers 503 OVERLOADED while its event loop is stalled past the limit, /metrics still answering', async () => {
    const gateway = await gateways.start(origin.url, ROUTES, { KEEL_MAX_EVENT_LOOP_DELAY: '500ms' });
    // This process is the gateway's: stall its event loop for longer than a sampling period.
    const until = Date.now() + 2_500;
    while (Date.now() < until);
    await sleep(20);
    const shed = await get(`${gateway.url}/items/shed`);
    expect([shed.status, JSON.parse(shed.body).error.code]).toEqual([503, 'OVERLOADED']);
    expect(Number(shed.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get(`${gateway.url}/metrics`)).status).toBe(200);
    await sleep(2_100);
    expect((await get(`${gateway.url}/items/shed`)).status).toBe(200);
  });
});

describe('gateway: start-up', () => {
  it('refuses a malformed routes file, naming the file, line and field', async () => {
    const attempt = gateways.start(origin.url, 'routes:\n  - path: /a\n    enabled: 150\n');
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/routes\.yaml:3:14: routes\[0\]\.enabled: /);
  });
});
