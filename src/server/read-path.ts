/**
 * The read path: a GET or HEAD on a read route, enabled for this client, that may use the cache.
 *
 *   fresh entry (for this request's rules) → HIT;
 *   otherwise the origin, asked once for all concurrent misses of the key (flights.ts), or alone
 *   for a request that is someone's own (credentials) or asks for a byte range:
 *     a 304 to the entry's validators → REVALIDATED (the entry refreshed, no body transferred);
 *     an answer the cache may store, small enough to hold → stored, then MISS;
 *     any other answer → streamed to this client alone, MISS;
 *     origin unreachable, timing out or answering 5xx → STALE within the entry's grace, else the error.
 *
 * A shared request to the origin carries the client's headers (forwarding.ts) without its
 * conditionals and range, plus the entry's validators, so what comes back is a whole answer the
 * cache can keep; the client's own conditionals and range are then answered from it
 * (answer-writer.ts). What was stored is keyed by what was sent (cache-key.ts) and tagged by the
 * route's tags and the path tag a write invalidates. Storing can fail (Redis down is not a
 * failure: the L2 journals it); a failure is logged and counted and the client still gets the
 * answer.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import { isKeelError, KeelError } from '../errors.js';
import type { CacheOutcome } from '../observability/index.js';
import { type WholeAnswer, writeStreamed, writeWhole } from './answer-writer.js';
import type { ByteBudget } from './byte-budget.js';
import { baseKey, variantKey } from './cache-key.js';
import { ASK_ON_YOUR_OWN, type FlightResult, Flights, sameVariant } from './flights.js';
import type { GatewayCall } from './gateway-call.js';
import type { GatewayStats } from './gateway-stats.js';
import { type HeaderMap, notStorable, type RequestRules, varyNames } from './http-cache.js';
import { pathAlias } from './request-target.js';
import { packCached, unpackCached } from './response-frame.js';
import { type HeaderLine, relayedHeaders, storedHeaders } from './response-headers.js';
import type { RouteMatch } from './route-table.js';
import type { RouteRule } from './routes-file.js';
import {
  ageSeconds,
  type OriginAnswer,
  refreshed,
  type StoredResponse,
  servableStale,
  storedResponse,
} from './stored-response.js';
import type { Exchange, Upstream, UpstreamRequest } from './upstream.js';

export const PATH_TAG_PREFIX = 'path:';
/** What the waiters of a flight whose origin answered 5xx get: a failure, so each serves its stale entry. */
const ORIGIN_5XX = new KeelError('UPSTREAM_UNAVAILABLE', 'the origin answered 5xx');
/** A GET's body is not forwarded, nor the headers that frame one. */
const BODY_HEADERS = ['content-length', 'transfer-encoding'];
/**
 * Request headers an origin request for the cache does not carry: the answer must be whole and
 * unconditional (the entry's own validators are added).
 */
const CLIENT_SHAPE_HEADERS = [
  ...BODY_HEADERS,
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
];

export interface ReadPathOptions {
  cache: OptimizedCacheManager;
  budget: ByteBudget;
  /** Largest answer read whole (to be stored); larger ones stream. */
  maxBodyBytes: number;
  stripHeaders: ReadonlySet<string>;
  stats: GatewayStats;
  log: FastifyBaseLogger;
  /** Sends a request to `upstream` (counted per route). */
  exchange(routeName: string, request: UpstreamRequest, upstream: Upstream): Promise<Exchange>;
}

/** What came back from the origin, as the read path handles it. */
type Fetched =
  | { kind: 'whole'; answer: OriginAnswer; sharedBy?: 'leader' }
  | { kind: 'stream'; exchange: Exchange; relayed: HeaderLine[] }
  | { kind: 'stale' };

/** Where an entry lives: its base key, and the key it was found (or will be stored) under. */
interface Lookup {
  base: string;
  key: string;
  stored?: StoredResponse;
}

export class ReadPath {
  private readonly flights = new Flights();

  constructor(private readonly options: ReadPathOptions) {}

  async serve(call: GatewayCall, match: RouteMatch, rules: RequestRules): Promise<CacheOutcome> {
    const { route } = match;
    const { target } = call;
    const found = await this.lookup(
      baseKey(target, call.forwarded.keyed, call.origin),
      call.forwarded.headers,
    );
    const { stored } = found;
    const now = Date.now();
    if (stored !== undefined && isFresh(stored, rules, now))
      return this.answerStored(call, stored, now, 'HIT');
    if (rules.onlyIfCached) {
      if (stored !== undefined && servableStale(stored, now))
        return this.answerStored(call, stored, now, 'STALE');
      throw new KeelError('NOT_CACHED', `${target.path}${target.search} is not cached (only-if-cached)`);
    }
    let fetched: Fetched;
    try {
      fetched =
        call.request.headers.range !== undefined
          ? await this.fetch(call, route, without(call.forwarded.headers, BODY_HEADERS), undefined, false)
          : rules.personal
            ? await this.fetch(call, route, cacheShape(call.forwarded.headers, stored), stored, true)
            : await this.fetchShared(call, route, found);
    } catch (error) {
      if (stored === undefined || !servableStale(stored, Date.now()) || !isOriginFailure(error)) throw error;
      return this.answerStored(call, stored, Date.now(), 'STALE');
    }
    return this.finish(call, match, found, rules, fetched);
  }

  /** The entry for the request: the base key's, or its variant's when the base holds a Vary marker. */
  private async lookup(base: string, sent: OutgoingHttpHeaders): Promise<Lookup> {
    const found = unpackCached(await this.options.cache.get(base));
    if (found === undefined) return { base, key: base };
    if (found.kind === 'response') return { base, key: base, stored: found };
    const key = variantKey(base, found.names, sent);
    const variant = unpackCached(await this.options.cache.get(key));
    return { base, key, stored: variant?.kind === 'response' ? variant : undefined };
  }

  /** Joins the flight in progress for the entry, or leads one. */
  private async fetchShared(call: GatewayCall, route: RouteRule, found: Lookup): Promise<Fetched> {
    const { stored } = found;
    const flightKey =
      stored === undefined ? found.key : `${found.key}\n${stored.etag ?? ''}\n${stored.lastModified ?? ''}`;
    const sent = call.forwarded.headers;
    const joined = this.flights.join(flightKey);
    if (joined !== undefined) {
      const result = await joined;
      if (result.kind === 'failed') throw result.error;
      if (result.kind === 'shared' && sameVariant(result.shared, sent))
        return { kind: 'whole', answer: result.shared.answer, sharedBy: 'leader' };
      return this.fetch(call, route, cacheShape(sent, stored), stored, true);
    }
    const flight = this.flights.lead(flightKey);
    try {
      const fetched = await this.fetch(call, route, cacheShape(sent, stored), stored, true);
      flight.settle(flightResult(fetched, route, sent));
      return fetched;
    } catch (error) {
      flight.settle(isOriginFailure(error) ? { kind: 'failed', error } : ASK_ON_YOUR_OWN);
      throw error;
    } finally {
      flight.settle(ASK_ON_YOUR_OWN);
    }
  }

  /**
   * GETs the URL from the origin with `headers`. The answer is read whole when it is a 304 to the
   * entry's validators or (with `toStore`) one the cache may keep; otherwise it is left to stream.
   */
  private async fetch(
    call: GatewayCall,
    route: RouteRule,
    headers: OutgoingHttpHeaders,
    stored: StoredResponse | undefined,
    toStore: boolean,
  ): Promise<Fetched> {
    const path = `${call.target.path}${call.target.search}`;
    const exchange = await this.options.exchange(
      route.name,
      { method: 'GET', path, headers, timeoutMs: route.timeoutMs },
      call.upstream,
    );
    if (exchange.status >= 500 && stored !== undefined && servableStale(stored, Date.now())) {
      exchange.discard();
      this.options.stats.upstreamFailed(route.name, 'status_5xx');
      return { kind: 'stale' };
    }
    const validated = headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined;
    if (exchange.status === 304 && !validated) {
      exchange.discard();
      throw new KeelError('UPSTREAM_INVALID_RESPONSE', `${path} answered 304 to an unconditional request`);
    }
    const relayed = relayedHeaders(exchange.headers, this.options.stripHeaders);
    const whole =
      (exchange.status === 304 && toStore) ||
      (toStore && notStorable(exchange.status, exchange.headers, route) === undefined);
    if (whole) {
      const body = await exchange.buffer(this.options.maxBodyBytes, this.options.budget);
      if (body !== undefined) {
        const { status, headers: received, requestedAt, receivedAt } = exchange;
        return {
          kind: 'whole',
          answer: { status, headers: received, relayed, body, requestedAt, receivedAt },
        };
      }
    }
    return { kind: 'stream', exchange, relayed };
  }

  private async finish(
    call: GatewayCall,
    match: RouteMatch,
    found: Lookup,
    rules: RequestRules,
    fetched: Fetched,
  ): Promise<CacheOutcome> {
    const { route } = match;
    const { stored } = found;
    if (fetched.kind === 'stale')
      return this.answerStored(call, stored as StoredResponse, Date.now(), 'STALE');
    if (fetched.kind === 'stream') {
      const { exchange, relayed } = fetched;
      const outcome = missOrBypass(exchange.status, exchange.headers, route);
      await writeStreamed(
        call.request,
        call.response,
        exchange.status,
        relayed,
        exchange.declaredLength,
        exchange.stream(),
        outcome,
        call.shadow,
      );
      return outcome;
    }
    const { answer } = fetched;
    const keelTtl = () => this.options.cache.adaptiveTtlMs(found.key, route.dataType, answer.body.byteLength);
    if (answer.status === 304 && stored !== undefined) {
      const fresh = refreshed(stored, answer, route, keelTtl);
      if (fetched.sharedBy === undefined) await this.store(call, match, found.base, found.key, [], fresh);
      return this.answerStored(call, fresh, Date.now(), 'REVALIDATED');
    }
    const entry = storedResponse(answer, route, keelTtl);
    const varies = varyOf(answer.headers);
    const keep =
      fetched.sharedBy === undefined &&
      !rules.noStore &&
      varies !== '*' &&
      notStorable(answer.status, answer.headers, route) === undefined &&
      (entry.freshUntil > entry.storedAt || entry.etag !== undefined || entry.lastModified !== undefined);
    if (keep) {
      const key = varies.length === 0 ? found.base : variantKey(found.base, varies, call.forwarded.headers);
      await this.store(call, match, found.base, key, varies, entry);
    }
    const outcome = missOrBypass(answer.status, answer.headers, route);
    writeWhole(call.request, call.response, missAnswer(answer, entry), outcome, call.shadow);
    return outcome;
  }

  /** Stores an entry (and the Vary marker under the base key), tagged by route and by path. */
  private async store(
    call: GatewayCall,
    match: RouteMatch,
    base: string,
    key: string,
    varies: readonly string[],
    entry: StoredResponse,
  ): Promise<void> {
    const frame = packCached(entry);
    const marker = varies.length > 0 ? packCached({ kind: 'vary', names: [...varies] }) : undefined;
    // No frame holds it (response-frame.ts): served, not stored.
    if (frame === undefined || (varies.length > 0 && marker === undefined)) return;
    const tags = [
      ...match.route.tags.map((tag) => tag(match.params)),
      `${PATH_TAG_PREFIX}${pathAlias(call.target.path)}`,
    ];
    const ttlMs = Math.max(1, entry.staleUntil - Date.now());
    const options = { ttlMs, adaptive: false, dataType: match.route.dataType, tags };
    try {
      if (marker !== undefined) await this.options.cache.set(base, marker, options);
      await this.options.cache.set(key, frame, options);
    } catch (error) {
      this.options.stats.storeFailed(match.route.name);
      this.options.log.warn(
        { route: match.route.name, path: call.target.path, reason: (error as Error).message },
        'an answer could not be stored; it was served uncached',
      );
    }
  }

  private answerStored(
    call: GatewayCall,
    stored: StoredResponse,
    now: number,
    outcome: CacheOutcome,
  ): CacheOutcome {
    const answer: WholeAnswer = {
      status: stored.status,
      lines: stored.headers,
      body: stored.body,
      etag: stored.etag,
      lastModified: stored.lastModified,
      age: ageSeconds(stored, now),
    };
    writeWhole(call.request, call.response, answer, outcome, call.shadow);
    return outcome;
  }
}

/**
 * MISS, or BYPASS for an answer its origin forbids a shared cache to keep (private, no-store,
 * Set-Cookie, Vary: *): that traffic was never the cache's to serve, and counting it as misses
 * would make a route whose origin forbids caching look like one with too short a TTL.
 */
function missOrBypass(status: number, headers: HeaderMap, route: RouteRule): CacheOutcome {
  const reason = notStorable(status, headers, route);
  return reason === undefined || reason === 'status' || reason === 'partial' ? 'MISS' : 'BYPASS';
}

/** A stored entry answers the request unless it is stale or older than the client accepts. */
function isFresh(stored: StoredResponse, rules: RequestRules, now: number): boolean {
  if (rules.revalidate || now >= stored.freshUntil) return false;
  return rules.maxAgeMs === undefined || now - stored.storedAt + stored.initialAgeMs <= rules.maxAgeMs;
}

/** The headers of a request to the origin for the cache: no client conditionals or range, the entry's validators. */
function cacheShape(sent: OutgoingHttpHeaders, stored: StoredResponse | undefined): OutgoingHttpHeaders {
  const headers = without(sent, CLIENT_SHAPE_HEADERS);
  if (stored?.etag !== undefined) headers['if-none-match'] = stored.etag;
  if (stored?.lastModified !== undefined) headers['if-modified-since'] = stored.lastModified;
  return headers;
}

function without(headers: OutgoingHttpHeaders, names: readonly string[]): OutgoingHttpHeaders {
  const kept = { ...headers };
  for (const name of names) delete kept[name];
  return kept;
}

/** What the waiters of a flight get from its fetch: the answer when it is shareable. */
function flightResult(fetched: Fetched, route: RouteRule, sent: OutgoingHttpHeaders): FlightResult {
  if (fetched.kind === 'stale') return { kind: 'failed', error: ORIGIN_5XX };
  if (fetched.kind !== 'whole') return ASK_ON_YOUR_OWN;
  const { answer } = fetched;
  const varies = varyOf(answer.headers);
  if (varies === '*') return ASK_ON_YOUR_OWN;
  if (answer.status !== 304 && notStorable(answer.status, answer.headers, route) !== undefined)
    return ASK_ON_YOUR_OWN;
  const shared = {
    answer: { ...answer, relayed: storedHeaders(answer.relayed, answer.headers) },
    sent,
    varies,
  };
  return { kind: 'shared', shared };
}

/** What a miss answers: every line the origin sent (a waiter's copy has only the shareable ones). */
function missAnswer(answer: OriginAnswer, entry: StoredResponse): WholeAnswer {
  return {
    status: answer.status,
    lines: answer.relayed,
    body: answer.body,
    etag: entry.etag,
    lastModified: entry.lastModified,
    age: Math.floor(entry.initialAgeMs / 1000),
  };
}

/** The request headers a response varies on; a compressed answer varies on Accept-Encoding. */
function varyOf(headers: HeaderMap): string[] | '*' {
  const names = varyNames(headers);
  if (names === '*' || headers['content-encoding'] === undefined || names.includes('accept-encoding'))
    return names;
  return [...names, 'accept-encoding'].sort();
}

/** A failure of the origin (not of this request), after which a stale entry may be served. */
function isOriginFailure(error: unknown): boolean {
  return (
    isKeelError(error, 'UPSTREAM_TIMEOUT') ||
    isKeelError(error, 'UPSTREAM_UNAVAILABLE') ||
    isKeelError(error, 'UPSTREAM_BUSY')
  );
}
