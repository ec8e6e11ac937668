/**
 * Neither a slow or huge origin answer nor a crowd of idle or uploading clients can exhaust the
 * gateway's time, memory, sockets or file descriptors, and a client cannot switch caching off for
 * itself. Each test runs against a gateway process of its own, so its memory and descriptors are
 * the gateway's alone.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  silentSockets,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../../support/index.js';
import { get } from '../gateway-harness.js';

const MIB = 1024 * 1024;
const ROUTES = `
routes:
  - name: slow
    path: /slow/:n
    ttl: 1m
    timeout: 1s
  - name: item
    path: /items/:n
    ttl: 1m
  - name: strict
    path: /strict/:n
    ttl: 1m
    clientCacheControl: honor
  - name: upload
    path: /uploads/:n
    methods: [PUT]
`;
const big = Buffer.alloc(64 * MIB, 'x');

let origin: TestOrigin;
const started: GatewayProcess[] = [];

async function gatewayWith(env: Record<string, string> = {}, fdLimit?: number): Promise<GatewayProcess> {
  const gateway = await startGatewayProcess({ origin: origin.url, routes: ROUTES, env, fdLimit });
  started.push(gateway);
  return gateway;
}

/** Samples the process's RSS every 20 ms while `work` runs; returns the peak. */
async function peakRss(gateway: GatewayProcess, work: () => Promise<unknown>): Promise<number> {
  let peak = gateway.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, gateway.rss());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, gateway.rss());
}

beforeAll(async () => {
  origin = await startTestOrigin((request) => {
    if (request.url.startsWith('/slow/'))
      return { body: Buffer.alloc(20, 'a'), trickle: { pieces: 10, everyMs: 300 } };
    if (request.url.startsWith('/uploads/')) return { delayMs: 200, body: `{"bytes":${request.bodyBytes}}` };
    if (request.url.startsWith('/huge/')) return { body: big };
    if (request.url.startsWith('/trickle/'))
      return { body: Buffer.alloc(64 * 1024, 't'), trickle: { pieces: 64, everyMs: 100 } };
    if (request.url.startsWith('/hold/')) return { delayMs: 3_000, body: 'held' };
    if (request.url.startsWith('/strict/')) return { delayMs: 300, body: 'strict' };
    return { delayMs: 20, body: JSON.stringify({ url: request.url, n: origin.received.length }) };
  });
});
afterAll(async () => {
  await Promise.all(started.map((gateway) => gateway.stop()));
  await origin?.close();
});

describe('the origin cannot tie the gateway up', () => {
  it("bounds the whole exchange by the route's timeout, however the body trickles in", async () => {
    const gateway = await gatewayWith();
    const startedAt = Date.now();
    const answer = await get(`${gateway.url}/slow/1`);
    expect(answer.status).toBe(504);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect((await get(`${gateway.url}/slow/1`)).status).toBe(504);
    expect(origin.count('/slow/1')).toBe(2);
  });

  it('answers 503 with Retry-After when no origin connection frees up in time', async () => {
    const gateway = await gatewayWith({
      KEEL_UPSTREAM_CONNECTIONS: '2',
      KEEL_UPSTREAM_QUEUE_TIMEOUT: '300ms',
    });
    const holders = [get(`${gateway.url}/hold/1`), get(`${gateway.url}/hold/2`)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const startedAt = Date.now();
    const unrelated = await get(`${gateway.url}/items/unrelated`);
    expect(unrelated.status).toBe(503);
    expect(Number(unrelated.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(unrelated.body).error.code).toBe('UPSTREAM_BUSY');
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    expect((await Promise.all(holders)).map((answer) => answer.status)).toEqual([200, 200]);
  });

  it('streams an answer it does not store, whatever its size, without holding it in memory', async () => {
    const gateway = await gatewayWith();
    const before = gateway.rss();
    let statuses: number[] = [];
    const peak = await peakRss(gateway, async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`${gateway.url}/huge/${i}`)));
      statuses = answers.map((answer) => answer.status);
      expect(answers.every((answer) => answer.body.length === big.byteLength)).toBe(true);
    });
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(peak - before).toBeLessThan(160 * MIB);
  });

  it('frees the origin connection of a client that leaves mid-answer, and logs no error for it', async () => {
    const gateway = await gatewayWith({ KEEL_UPSTREAM_CONNECTIONS: '4' });
    const leavers = Array.from({ length: 8 }, (_, i) =>
      request(`${gateway.url}/trickle/${i}`).then(async (answer) => {
        for await (const _ of answer.body) break; // the first chunk, then hang up
      }),
    );
    await Promise.all(leavers);
    const inUse = async () =>
      Number(
        /^keel_upstream_connections_in_use (\d+)/m.exec((await get(`${gateway.url}/metrics`)).body)?.[1],
      );
    expect(await waitUntil(async () => (await inUse()) === 0, 3_000)).toBe(true);
    expect((await get(`${gateway.url}/items/after-leavers`)).status).toBe(200);
    expect(gateway.stdout()).not.toMatch(/"level":(40|50)/);
  });

  it('holds a bounded number of request-body bytes however many clients upload at once', async () => {
    const gateway = await gatewayWith({
      KEEL_MAX_BUFFERED_BYTES: '64mb',
      KEEL_UPSTREAM_QUEUE_TIMEOUT: '20s',
    });
    const upload = Buffer.alloc(8 * MIB - 1024, 'u');
    const before = gateway.rss();
    let held = 0;
    const sampler = setInterval(async () => {
      const metrics = await get(`${gateway.url}/metrics`).catch(() => undefined);
      const bytes = /^keel_gateway_buffered_bytes (\d+)/m.exec(metrics?.body ?? '')?.[1];
      held = Math.max(held, Number(bytes ?? 0));
    }, 50);
    const peak = await peakRss(gateway, async () => {
      const answers = await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          get(`${gateway.url}/uploads/${i}`, { 'content-type': 'application/octet-stream' }, 'PUT', upload),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      expect(answers.every((answer) => JSON.parse(answer.body).bytes === upload.byteLength)).toBe(true);
    });
    clearInterval(sampler);
    // What the gateway holds stays within its budget; the process's growth is that plus garbage
    // not yet collected (1.2 GiB of uploads pass through in seconds). Holding them all took 1.5 GiB.
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(64 * MIB);
    expect(peak - before).toBeLessThan(512 * MIB);
  });
});

describe('clients cannot exhaust connections', () => {
  it('keeps answering when idle sockets outnumber its file descriptors', async () => {
    const gateway = await gatewayWith({}, 256);
    const idle = await silentSockets(gateway.url, 400);
    try {
      const answer = await get(`${gateway.url}/items/after-idle`);
      expect(answer.status).toBe(200);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });

  it('closes a connection that sends no request within the headers timeout', async () => {
    const gateway = await gatewayWith({ KEEL_HEADERS_TIMEOUT: '1s' });
    const [socket] = await silentSockets(gateway.url, 1);
    const closedAfter = await new Promise<number>((resolve) => {
      const at = Date.now();
      socket?.once('close', () => resolve(Date.now() - at));
      setTimeout(() => resolve(Number.POSITIVE_INFINITY), 5_000);
    });
    socket?.destroy();
    expect(closedAfter).toBeLessThan(3_000);
  });
});

describe('clients cannot switch caching off for everyone', () => {
  it('answers no-store and no-cache requests from the cache by default', async () => {
    const gateway = await gatewayWith();
    await get(`${gateway.url}/items/popular`);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        get(`${gateway.url}/items/popular`, {
          'cache-control': i % 2 === 0 ? 'no-store' : 'no-cache',
          pragma: 'no-cache',
        }),
      ),
    );
    expect(answers.every((answer) => answer.xCache === 'HIT')).toBe(true);
    expect(origin.count('/items/popular')).toBe(1);
  });

  it('with clientCacheControl: honor, serves no-store from the cache and shares no-cache revalidations', async () => {
    const gateway = await gatewayWith();
    await get(`${gateway.url}/strict/1`);
    const before = origin.count('/strict/1');
    const noStore = await Promise.all(
      Array.from({ length: 50 }, () => get(`${gateway.url}/strict/1`, { 'cache-control': 'no-store' })),
    );
    expect(noStore.every((answer) => answer.xCache === 'HIT')).toBe(true);
    expect(origin.count('/strict/1')).toBe(before);
    const noCache = await Promise.all(
      Array.from({ length: 50 }, () => get(`${gateway.url}/strict/1`, { 'cache-control': 'no-cache' })),
    );
    expect(noCache.every((answer) => answer.status === 200)).toBe(true);
    expect(origin.count('/strict/1') - before).toBeLessThanOrEqual(2);
  });
});
