/**
 * The HTTP caching rules of the gateway: what a shared cache may store and serve, following
 * RFC 9111 (HTTP Caching) for the parts a JSON API gateway meets. Pure functions over headers, so
 * each rule is tested on its own (test/unit/server/http-cache.test.ts).
 *
 * Requests (§5.2.1): a request carrying `Authorization` or `Cookie` is answered for one client, so
 * it bypasses the cache unless its route opts in (`cacheAuthenticated`: the route owner says the
 * response does not depend on who asks). `no-store` bypasses the cache; `no-cache`, `max-age=0`
 * and `Pragma: no-cache` make the gateway go to the origin (revalidating what it holds).
 *
 * Responses (§3): stored only with a status the route allows (200, 203, 301, 404 by default),
 * without `Set-Cookie` (a cookie set for one client must not reach another), and without
 * `Cache-Control: private` or `no-store`; `Vary: *` is never stored.
 *
 * Freshness (§4.2): per route, Keel's TTL (fixed, or adaptive by data type) or the origin's:
 * `s-maxage`, then `max-age`, then `Expires − Date`, then the heuristic of §4.2.2 (a tenth of the
 * time since `Last-Modified`, at most a day); `no-cache` gives a lifetime of 0 (store, revalidate
 * every time). The age a response already had (§4.2.3: its `Age` plus the time it took to arrive,
 * or `Date` to now when larger) is subtracted from its lifetime, and shown as `Age` when served.
 * `must-revalidate`, `proxy-revalidate` and `s-maxage` forbid serving it stale (§4.2.4).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteRule } from './routes-file.js';

/** Headers of a stored response that are safe to replay to any client (everything else is dropped). */
const REPLAYED_HEADERS = new Set([
  'content-type',
  'content-encoding',
  'content-language',
  'content-disposition',
  'content-location',
  'location',
  'link',
  'etag',
  'last-modified',
  'expires',
  'cache-control',
  'vary',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'x-content-type-options',
]);
/** §4.2.2: a heuristic lifetime is this share of the time since Last-Modified... */
const HEURISTIC_FRACTION = 0.1;
/** ...and never longer than a day. */
const HEURISTIC_MAX_MS = 86_400_000;

export type Directives = ReadonlyMap<string, string | true>;

/** `max-age=60, public` → {max-age: "60", public: true}; names lower-cased, quotes removed. */
export function parseCacheControl(header: string | string[] | undefined): Directives {
  const directives = new Map<string, string | true>();
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined) return directives;
  for (const part of text.split(',')) {
    const [rawName, ...rest] = part.split('=');
    const name = rawName?.trim().toLowerCase();
    if (!name) continue;
    const value = rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1');
    directives.set(name, rest.length === 0 ? true : value);
  }
  return directives;
}

function seconds(directives: Directives, name: string): number | undefined {
  const value = directives.get(name);
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

export type Bypass = 'authorization' | 'cookie' | 'no-store';

export interface RequestRules {
  /** Set when the request must not use the cache at all. */
  bypass?: Bypass;
  /** The client asked for a response validated with the origin. */
  revalidate: boolean;
  /** `only-if-cached`: answer 504 rather than go to the origin. */
  onlyIfCached: boolean;
}

export function requestRules(headers: IncomingHttpHeaders, route: RouteRule): RequestRules {
  const directives = parseCacheControl(headers['cache-control']);
  const onlyIfCached = directives.has('only-if-cached');
  if (!route.cacheAuthenticated) {
    if (headers.authorization !== undefined)
      return { bypass: 'authorization', revalidate: false, onlyIfCached };
    if (headers.cookie !== undefined) return { bypass: 'cookie', revalidate: false, onlyIfCached };
  }
  if (directives.has('no-store')) return { bypass: 'no-store', revalidate: false, onlyIfCached };
  const pragma = headers.pragma;
  const revalidate =
    directives.has('no-cache') ||
    seconds(directives, 'max-age') === 0 ||
    (!directives.has('max-age') && pragma === 'no-cache');
  return { revalidate, onlyIfCached };
}

export type NotStored = 'status' | 'set-cookie' | 'private' | 'no-store' | 'vary-star' | 'no-lifetime';

/** Why a response may not be stored, or undefined when it may. */
export function notStorable(
  status: number,
  headers: IncomingHttpHeaders,
  route: RouteRule,
): NotStored | undefined {
  if (!route.cacheableStatuses.has(status)) return 'status';
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.has('no-store')) return 'no-store';
  if (directives.has('private')) return 'private';
  if (varyNames(headers) === '*') return 'vary-star';
  return undefined;
}

/** The request headers a response varies on (lower-case, sorted), `'*'`, or [] for none. */
export function varyNames(headers: IncomingHttpHeaders): string[] | '*' {
  const vary = headers.vary;
  if (vary === undefined) return [];
  const names = (Array.isArray(vary) ? vary.join(',') : vary)
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (names.includes('*')) return '*';
  return [...new Set(names)].sort();
}

/** How long the response is fresh under the origin's headers (route TTL `origin`), in ms. */
export function originLifetimeMs(headers: IncomingHttpHeaders, now: number): number {
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.has('no-cache')) return 0;
  const shared = seconds(directives, 's-maxage') ?? seconds(directives, 'max-age');
  if (shared !== undefined) return shared * 1000;
  const date = headerDate(headers.date) ?? now;
  const expires = headers.expires;
  if (expires !== undefined) {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? 0 : Math.max(0, at - date);
  }
  const lastModified = headerDate(headers['last-modified']);
  if (lastModified !== undefined && lastModified < date) {
    return Math.min(HEURISTIC_MAX_MS, (date - lastModified) * HEURISTIC_FRACTION);
  }
  return 0;
}

/** True when the response may not be served stale (§4.2.4). */
export function forbidsStale(headers: IncomingHttpHeaders): boolean {
  const directives = parseCacheControl(headers['cache-control']);
  return (
    directives.has('must-revalidate') || directives.has('proxy-revalidate') || directives.has('s-maxage')
  );
}

/** §4.2.3: the age (ms) the response had when it arrived. */
export function initialAgeMs(headers: IncomingHttpHeaders, requestedAt: number, receivedAt: number): number {
  const ageHeader = Number(headers.age);
  const ageValue = Number.isFinite(ageHeader) && ageHeader >= 0 ? ageHeader * 1000 : 0;
  const date = headerDate(headers.date);
  const apparentAge = date === undefined ? 0 : Math.max(0, receivedAt - date);
  return Math.max(apparentAge, ageValue + (receivedAt - requestedAt));
}

/** The response's headers that a cached copy replays, as [name, value] pairs. */
export function replayedHeaders(headers: IncomingHttpHeaders): [string, string][] {
  const kept: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !REPLAYED_HEADERS.has(name)) continue;
    kept.push([name, Array.isArray(value) ? value.join(', ') : value]);
  }
  return kept;
}

/** A header that can be absent, as ms since the epoch (undefined when absent or not a date). */
function headerDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}
