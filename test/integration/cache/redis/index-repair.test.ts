import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../../support/index.js';
import { Managers, startLoad, uniqueNamespace } from './managers.js';

let url: string;
let raw: Redis;
const managers = new Managers();

beforeAll(async () => {
  url = await redisUrl();
  raw = new Redis(url);
});

afterAll(async () => {
  await managers.closeAll();
  raw.disconnect();
});

const ITEMS = 20;
const ROUNDS = 12;

describe('Redis tier: an index key holding another type', () => {
  it('is deleted, counted and rebuilt, while L2 reads keep working and the breaker stays closed', async () => {
    const ns = uniqueNamespace('wrongtype');
    const writer = await managers.open(ns, { url });
    const other = await managers.open(ns, { url });
    const tagIndex = `${ns}#t:planted`;
    const dependencyIndex = `${ns}#d:parent`;
    const states = new Set<string>();
    const sampler = setInterval(() => {
      const l2 = writer.getPerformanceStats().l2;
      states.add(`${l2?.state}/${l2?.breaker}`);
    }, 5);
    const load = startLoad(writer);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 3 === 0) {
          await raw.set(tagIndex, 'not a sorted set');
          await raw.set(dependencyIndex, 'not a sorted set');
        }
        await Promise.all(
          Array.from({ length: ITEMS }, (_, i) =>
            writer.set(`item:${i}`, { round, i }, { tags: ['planted'], dependsOn: ['parent'] }),
          ),
        );
        // Values the writer has never held: each read must reach Redis and find them there.
        await Promise.all(Array.from({ length: ITEMS }, (_, i) => other.set(`shared:${round}:${i}`, i)));
        for (let i = 0; i < ITEMS; i++) expect(await writer.get(`shared:${round}:${i}`)).toBe(i);
      }
    } finally {
      clearInterval(sampler);
      await load.stop();
    }
    expect(load.errors).toEqual([]);
    expect(states).toEqual(new Set(['ready/closed']));
    const stats = writer.getPerformanceStats();
    expect(stats.l2).toMatchObject({ failedWrites: 0, breakerOpens: 0, pendingInvalidations: 0 });
    expect(stats.l2?.indexRepairs).toBeGreaterThanOrEqual((2 * ROUNDS) / 3);
    expect(stats.requests.l2Hits).toBeGreaterThanOrEqual(ROUNDS * ITEMS);

    // Both indexes work again.
    expect(await raw.type(tagIndex)).toBe('zset');
    expect(await raw.zcard(dependencyIndex)).toBe(ITEMS);
    expect(await writer.delete('parent')).toBe(true);
    expect(await raw.exists(`${ns}#v:item:0`, `${ns}#v:item:${ITEMS - 1}`)).toBe(0);
    for (let i = 0; i < ITEMS; i++) await writer.set(`item:${i}`, i, { tags: ['planted'] });
    expect(await other.invalidateTags(['planted'])).toBe(ITEMS);
  });
});
