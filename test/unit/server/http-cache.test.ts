import { describe, expect, it } from 'vitest';
import { baseKey, normalizedQuery, variantKey } from '../../../src/server/cache-key.js';
import {
  forbidsStale,
  initialAgeMs,
  notStorable,
  originLifetimeMs,
  parseCacheControl,
  replayedHeaders,
  requestRules,
  varyNames,
} from '../../../src/server/http-cache.js';
import { parseRoutes } from '../../../src/server/routes-file.js';

const [route, authenticated] = parseRoutes(
  'routes:\n  - path: /a\n  - path: /b\n    cacheAuthenticated: true\n    cacheableStatuses: [200]\n',
  'test',
) as [ReturnType<typeof parseRoutes>[0], ReturnType<typeof parseRoutes>[0]];
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
  it('bypasses for Authorization and Cookie unless the route opts in, and for no-store', () => {
    expect(requestRules({ authorization: 'Bearer t' }, route).bypass).toBe('authorization');
    expect(requestRules({ cookie: 'sid=1' }, route).bypass).toBe('cookie');
    expect(
      requestRules({ authorization: 'Bearer t', cookie: 'sid=1' }, authenticated).bypass,
    ).toBeUndefined();
    expect(requestRules({ 'cache-control': 'no-store' }, route).bypass).toBe('no-store');
  });

  it('revalidates on no-cache, max-age=0 and Pragma: no-cache; notes only-if-cached', () => {
    expect(requestRules({ 'cache-control': 'no-cache' }, route).revalidate).toBe(true);
    expect(requestRules({ 'cache-control': 'max-age=0' }, route).revalidate).toBe(true);
    expect(requestRules({ pragma: 'no-cache' }, route).revalidate).toBe(true);
    expect(requestRules({ pragma: 'no-cache', 'cache-control': 'max-age=10' }, route).revalidate).toBe(false);
    expect(requestRules({}, route)).toEqual({ revalidate: false, onlyIfCached: false });
    expect(requestRules({ 'cache-control': 'only-if-cached' }, route).onlyIfCached).toBe(true);
  });
});

describe('responses (§3)', () => {
  it('stores allowed statuses only, never Set-Cookie, private, no-store or Vary: *', () => {
    expect(notStorable(200, {}, route)).toBeUndefined();
    expect(notStorable(404, {}, route)).toBeUndefined();
    expect(notStorable(404, {}, authenticated)).toBe('status');
    expect(notStorable(500, {}, route)).toBe('status');
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

  it('replays only the safe headers', () => {
    const kept = replayedHeaders({
      'content-type': 'application/json',
      etag: '"1"',
      'set-cookie': ['a=1'],
      connection: 'close',
      'x-internal': 'secret',
    });
    expect(Object.fromEntries(kept)).toEqual({ 'content-type': 'application/json', etag: '"1"' });
  });
});

describe('cache keys', () => {
  it('normalizes the query so equivalent URLs share an entry', () => {
    expect(normalizedQuery('?b=2&a=1&a=0')).toBe('?a=0&a=1&b=2');
    expect(normalizedQuery('?')).toBe('');
    expect(baseKey('/p', '?x=%41')).toBe(baseKey('/p', '?x=A'));
    expect(baseKey('/p', '')).toBe('GET /p');
  });

  it('keys variants by the values of the Vary headers, and hashes keys that are too long', () => {
    expect(variantKey('GET /p', ['accept-language'], { 'accept-language': 'ja' })).toBe(
      'GET /p\naccept-language=ja',
    );
    expect(variantKey('GET /p', ['accept-language'], {})).toBe('GET /p\naccept-language=');
    expect(baseKey(`/${'x'.repeat(2000)}`, '')).toMatch(/^GET #[0-9a-f]{64}$/);
  });
});
