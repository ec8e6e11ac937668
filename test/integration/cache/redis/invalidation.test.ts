import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl, waitUntil } from '../../../support/index.js';
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

/** True once every manager reads `key` as missing. */
async function goneEverywhere(key: string, ...caches: { get(key: string): Promise<unknown> }[]) {
  return waitUntil(async () => {
    for (const cache of caches) if ((await cache.get(key)) !== undefined) return false;
    return true;
  }, 3_000);
}

describe('Redis tier: tags', () => {
  it('removes tagged keys from Redis and from every instance, and returns how many', async () => {
    const ns = uniqueNamespace('tags');
    const a = await managers.open(ns, { url });
    const b = await managers.open(ns, { url });
    await a.set('p:1', 1, { tags: ['collection:tea'] });
    await a.set('p:2', 2, { tags: ['collection:tea', 'vendor:x'] });
    await a.set('p:3', 3, { tags: ['vendor:x'] });
    expect(await b.get('p:1')).toBe(1);
    expect(await b.get('p:2')).toBe(2);
    expect(await b.invalidateTags(['collection:tea'])).toBe(2);
    expect(await raw.exists(`${ns}#v:p:1`, `${ns}#v:p:2`, `${ns}#t:collection:tea`)).toBe(0);
    expect(await goneEverywhere('p:1', a, b)).toBe(true);
    expect(await goneEverywhere('p:2', a, b)).toBe(true);
    expect(await a.get('p:3')).toBe(3);
  });

  it('keeps tag indexes bounded: members expire with their values and the set with its last member', async () => {
    const ns = uniqueNamespace('tagttl');
    const cache = await managers.open(ns, { url });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => cache.set(`short:${i}`, i, { ttlMs: 1_000, tags: ['t'] })),
    );
    expect(await raw.zcard(`${ns}#t:t`)).toBe(50);
    await sleep(1_100);
    await cache.set('long', 'x', { ttlMs: 60_000, tags: ['t'] });
    expect(await raw.zcard(`${ns}#t:t`)).toBe(1);
    const pttl = await raw.pttl(`${ns}#t:t`);
    expect(pttl).toBeGreaterThan(50_000);
    await cache.set('brief', 'y', { ttlMs: 100, tags: ['only-brief'] });
    await sleep(250);
    expect(await raw.exists(`${ns}#t:only-brief`)).toBe(0);
  });
});

describe('Redis tier: dependencies', () => {
  it('invalidating a key invalidates its dependents transitively, across instances', async () => {
    const ns = uniqueNamespace('deps');
    const a = await managers.open(ns, { url });
    const b = await managers.open(ns, { url });
    await a.set('product:1', { price: 1 });
    await a.set('listing:tea', ['product:1'], { dependsOn: ['product:1'] });
    await a.set('page:home', '<html>', { dependsOn: ['listing:tea'] });
    expect(await b.get('page:home')).toBe('<html>');
    await b.set('product:1', { price: 2 });
    expect(await raw.exists(`${ns}#v:listing:tea`, `${ns}#v:page:home`)).toBe(0);
    expect(await goneEverywhere('page:home', a, b)).toBe(true);
    expect(await goneEverywhere('listing:tea', a, b)).toBe(true);
    expect(await a.get('product:1')).toEqual({ price: 2 });
  });

  it('ends on a cycle of dependencies', async () => {
    const ns = uniqueNamespace('cycle');
    const cache = await managers.open(ns, { url });
    // fills (unlike set) do not invalidate dependents, so they can close a cycle
    await cache.getOrSet('x', () => 1, { dependsOn: ['y'] });
    await cache.getOrSet('y', () => 2, { dependsOn: ['x'] });
    await cache.getOrSet('z', () => 3, { dependsOn: ['y'] });
    expect(await cache.delete('x')).toBe(true);
    expect(await raw.exists(`${ns}#v:x`, `${ns}#v:y`, `${ns}#v:z`)).toBe(0);
  });
});

describe('Redis tier: patterns', () => {
  it('SCANs and unlinks within the namespace only, on every instance', async () => {
    const ns = uniqueNamespace('pat');
    const neighbour = `${ns}:eu`;
    const a = await managers.open(ns, { url });
    const b = await managers.open(ns, { url });
    const other = await managers.open(neighbour, { url });
    for (let i = 0; i < 1_500; i++) await a.set(`user:${i}`, i);
    await a.set('order:1', 'o');
    await other.set('user:1', 'neighbour');
    await raw.set(`${ns}-outside`, 'x');
    expect(await b.get('user:7')).toBe(7);
    expect(await a.invalidate('user:*')).toBe(1_500);
    expect(await goneEverywhere('user:7', a, b)).toBe(true);
    expect(await a.get('order:1')).toBe('o');
    expect(await other.get('user:1')).toBe('neighbour');
    // "*" reaches every value of the namespace and nothing else: not the neighbour, not other keys
    expect(await a.invalidate('*')).toBe(1);
    expect(await other.get('user:1')).toBe('neighbour');
    expect(await raw.get(`${ns}-outside`)).toBe('x');
    await raw.del(`${ns}-outside`);
  });

  it('rejects a malformed pattern', async () => {
    const cache = await managers.open(uniqueNamespace('badpat'), { url });
    await expect(cache.invalidate('')).rejects.toThrow(/non-empty glob/);
    await expect(cache.invalidate('[abc')).rejects.toThrow(/Unterminated/);
  });

  it('clear empties the namespace in Redis and every instance', async () => {
    const ns = uniqueNamespace('clear');
    const a = await managers.open(ns, { url });
    const b = await managers.open(ns, { url });
    await a.set('k1', 1, { tags: ['t'] });
    await a.set('k2', 2, { dependsOn: ['k1'] });
    expect(await b.get('k1')).toBe(1);
    await a.clear();
    expect(await raw.keys(`${ns}#*`)).toEqual([]);
    expect(await goneEverywhere('k1', a, b)).toBe(true);
  });
});
