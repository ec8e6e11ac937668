/**
 * A write that invalidates a path tag with a quarter of a million members (what a client grows by
 * requesting `?x=1`, `?x=2`, …) through two gateway processes sharing Redis: every member is gone
 * from Redis and from both gateways' L1, and nothing else is touched (no namespace flush).
 *
 * The members are written to Redis by a third instance of the cache with the gateway's own keys,
 * frames and tags (filling them through HTTP would take minutes); the gateways then hold a sample
 * of them in L1 by reading them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptimizedCacheManager } from '../../../../src/cache/index.js';
import { baseKey } from '../../../../src/server/cache-key.js';
import { parseTarget, type RequestTarget } from '../../../../src/server/request-target.js';
import { packCached } from '../../../../src/server/response-frame.js';
import {
  type GatewayProcess,
  type RedisServerHandle,
  startGatewayProcess,
  startRedisServer,
  startTestOrigin,
  type TestOrigin,
} from '../../../support/index.js';
import { get } from '../gateway-harness.js';

const ROUTES = `
routes:
  - name: feed
    path: /feed
    ttl: 10m
  - name: other
    path: /other
    ttl: 10m
  - name: feed-write
    path: /feed
    methods: [PUT]
`;
const MEMBERS = 250_000;
/** Members each gateway holds in its L1 before the write. */
const SAMPLE = 1_000;
const TEN_MINUTES = 600_000;

let redis: RedisServerHandle;
let origin: TestOrigin;
let gateways: GatewayProcess[];
let writer: OptimizedCacheManager;
const namespace = `large-${randomUUID().slice(0, 8)}`;

/** A gateway frame for `target`, as the gateway would have stored the origin's answer. */
function frame(target: RequestTarget): Buffer {
  const now = Date.now();
  return packCached({
    kind: 'response',
    status: 200,
    headers: [['content-type', 'application/json']],
    body: Buffer.from(JSON.stringify({ url: `${target.path}${target.search}`, stored: true })),
    storedAt: now,
    initialAgeMs: 0,
    freshUntil: now + TEN_MINUTES,
    staleUntil: now + TEN_MINUTES,
    forbidsStale: false,
  }) as Buffer;
}

async function store(url: string, tag: string): Promise<void> {
  const target = parseTarget(url) as RequestTarget;
  await writer.set(baseKey(target), frame(target), {
    ttlMs: TEN_MINUTES,
    adaptive: false,
    dataType: 'default',
    tags: [tag],
  });
}

beforeAll(async () => {
  redis = await startRedisServer();
  origin = await startTestOrigin((request) => ({
    body: JSON.stringify({ url: request.url, stored: false }),
  }));
  writer = await OptimizedCacheManager.create({
    namespace,
    memory: { maxBytes: 16 * 2 ** 20 },
    redis: { url: redis.url, commandTimeoutMs: 10_000 },
  });
  for (let start = 0; start < MEMBERS; start += 5_000) {
    await Promise.all(
      Array.from({ length: Math.min(5_000, MEMBERS - start) }, (_, i) =>
        store(`/feed?x=${start + i}`, 'path:/feed'),
      ),
    );
  }
  await store('/other', 'path:/other');
  gateways = await Promise.all(
    [0, 1].map(() =>
      startGatewayProcess({
        origin: origin.url,
        routes: ROUTES,
        env: { REDIS_URL: redis.url, KEEL_NAMESPACE: namespace, KEEL_MEMORY_MAX_BYTES: '256mb' },
      }),
    ),
  );
}, 180_000);
afterAll(async () => {
  await Promise.all((gateways ?? []).map((gateway) => gateway.stop()));
  await writer?.close();
  await origin?.close();
  await redis?.stop();
});

/** The sample of members, read through `gateway` (twice each, so that its L1 keeps them). */
async function readSample(gateway: GatewayProcess): Promise<string[]> {
  const answers: string[] = [];
  for (let start = 0; start < SAMPLE; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const url = `${gateway.url}/feed?x=${(start + i) * 241}`;
        await get(url);
        return (await get(url)).xCache ?? '';
      }),
    );
    answers.push(...batch);
  }
  return answers;
}

describe('invalidating a tag of 250,000 members', () => {
  it('removes every member from Redis and from every gateway, and nothing else', async () => {
    for (const gateway of gateways) expect(new Set(await readSample(gateway))).toEqual(new Set(['HIT']));
    expect((await get(`${gateways[0]?.url}/other`)).xCache).toBe('HIT');

    const write = await get(`${gateways[1]?.url}/feed`, { 'content-type': 'application/json' }, 'PUT', '{}');
    expect(write.status).toBe(200);

    for (const gateway of gateways) {
      const first = await get(`${gateway.url}/feed?x=${MEMBERS - 1}`);
      expect(JSON.parse(first.body).stored).toBe(false);
      // The members this gateway held in L1, and as many it never read (from Redis alone).
      const outcomes = new Set<string>();
      for (const offset of [0, 1]) {
        for (let start = 0; start < SAMPLE; start += 100) {
          const batch = await Promise.all(
            Array.from({ length: 100 }, (_, i) => get(`${gateway.url}/feed?x=${(start + i) * 241 + offset}`)),
          );
          for (const answer of batch) outcomes.add(String(JSON.parse(answer.body).stored));
        }
      }
      expect(outcomes).toEqual(new Set(['false']));
      const other = await get(`${gateway.url}/other`);
      expect([other.xCache, JSON.parse(other.body).stored]).toEqual(['HIT', true]);
    }
    expect(await writer.get(baseKey(parseTarget('/feed?x=7') as RequestTarget))).toBeUndefined();
  });
});
