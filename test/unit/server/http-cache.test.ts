import { describe, expect, it } from 'vitest';
import { baseKey, variantKey } from '../../../src/server/cache-key.js';
import {
  forbidsStale,
  freshnessMs,
  initialAgeMs,
  notStorable,
  originLifetimeMs,
  parseCacheControl,
  requestRules,
  varyNames,
} from '../../../src/server/http-cache.js';
import { parseRoutes } from '../../../src/server/routes-file.js';

const [route, authenticated, honoring] = parseRoutes(
  'routes:\n  - path: /a\n  - path: /b\n    cacheAuthenticated: true\n    cacheableStatuses: [200]\n' +
    '  - path: /c\n    clientCacheControl: honor\n',
  'test',
) as ReturnType<typeof parseRoutes>;
const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('Cache-Control', () => {
  it('parses directives, case-insensitively, with quoted and bare values', () => {
    const directives = parseCacheControl('Public, MAX-AGE=60, no-cache="set-cookie", s-maxage=30');
    expect(directives.get('public')).toBe(true);
    expect(directives.get('max-age')).toBe('60');
    expect(directives.get('no-cache')).toBe('set-cookie');
    expect(directives.get('s-maxage')).toBe('30');
    expect(parseCacheControl(['max-age=5', 'private']).has('private')).toBe(true);
  });
});

describe('requests (RFC 9111 §5.2.1)', () => {
  it('bypasses for Authorization and Cookie unless the route opts in, then marks the request personal', () => {
    expect(requestRules({ authorization: 'Bearer t' }, route).bypass).toBe('authorization');
    expect(requestRules({ cookie: 'sid=1' }, route).bypass).toBe('cookie');
    const opted = requestRules({ authorization: 'Bearer t', cookie: 'sid=1' }, authenticated);
    expect([opted.bypass, opted.personal]).toEqual([undefined, true]);
    expect(requestRules({}, authenticated).personal).toBe(false);
  });

  it("ignores the client's Cache-Control by default, except only-if-cached", () => {
    const rules = requestRules(
      { 'cache-control': 'no-cache, no-store, max-age=0', pragma: 'no-cache' },
      route,
    );
    expect([rules.revalidate, rules.noStore, rules.maxAgeMs]).toEqual([false, false, undefined]);
    expect(requestRules({ 'cache-control': 'only-if-cached' }, route).onlyIfCached).toBe(true);
  });

  it('with honor: revalidates on no-cache, max-age=0 and a lone Pragma; keeps max-age and no-store', () => {
    const honored = honoring as NonNullable<typeof honoring>;
    expect(requestRules({ 'cache-control': 'no-cache' }, honored).revalidate).toBe(true);
    expect(requestRules({ 'cache-control': 'max-age=0' }, honored).revalidate).toBe(true);
    expect(requestRules({ pragma: 'no-cache' }, honored).revalidate).toBe(true);
    expect(requestRules({ pragma: 'no-cache', 'cache-control': 'max-age=10' }, honored)).toMatchObject({
      revalidate: false,
      maxAgeMs: 10_000,
    });
    expect(requestRules({ 'cache-control': 'no-store' }, honored)).toMatchObject({
      noStore: true,
      bypass: undefined,
    });
  });
});

describe('responses (§3)', () => {
  it('stores allowed statuses only, never Set-Cookie, private, no-store or Vary: *', () => {
    expect(notStorable(200, {}, route)).toBeUndefined();
    expect(notStorable(404, {}, route)).toBeUndefined();
    expect(notStorable(404, {}, authenticated)).toBe('status');
    expect(notStorable(500, {}, route)).toBe('status');
    expect(notStorable(206, {}, route)).toBe('partial');
    expect(notStorable(200, { 'set-cookie': ['a=1'] }, route)).toBe('set-cookie');
    expect(notStorable(200, { 'cache-control': 'private, max-age=60' }, route)).toBe('private');
    expect(notStorable(200, { 'cache-control': 'no-store' }, route)).toBe('no-store');
    expect(notStorable(200, { vary: 'Accept, *' }, route)).toBe('vary-star');
  });

  it('reads Vary names lower-cased, sorted and deduplicated', () => {
    expect(varyNames({ vary: 'Accept-Language, accept, Accept' })).toEqual(['accept', 'accept-language']);
    expect(varyNames({})).toEqual([]);
  });
});

describe('freshness (§4.2)', () => {
  const date = new Date(NOW).toUTCString();
  it('takes s-maxage, then max-age, then Expires − Date, then the heuristic, and 0 for no-cache', () => {
    expect(originLifetimeMs({ 'cache-control': 'max-age=60, s-maxage=10' }, NOW)).toBe(10_000);
    expect(originLifetimeMs({ 'cache-control': 'max-age=60' }, NOW)).toBe(60_000);
    expect(originLifetimeMs({ date, expires: new Date(NOW + 90_000).toUTCString() }, NOW)).toBe(90_000);
    expect(originLifetimeMs({ date, expires: 'garbage' }, NOW)).toBe(0);
    // 10 % of the 10 hours since Last-Modified
    expect(originLifetimeMs({ date, 'last-modified': new Date(NOW - 36_000_000).toUTCString() }, NOW)).toBe(
      3_600_000,
    );
    // ...capped at a day
    expect(
      originLifetimeMs({ date, 'last-modified': new Date(NOW - 30 * 86_400_000).toUTCString() }, NOW),
    ).toBe(86_400_000);
    expect(originLifetimeMs({ 'cache-control': 'no-cache, max-age=60' }, NOW)).toBe(0);
    expect(originLifetimeMs({}, NOW)).toBe(0);
  });

  it('computes the initial age from Age, the transit time and Date (§4.2.3)', () => {
    expect(initialAgeMs({ age: '30' }, NOW - 200, NOW)).toBe(30_200);
    expect(initialAgeMs({ date: new Date(NOW - 5_000).toUTCString() }, NOW - 100, NOW)).toBe(5_000);
    expect(initialAgeMs({}, NOW - 50, NOW)).toBe(50);
  });

  it('forbids stale serving on must-revalidate, proxy-revalidate and s-maxage (§4.2.4)', () => {
    expect(forbidsStale({ 'cache-control': 'max-age=5, must-revalidate' })).toBe(true);
    expect(forbidsStale({ 'cache-control': 'proxy-revalidate' })).toBe(true);
    expect(forbidsStale({ 'cache-control': 's-maxage=5' })).toBe(true);
    expect(forbidsStale({ 'cache-control': 'max-age=5' })).toBe(false);
  });

  it('clamps delta-seconds past 2^31 (§1.2.2)', () => {
    expect(originLifetimeMs({ 'cache-control': `max-age=${'9'.repeat(30)}` }, NOW)).toBe(2 ** 31 * 1000);
    expect(initialAgeMs({ age: '9'.repeat(30) }, NOW, NOW)).toBe(2 ** 31 * 1000);
  });
});

describe("Keel's TTL against the origin's directives", () => {
  const [fixed, adaptive] = parseRoutes(
    'routes:\n  - path: /f\n    ttl: 10m\n  - path: /a\n    ttl: adaptive\n',
    'test',
  ) as [ReturnType<typeof parseRoutes>[0], ReturnType<typeof parseRoutes>[0]];
  const keel = () => 120_000;
  it("uses Keel's TTL where the origin does not forbid it", () => {
    expect(freshnessMs(fixed, { 'cache-control': 'max-age=5' }, NOW, 0, keel)).toBe(600_000);
    expect(freshnessMs(adaptive, {}, NOW, 0, keel)).toBe(120_000);
  });
  it('revalidates every time on no-cache or a shared lifetime of 0', () => {
    for (const value of ['no-cache', 'max-age=0', 'public, s-maxage=0, max-age=60'])
      expect(freshnessMs(fixed, { 'cache-control': value }, NOW, 0, keel), value).toBe(0);
  });
  it("caps Keel's TTL at the origin's lifetime under must-revalidate, proxy-revalidate or s-maxage", () => {
    expect(freshnessMs(fixed, { 'cache-control': 'max-age=5, must-revalidate' }, NOW, 1_000, keel)).toBe(
      4_000,
    );
    expect(freshnessMs(adaptive, { 'cache-control': 's-maxage=30' }, NOW, 0, keel)).toBe(30_000);
    expect(freshnessMs(fixed, { 'cache-control': 'max-age=3600, proxy-revalidate' }, NOW, 0, keel)).toBe(
      600_000,
    );
  });
});

describe('cache keys', () => {
  it("keys a target, and a trusted proxy's forwarding headers on a line of their own", () => {
    expect(baseKey({ path: '/p', search: '?a=1' })).toBe('GET /p?a=1');
    expect(baseKey({ path: '/p', search: '' }, 'forwarded: x-forwarded-host=a')).toBe(
      'GET /p\nforwarded: x-forwarded-host=a',
    );
  });

  it('keys variants by the values of the Vary headers sent, and hashes keys that are too long', () => {
    expect(variantKey('GET /p', ['accept-language'], { 'accept-language': 'ja' })).toBe(
      'GET /p\naccept-language=ja',
    );
    expect(variantKey('GET /p', ['accept-language'], {})).toBe('GET /p\naccept-language=');
    expect(baseKey({ path: `/${'x'.repeat(2000)}`, search: '' })).toMatch(/^GET #[0-9a-f]{64}$/);
  });
});
