/**
 * The HTTP caching rules of the gateway: what a shared cache may store and serve, following
 * RFC 9111 (HTTP Caching) for the parts a JSON API gateway meets. Pure functions over headers, so
 * each rule is tested on its own (test/unit/server/http-cache.test.ts).
 *
 * Requests (§5.2.1): a request carrying `Authorization` or `Cookie` is answered for one client, so
 * it bypasses the cache unless its route opts in (`cacheAuthenticated`: the route owner says the
 * response does not depend on who asks); even then it never shares an origin request with others.
 * A client's own `Cache-Control` is the route's choice (`clientCacheControl`): `ignore` (the
 * default, as large CDNs do) answers `no-cache`, `no-store` and `max-age=0` from the cache like any
 * request, so no client can make the gateway pass its traffic to the origin; `honor` follows the
 * RFC: `no-cache`, `max-age=0` and `Pragma: no-cache` revalidate with the origin, `max-age=N`
 * accepts a stored answer only N seconds old, and `no-store` forbids storing the answer (a stored
 * one is still served, §5.2.1.5). `only-if-cached` is always honoured.
 *
 * Responses (§3): stored only with a status the route allows (200, 203, 301, 404 by default; never
 * a 206 or a 304, which are not whole answers), without `Set-Cookie` (a cookie set for one client
 * must not reach another), and without `Cache-Control: private` or `no-store`; `Vary: *` is never
 * stored.
 *
 * Freshness (§4.2): the origin's lifetime is `s-maxage`, then `max-age`, then `Expires − Date`,
 * then the heuristic of §4.2.2 (a tenth of the time since `Last-Modified`, at most a day), less the
 * age the answer already had (§4.2.3); `no-cache` gives 0 (store, revalidate every time). Routes
 * with `ttl: origin` use it as it is. Routes with Keel's TTL (fixed or adaptive) use Keel's, except
 * where the origin forbids it: `no-cache` or a shared lifetime of 0 still mean "revalidate every
 * time", and `must-revalidate`, `proxy-revalidate` or `s-maxage` cap Keel's TTL at the origin's
 * lifetime. Those three also forbid serving the answer stale (§4.2.4), whatever the route says.
 * Delta-seconds past 2^31 are read as 2^31 (§1.2.2), so no origin value overflows a lifetime.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteRule } from './routes-file.js';

/** §4.2.2: a heuristic lifetime is this share of the time since Last-Modified... */
const HEURISTIC_FRACTION = 0.1;
/** ...and never longer than a day. */
const HEURISTIC_MAX_MS = 86_400_000;
/** §1.2.2: the largest delta-seconds a cache needs to tell apart. */
const MAX_DELTA_SECONDS = 2 ** 31;

export type Directives = ReadonlyMap<string, string | true>;

/** An answer's headers as the origin's client gives them: a repeated header as an array of its lines. */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** `max-age=60, public` → {max-age: "60", public: true}; names lower-cased, quotes removed. */
export function parseCacheControl(header: string | string[] | undefined): Directives {
  const directives = new Map<string, string | true>();
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined) return directives;
  for (const part of splitDirectives(text)) {
    const at = part.indexOf('=');
    const name = (at < 0 ? part : part.slice(0, at)).trim().toLowerCase();
    if (!name) continue;
    const value =
      at < 0
        ? true
        : part
            .slice(at + 1)
            .trim()
            .replace(/^"(.*)"$/s, '$1');
    if (!directives.has(name)) directives.set(name, value);
  }
  return directives;
}

/** Directives split on commas outside quoted strings (`private="a, b"` is one). */
function splitDirectives(text: string): string[] {
  if (!text.includes('"')) return text.split(',');
  return text.match(/(?:[^,"]|"[^"]*")+/g) ?? [];
}

/** A delta-seconds directive, clamped to 2^31 (§1.2.2); undefined when absent or malformed. */
function seconds(directives: Directives, name: string): number | undefined {
  const value = directives.get(name);
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DELTA_SECONDS);
}

export type Bypass = 'authorization' | 'cookie';

export interface RequestRules {
  /** Set when the request must not use the cache at all. */
  bypass?: Bypass;
  /** The request is someone's own (Authorization or Cookie on a route that caches them). */
  personal: boolean;
  /** The client asked for a response validated with the origin. */
  revalidate: boolean;
  /** The oldest stored answer (ms) the client accepts, if it said. */
  maxAgeMs?: number;
  /** The client forbade storing the answer. */
  noStore: boolean;
  /** `only-if-cached`: answer 504 rather than go to the origin. */
  onlyIfCached: boolean;
}

export function requestRules(headers: IncomingHttpHeaders, route: RouteRule): RequestRules {
  const directives = parseCacheControl(headers['cache-control']);
  const onlyIfCached = directives.has('only-if-cached');
  const credentials: Bypass | undefined =
    headers.authorization !== undefined
      ? 'authorization'
      : headers.cookie !== undefined
        ? 'cookie'
        : undefined;
  const rules: RequestRules = {
    bypass: route.cacheAuthenticated ? undefined : credentials,
    personal: credentials !== undefined,
    revalidate: false,
    noStore: false,
    onlyIfCached,
  };
  if (route.clientCacheControl === 'ignore') return rules;
  const maxAge = seconds(directives, 'max-age');
  rules.revalidate =
    directives.has('no-cache') ||
    maxAge === 0 ||
    // §5.4: Pragma counts only without Cache-Control.
    (headers['cache-control'] === undefined && headers.pragma === 'no-cache');
  rules.noStore = directives.has('no-store');
  if (maxAge !== undefined) rules.maxAgeMs = maxAge * 1000;
  return rules;
}

export type NotStored = 'status' | 'partial' | 'set-cookie' | 'private' | 'no-store' | 'vary-star';

/** Why a response may not be stored, or undefined when it may. */
export function notStorable(status: number, headers: HeaderMap, route: RouteRule): NotStored | undefined {
  if (status === 206 || status === 304) return 'partial';
  if (!route.cacheableStatuses.has(status)) return 'status';
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.has('no-store')) return 'no-store';
  if (directives.has('private')) return 'private';
  if (varyNames(headers) === '*') return 'vary-star';
  return undefined;
}

/** The request headers a response varies on (lower-case, sorted), `'*'`, or [] for none. */
export function varyNames(headers: HeaderMap): string[] | '*' {
  const vary = headers.vary;
  if (vary === undefined) return [];
  const names = (Array.isArray(vary) ? vary.join(',') : vary)
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (names.includes('*')) return '*';
  return [...new Set(names)].sort();
}

/**
 * How long (ms) an answer that arrived at `receivedAt`, `ageMs` old, stays fresh under the route's
 * TTL and the origin's directives; `keelTtlMs` gives Keel's adaptive TTL.
 */
export function freshnessMs(
  route: RouteRule,
  headers: HeaderMap,
  receivedAt: number,
  ageMs: number,
  keelTtlMs: () => number,
): number {
  const fromOrigin = originLifetimeMs(headers, receivedAt) - ageMs;
  if (route.ttl.kind === 'origin') return Math.max(0, fromOrigin);
  const directives = parseCacheControl(headers['cache-control']);
  const shared = seconds(directives, 's-maxage') ?? seconds(directives, 'max-age');
  if (directives.has('no-cache') || shared === 0) return 0;
  const keel = route.ttl.kind === 'fixed' ? route.ttl.ms : keelTtlMs();
  return forbidsStale(headers) ? Math.max(0, Math.min(keel, fromOrigin)) : keel;
}

/** How long the response is fresh under the origin's headers alone, in ms (before its age). */
export function originLifetimeMs(headers: HeaderMap, now: number): number {
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.has('no-cache')) return 0;
  const shared = seconds(directives, 's-maxage') ?? seconds(directives, 'max-age');
  if (shared !== undefined) return shared * 1000;
  const date = headerDate(headers.date) ?? now;
  const expires = headers.expires;
  if (expires !== undefined) {
    const at = typeof expires === 'string' ? Date.parse(expires) : Number.NaN;
    return Number.isNaN(at) ? 0 : Math.min(MAX_DELTA_SECONDS * 1000, Math.max(0, at - date));
  }
  const lastModified = headerDate(headers['last-modified']);
  if (lastModified !== undefined && lastModified < date) {
    return Math.min(HEURISTIC_MAX_MS, (date - lastModified) * HEURISTIC_FRACTION);
  }
  return 0;
}

/** True when the response may not be served stale (§4.2.4). */
export function forbidsStale(headers: HeaderMap): boolean {
  const directives = parseCacheControl(headers['cache-control']);
  return (
    directives.has('must-revalidate') || directives.has('proxy-revalidate') || directives.has('s-maxage')
  );
}

/** §4.2.3: the age (ms) the response had when it arrived. */
export function initialAgeMs(headers: HeaderMap, requestedAt: number, receivedAt: number): number {
  const ageHeader = typeof headers.age === 'string' && /^\d+$/.test(headers.age) ? Number(headers.age) : 0;
  const ageValue = Math.min(ageHeader, MAX_DELTA_SECONDS) * 1000;
  const date = headerDate(headers.date);
  const apparentAge =
    date === undefined ? 0 : Math.min(MAX_DELTA_SECONDS * 1000, Math.max(0, receivedAt - date));
  return Math.max(apparentAge, ageValue + (receivedAt - requestedAt));
}

/** A header that can be absent, as ms since the epoch (undefined when absent or not a date). */
function headerDate(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

/** Each header's first value, by lower-case name. */
export function firstValues(headers: HeaderMap): Record<string, string | undefined> {
  const first: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) first[name] = Array.isArray(value) ? value[0] : value;
  return first;
}
