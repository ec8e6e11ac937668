/**
 * Request coalescing never hands one client's answer to another: concurrent misses on one URL
 * share an origin answer only when that answer is one the cache could store and serve to anyone.
 * Each case runs hundreds of rounds of truly concurrent requests against a gateway process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
} from '../../../support/index.js';
import { get } from '../gateway-harness.js';

const ROUTES = `
routes:
  - name: account
    path: /account/balance
    ttl: 1m
  - name: welcome
    path: /welcome/:n
    ttl: 1m
  - name: document
    path: /documents/:n
    ttl: 1m
  - name: hung
    path: /hung/:n
    ttl: 1m
    timeout: 300ms
  - name: shared-account
    path: /shared/:n
    ttl: 1m
    cacheAuthenticated: true
`;
const ROUNDS = 200;
const DOCUMENT = 'hello, world';

let origin: TestOrigin;
let gateway: GatewayProcess;
let sessions = 0;

beforeAll(async () => {
  origin = await startTestOrigin((request) => {
    const url = request.url;
    if (url === '/account/balance') {
      const key = String(request.headers['x-api-key']);
      return {
        delayMs: 20,
        headers: { 'cache-control': 'private', 'set-cookie': `sid=${key}` },
        body: JSON.stringify({ key, balance: key.length * 100 }),
      };
    }
    if (url.startsWith('/welcome/')) {
      return { delayMs: 20, headers: { 'set-cookie': `sid=s${++sessions}` }, body: '{"hello":true}' };
    }
    if (url.startsWith('/documents/')) {
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(request.headers.range ?? ''));
      if (range === null) return { delayMs: 20, body: DOCUMENT };
      const [from, to] = [Number(range[1]), Number(range[2])];
      return {
        delayMs: 20,
        status: 206,
        headers: { 'content-range': `bytes ${from}-${to}/${DOCUMENT.length}` },
        body: DOCUMENT.slice(from, to + 1),
      };
    }
    if (url.startsWith('/hung/')) return { delayMs: 1_000, body: 'late' };
    return { delayMs: 50, body: JSON.stringify({ who: request.headers.authorization }) };
  });
  gateway = await startGatewayProcess({ origin: origin.url, routes: ROUTES });
});
afterAll(async () => {
  await gateway?.stop();
  await origin?.close();
});

describe('coalescing shares only what may be shared', () => {
  it("never gives a client another client's private answer or session cookie", async () => {
    const keys = ['key-alice', 'key-bob-2', 'key-carol-33'];
    const leaks: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        keys.map((key) => get(`${gateway.url}/account/balance`, { 'x-api-key': key })),
      );
      answers.forEach((answer, i) => {
        const key = keys[i] as string;
        if (JSON.parse(answer.body).key !== key || answer.headers['set-cookie'] !== `sid=${key}`)
          leaks.push(`round ${round}: ${key} got ${answer.body} ${answer.headers['set-cookie']}`);
      });
    }
    expect(leaks).toEqual([]);
  });

  it('gives each of several concurrent first visits its own session', async () => {
    const shared: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => get(`${gateway.url}/welcome/${round}`)),
      );
      const cookies = answers.map((answer) => String(answer.headers['set-cookie']));
      if (new Set(cookies).size !== cookies.length) shared.push(`round ${round}: ${cookies.join(' ')}`);
    }
    expect(shared).toEqual([]);
  });

  it('never answers a plain GET with the partial answer of a Range request it joined', async () => {
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const url = `${gateway.url}/documents/${round}`;
      const ranged = get(url, { range: 'bytes=0-4' });
      await new Promise((resolve) => setTimeout(resolve, 2));
      const [partial, whole] = await Promise.all([ranged, get(url)]);
      if (whole.status !== 200 || whole.body !== DOCUMENT)
        wrong.push(`round ${round}: plain GET got ${whole.status} ${JSON.stringify(whole.body)}`);
      if (partial.status === 206 ? partial.body !== 'hello' : partial.body !== DOCUMENT)
        wrong.push(`round ${round}: Range got ${partial.status} ${JSON.stringify(partial.body)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("shares the origin's failure with the waiters instead of each waiting out a timeout again", async () => {
    const startedAt = Date.now();
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(`${gateway.url}/hung/1`)));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 504));
    expect(Date.now() - startedAt).toBeLessThan(550);
    expect(origin.count('/hung/1')).toBe(1);
  });

  it('lets requests with Authorization neither lead nor join a shared origin request', async () => {
    const before = origin.count('/shared/1');
    const answers = await Promise.all(
      ['a', 'b', 'c', 'd'].map((who) => get(`${gateway.url}/shared/1`, { authorization: `Bearer ${who}` })),
    );
    expect(answers.map((answer) => JSON.parse(answer.body).who)).toEqual([
      'Bearer a',
      'Bearer b',
      'Bearer c',
      'Bearer d',
    ]);
    expect(origin.count('/shared/1') - before).toBe(4);
  });
});
