/**
 * Nothing a client sends can change what other clients get: headers the key does not contain are
 * not forwarded, the Vary variant is chosen by what was really sent to the origin, and URLs the
 * origin may treat differently are never merged into one entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  rawHeader,
  rawRequest,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
} from '../../../support/index.js';
import { get } from '../gateway-harness.js';

const ROUTES = `
routes:
  - name: go
    path: /go/:n
    ttl: 1m
  - name: greeting
    path: /greeting/:n
    ttl: 1m
  - name: search
    path: /search/:n
    ttl: 1m
`;
/** Request headers that tell an origin where and how it was reached, or what to do instead. */
const PROXY_HEADERS = {
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-port': '8443',
  forwarded: 'host=evil.example;proto=https',
  'x-original-url': '/admin/delete-everything',
  'x-http-method-override': 'DELETE',
};

let origin: TestOrigin;
let gateway: GatewayProcess;
let trusting: GatewayProcess;
let published: GatewayProcess;

beforeAll(async () => {
  origin = await startTestOrigin((request) => {
    if (request.url.startsWith('/go/')) {
      // An origin that builds absolute redirects from the forwarding headers, as many frameworks do.
      const proto = request.headers['x-forwarded-proto'] ?? 'http';
      const host = request.headers['x-forwarded-host'] ?? request.headers.host;
      return {
        status: 301,
        headers: { location: `${proto}://${host}/landing`, 'cache-control': 'public, max-age=60' },
      };
    }
    if (request.url.startsWith('/greeting/')) {
      const language = request.headers['accept-language'] ?? 'en';
      return { headers: { vary: 'Accept-Language' }, body: `greeting in ${language}` };
    }
    return { body: JSON.stringify({ url: request.url }) };
  });
  [gateway, trusting, published] = await Promise.all([
    startGatewayProcess({ origin: origin.url, routes: ROUTES }),
    startGatewayProcess({ origin: origin.url, routes: ROUTES, env: { KEEL_TRUST_PROXY: 'true' } }),
    startGatewayProcess({
      origin: origin.url,
      routes: ROUTES,
      env: { KEEL_TRUST_PROXY: 'true', KEEL_PUBLIC_URL: 'https://shop.example' },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([gateway?.stop(), trusting?.stop(), published?.stop()]);
  await origin?.close();
});

describe('forwarding headers', () => {
  it("does not let a client's Host or X-Forwarded-* shape an answer others get", async () => {
    const attack = await rawRequest(
      gateway.url,
      [
        'GET /go/1 HTTP/1.1',
        'Host: evil.example',
        ...Object.entries(PROXY_HEADERS).map(([name, value]) => `${name}: ${value}`),
        'Connection: close',
      ].join('\n'),
    );
    expect(rawHeader(attack, 'location')).not.toMatch(/evil/);
    const victim = await get(`${gateway.url}/go/1`);
    expect(victim.headers.location).not.toMatch(/evil/);
    const seen = origin.received.filter((request) => request.url === '/go/1');
    for (const request of seen) {
      for (const name of Object.keys(PROXY_HEADERS)) expect(request.headers[name], name).toBeUndefined();
      expect(request.headers.host).toBe(new URL(origin.url).host);
    }
  });

  it('behind a trusted proxy, forwards its X-Forwarded-Host and keys the answer by it', async () => {
    const a = await get(`${trusting.url}/go/2`, { 'x-forwarded-host': 'shop.example' });
    const b = await get(`${trusting.url}/go/2`, { 'x-forwarded-host': 'other.example' });
    expect(a.headers.location).toBe('http://shop.example/landing');
    expect(b.headers.location).toBe('http://other.example/landing');
    expect((await get(`${trusting.url}/go/2`, { 'x-forwarded-host': 'shop.example' })).xCache).toBe('HIT');
  });

  it('tells the origin the public scheme and host of KEEL_PUBLIC_URL, whatever the client says', async () => {
    const answers = await Promise.all([
      get(`${published.url}/go/3`, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }),
      get(`${published.url}/go/3`),
    ]);
    for (const answer of answers) expect(answer.headers.location).toBe('https://shop.example/landing');
  });

  it('chooses the Vary variant by the headers really sent, not those named in Connection', async () => {
    const attack = await rawRequest(
      gateway.url,
      [
        'GET /greeting/1 HTTP/1.1',
        'Host: keel',
        'Accept-Language: fr',
        'Connection: close, Accept-Language',
      ].join('\n'),
    );
    expect(attack.status).toBe(200);
    const french = await get(`${gateway.url}/greeting/1`, { 'accept-language': 'fr' });
    expect(french.body).toBe('greeting in fr');
  });
});

describe('query normalisation', () => {
  it('keeps apart queries an origin may read differently', async () => {
    const pairs = [
      ['?x=%FF', '?x=%FE'],
      ['?a=1;b=2', '?a=1%3Bb%3D2'],
      ['?a=1&a=2', '?a=2&a=1'],
      ['?flag', '?flag='],
      ['?q=a+b', '?q=a%20b'],
    ];
    for (const [n, [first, second]] of pairs.entries()) {
      const one = await get(`${gateway.url}/search/${n}${first}`);
      const two = await get(`${gateway.url}/search/${n}${second}`);
      expect([one.xCache, two.xCache], `${first} then ${second}`).toEqual(['MISS', 'MISS']);
      expect(JSON.parse(two.body).url).toBe(`/search/${n}${second}`);
    }
  });

  it('merges only equivalent spellings, and sends the origin the URL it keyed', async () => {
    const first = await get(`${gateway.url}/search/x?q=%7euser&n=%2f`);
    expect(JSON.parse(first.body).url).toBe('/search/x?q=~user&n=%2F');
    const second = await get(`${gateway.url}/search/x?q=~user&n=%2F`);
    expect(second.xCache).toBe('HIT');
  });
});
