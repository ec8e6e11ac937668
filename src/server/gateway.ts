/**
 * The caching gateway: every request to `keel serve` (outside /admin, /metrics, /health, /api and
 * /dashboard) is answered here, from the cache or from the origin.
 *
 * Read path (GET/HEAD on a read route, enabled for this client, cacheable per http-cache.ts):
 *   fresh entry → HIT; stale entry (or the client asked for a validated answer) → conditional
 *   request to the origin with the entry's validators: 304 → REVALIDATED (the entry is refreshed
 *   without a body transfer), a new response → MISS (stored), origin failing → STALE within grace,
 *   else the error; no entry → the origin (concurrent misses on one URL share one request) → MISS.
 * Everything else passes through (X-Cache: BYPASS). A successful unsafe request (POST, PUT, PATCH,
 * DELETE) invalidates what the cache holds for its URL and for its Location (RFC 9111 §4.4) and
 * the tags its write route names, in both tiers and on every instance.
 *
 * Clients' own conditional requests are answered by the gateway when it serves from the cache
 * (304 when their ETag or date matches), and are not forwarded on a miss, so the origin's full
 * answer can be stored. Origin failures answer 502 (unreachable) or 504 (timeout) with a JSON body
 * `{ error: { code, message } }`.
 *
 * What the cache holds per URL is a frame (response-frame.ts): one buffer, read back on each hit.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import { isKeelError, KeelError } from '../errors.js';
import type { CacheOutcome } from '../observability/index.js';
import { baseKey, variantKey } from './cache-key.js';
import { bucketOf, type StickyKey, stickyIdentity } from './enablement.js';
import type { GatewayStats } from './gateway-stats.js';
import { notStorable, requestRules, varyNames } from './http-cache.js';
import { packCached, unpackCached } from './response-frame.js';
import type { RouteMatch, RouteTable } from './route-table.js';
import type { RouteRule } from './routes-file.js';
import {
  ageSeconds,
  refreshed,
  type StoredResponse,
  servableStale,
  storedResponse,
} from './stored-response.js';
import type { Upstream, UpstreamResponse } from './upstream.js';

export interface GatewayOptions {
  cache: OptimizedCacheManager;
  routes: RouteTable;
  upstream: Upstream;
  sticky: StickyKey;
  stats: GatewayStats;
  /** Upstream timeout for requests no route covers. */
  defaultTimeoutMs: number;
}

/** Name under which requests no route covers are counted. */
export const UNROUTED = 'unrouted';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CONDITIONAL_HEADERS = [
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
];
/** Response headers never relayed from the origin (hop-by-hop, RFC 9110 §7.6.1, and length, which Fastify sets). */
const NOT_RELAYED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'trailer',
  'content-length',
]);
const PATH_TAG_PREFIX = 'path:';

interface Flight {
  response: Promise<UpstreamResponse>;
  headers: IncomingHttpHeaders;
}

export class Gateway {
  /** Origin requests of cache misses in progress, by cache key (single flight). */
  private readonly flights = new Map<string, Flight>();

  constructor(private readonly options: GatewayOptions) {}

  /** Registers the catch-all route; raw bodies are forwarded as they came. */
  register(app: FastifyInstance): void {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url: '/*',
      handler: (request, reply) => this.handle(request, reply),
    });
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const at = request.url.indexOf('?');
    const path = at < 0 ? request.url : request.url.slice(0, at);
    const search = at < 0 ? '' : request.url.slice(at);
    const match = this.options.routes.match(request.method, path);
    const routeName = match?.route.name ?? UNROUTED;
    const cached =
      (request.method === 'GET' || request.method === 'HEAD') &&
      match?.route.kind === 'read' &&
      this.enabledFor(request, match.route);
    let outcome: CacheOutcome = cached ? 'MISS' : 'BYPASS';
    try {
      if (cached) outcome = await this.read(request, reply, match, path, search);
      else await this.passThrough(request, reply, match, path);
    } catch (error) {
      this.sendError(reply, error, routeName, outcome);
    }
    this.options.stats.request(
      routeName,
      request.method,
      reply.statusCode,
      outcome,
      (performance.now() - started) / 1000,
    );
  }

  private enabledFor(request: FastifyRequest, route: RouteRule): boolean {
    const percent = this.options.routes.enabledPercent(route);
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    return bucketOf(stickyIdentity(request, this.options.sticky), route.name) < percent;
  }

  // ---- read path ---------------------------------------------------------------------------------

  private async read(
    request: FastifyRequest,
    reply: FastifyReply,
    match: RouteMatch,
    path: string,
    search: string,
  ): Promise<CacheOutcome> {
    const { route } = match;
    const rules = requestRules(request.headers, route);
    if (rules.bypass !== undefined) {
      await this.passThrough(request, reply, match, path);
      return 'BYPASS';
    }
    const base = baseKey(path, search);
    const { key, stored } = await this.lookup(base, request.headers);
    const now = Date.now();
    if (stored !== undefined && !rules.revalidate && now < stored.freshUntil) {
      return this.sendStored(request, reply, stored, now, 'HIT');
    }
    if (rules.onlyIfCached) {
      if (stored !== undefined && servableStale(stored, now))
        return this.sendStored(request, reply, stored, now, 'STALE');
      throw new KeelError('NOT_CACHED', `${request.url} is not cached and the request said only-if-cached.`);
    }
    let response: UpstreamResponse;
    try {
      response = await this.fetch(request, route, key, stored);
    } catch (error) {
      if (stored === undefined || !servableStale(stored, Date.now())) throw error;
      return this.sendStored(request, reply, stored, Date.now(), 'STALE');
    }
    if (response.status >= 500 && stored !== undefined && servableStale(stored, Date.now())) {
      this.options.stats.upstreamFailed(route.name, 'status_5xx');
      return this.sendStored(request, reply, stored, Date.now(), 'STALE');
    }
    const adaptive = () => this.options.cache.adaptiveTtlMs(key, route.dataType, response.body.byteLength);
    if (response.status === 304 && stored !== undefined) {
      const fresh = refreshed(stored, response, route, adaptive);
      await this.store(base, key, [], fresh, match, path);
      return this.sendStored(request, reply, fresh, Date.now(), 'REVALIDATED');
    }
    const varies = varyOf(response.headers);
    if (notStorable(response.status, response.headers, route) === undefined && varies !== '*') {
      const entry = storedResponse(response, route, adaptive);
      if (
        entry.freshUntil > response.receivedAt ||
        entry.etag !== undefined ||
        entry.lastModified !== undefined
      ) {
        const variant = varies.length === 0 ? base : variantKey(base, varies, request.headers);
        await this.store(base, variant, varies, entry, match, path);
        return this.sendStored(request, reply, entry, Date.now(), 'MISS');
      }
    }
    this.relay(reply, response, 'MISS');
    return 'MISS';
  }

  /** The entry for the request: the base key's, or its variant's when the base holds a Vary marker. */
  private async lookup(
    base: string,
    headers: IncomingHttpHeaders,
  ): Promise<{ key: string; stored?: StoredResponse }> {
    const found = unpackCached(await this.options.cache.get(base));
    if (found === undefined) return { key: base };
    if (found.kind === 'response') return { key: base, stored: found };
    const key = variantKey(base, found.names, headers);
    const variant = unpackCached(await this.options.cache.get(key));
    return { key, stored: variant?.kind === 'response' ? variant : undefined };
  }

  /**
   * GETs the URL from the origin, conditionally when an entry with validators is held. Misses on
   * one key share one request; a joiner whose varying headers differ from the leader's asks again.
   */
  private async fetch(
    request: FastifyRequest,
    route: RouteRule,
    key: string,
    stored: StoredResponse | undefined,
  ): Promise<UpstreamResponse> {
    const flight = this.flights.get(key);
    if (flight !== undefined) {
      const response = await flight.response;
      const names = varyOf(response.headers);
      if (names !== '*' && names.every((name) => flight.headers[name] === request.headers[name]))
        return response;
    }
    const headers: IncomingHttpHeaders = { ...request.headers };
    for (const name of CONDITIONAL_HEADERS) delete headers[name];
    if (stored?.etag !== undefined) headers['if-none-match'] = stored.etag;
    if (stored?.lastModified !== undefined) headers['if-modified-since'] = stored.lastModified;
    const response = this.upstream(route.name, {
      method: 'GET',
      url: request.url,
      headers,
      clientIp: request.ip,
      timeoutMs: route.timeoutMs,
    });
    const started: Flight = { response, headers: request.headers };
    this.flights.set(key, started);
    try {
      return await response;
    } finally {
      if (this.flights.get(key) === started) this.flights.delete(key);
    }
  }

  /** Stores an entry (and the Vary marker under the base key), tagged by route and by path. */
  private async store(
    base: string,
    key: string,
    varies: readonly string[],
    entry: StoredResponse,
    match: RouteMatch,
    path: string,
  ): Promise<void> {
    const ttlMs = Math.max(1, entry.staleUntil - Date.now());
    const tags = [...match.route.tags.map((tag) => tag(match.params)), `${PATH_TAG_PREFIX}${path}`];
    const options = { ttlMs, adaptive: false, dataType: match.route.dataType, tags };
    // Undefined for an answer no frame can hold (response-frame.ts): served, not stored.
    const frame = packCached(entry);
    const marker = varies.length > 0 ? packCached({ kind: 'vary', names: [...varies] }) : undefined;
    if (frame === undefined || (varies.length > 0 && marker === undefined)) return;
    if (marker !== undefined) await this.options.cache.set(base, marker, options);
    await this.options.cache.set(key, frame, options);
  }

  /** Answers from a stored response (304 when the client's copy is current); returns the outcome. */
  private sendStored(
    request: FastifyRequest,
    reply: FastifyReply,
    stored: StoredResponse,
    now: number,
    outcome: CacheOutcome,
  ): CacheOutcome {
    for (const [name, value] of stored.headers) reply.header(name, value);
    reply.header('age', ageSeconds(stored, now)).header('x-cache', outcome);
    if (clientCopyIsCurrent(request.headers, stored)) reply.code(304).send();
    else reply.code(stored.status).send(request.method === 'HEAD' ? undefined : stored.body);
    return outcome;
  }

  // ---- pass-through and invalidation -------------------------------------------------------------

  private async passThrough(
    request: FastifyRequest,
    reply: FastifyReply,
    match: RouteMatch | undefined,
    path: string,
  ): Promise<void> {
    const route = match?.route;
    const response = await this.upstream(route?.name ?? UNROUTED, {
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: Buffer.isBuffer(request.body) ? request.body : undefined,
      clientIp: request.ip,
      timeoutMs: route?.timeoutMs ?? this.options.defaultTimeoutMs,
    });
    if (UNSAFE_METHODS.has(request.method) && response.status < 400) {
      await this.invalidateAfterWrite(path, response.headers, match);
    }
    this.relay(reply, response, 'BYPASS');
  }

  /** RFC 9111 §4.4: the target URI, Location and Content-Location; plus the write route's tags. */
  private async invalidateAfterWrite(
    path: string,
    headers: IncomingHttpHeaders,
    match: RouteMatch | undefined,
  ): Promise<void> {
    const tags = [`${PATH_TAG_PREFIX}${path}`];
    for (const header of [headers.location, headers['content-location']]) {
      const located = typeof header === 'string' ? samePath(header, this.options.upstream.origin) : undefined;
      if (located !== undefined) tags.push(`${PATH_TAG_PREFIX}${located}`);
    }
    if (match?.route.kind === 'write')
      for (const tag of match.route.invalidates) tags.push(tag(match.params));
    await this.options.cache.invalidateTags(tags);
  }

  private relay(reply: FastifyReply, response: UpstreamResponse, outcome: CacheOutcome): void {
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !NOT_RELAYED.has(name)) reply.header(name, value);
    }
    reply.header('x-cache', outcome).code(response.status).send(response.body);
  }

  private async upstream(
    routeName: string,
    request: Parameters<Upstream['request']>[0],
  ): Promise<UpstreamResponse> {
    const started = performance.now();
    try {
      const response = await this.options.upstream.request(request);
      this.options.stats.upstream(routeName, (performance.now() - started) / 1000);
      return response;
    } catch (error) {
      if (isKeelError(error, 'UPSTREAM_TIMEOUT')) this.options.stats.upstreamFailed(routeName, 'timeout');
      else if (isKeelError(error, 'UPSTREAM_TOO_LARGE'))
        this.options.stats.upstreamFailed(routeName, 'too_large');
      else this.options.stats.upstreamFailed(routeName, 'unavailable');
      throw error;
    }
  }

  private sendError(reply: FastifyReply, error: unknown, routeName: string, outcome: CacheOutcome): void {
    const code = isKeelError(error) ? error.code : 'UPSTREAM_UNAVAILABLE';
    const status = code === 'UPSTREAM_TIMEOUT' || code === 'NOT_CACHED' ? 504 : 502;
    const message = error instanceof Error ? error.message : String(error);
    reply.log.warn({ route: routeName, code, err: error }, 'gateway request failed');
    reply
      .code(status)
      .header('content-type', 'application/json')
      .header('x-cache', outcome)
      .send({ error: { code, message } });
  }
}

/** The request headers a response varies on; a compressed answer varies on Accept-Encoding. */
function varyOf(headers: IncomingHttpHeaders): string[] | '*' {
  const names = varyNames(headers);
  if (names === '*' || headers['content-encoding'] === undefined || names.includes('accept-encoding'))
    return names;
  return [...names, 'accept-encoding'].sort();
}

/** RFC 9110 §13.1.1–2: the client's If-None-Match (or, without it, If-Modified-Since) matches. */
function clientCopyIsCurrent(headers: IncomingHttpHeaders, stored: StoredResponse): boolean {
  if (stored.status !== 200) return false;
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (stored.etag === undefined) return false;
    const wanted = weak(stored.etag);
    return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || weak(tag.trim()) === wanted);
  }
  const since = headers['if-modified-since'];
  if (since === undefined || stored.lastModified === undefined) return false;
  return Date.parse(stored.lastModified) <= Date.parse(since);
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** The path of a Location on the origin (absolute or relative), undefined for another host. */
function samePath(location: string, origin: URL): string | undefined {
  try {
    const url = new URL(location, origin);
    return url.origin === origin.origin ? url.pathname : undefined;
  } catch {
    return undefined;
  }
}
