import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../../support/index.js';
import { Managers, sleep, uniqueNamespace } from './managers.js';

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

describe('Redis tier: stampede protection across instances', () => {
  it('4 instances × 250 concurrent getOrSet on one cold key → exactly one factory call', async () => {
    const ns = uniqueNamespace('stampede');
    const instances = await Promise.all(
      Array.from({ length: 4 }, () => managers.open(ns, { url, lock: true })),
    );
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(50);
      return { id: 1, title: 'Green tea' };
    };
    const results = await Promise.all(
      instances.flatMap((cache) => Array.from({ length: 250 }, () => cache.getOrSet('product:1', factory))),
    );
    expect(calls).toBe(1);
    expect(results).toHaveLength(1_000);
    for (const result of results) expect(result).toEqual({ id: 1, title: 'Green tea' });
    expect(await raw.exists(`${ns}#l:product:1`)).toBe(0);
  });

  it('is opt-in per call as well', async () => {
    const ns = uniqueNamespace('percall');
    const instances = await Promise.all(Array.from({ length: 3 }, () => managers.open(ns, { url })));
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(30);
      return 'v';
    };
    await Promise.all(instances.map((cache) => cache.getOrSet('k', factory, { lock: true })));
    expect(calls).toBe(1);
  });

  it('when the lock holder dies, the lock expires and one waiter takes over', async () => {
    const ns = uniqueNamespace('takeover');
    const lockTtlMs = 400;
    const holder = await managers.open(ns, { url, lock: true, lockTtlMs, lockPollMs: 20 });
    const waiters = await Promise.all(
      Array.from({ length: 3 }, () => managers.open(ns, { url, lock: true, lockTtlMs, lockPollMs: 20 })),
    );
    // The holder takes the lock and never finishes: its process "died" mid-factory.
    void holder.getOrSet('k', () => new Promise<string>(() => {}));
    await sleep(50);
    expect(await raw.exists(`${ns}#l:k`)).toBe(1);
    let calls = 0;
    const started = Date.now();
    const results = await Promise.all(
      waiters.flatMap((cache) =>
        Array.from({ length: 10 }, () =>
          cache.getOrSet('k', async () => {
            calls++;
            await sleep(20);
            return 'recovered';
          }),
        ),
      ),
    );
    expect(results.every((value) => value === 'recovered')).toBe(true);
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(lockTtlMs - 100);
  });
});
