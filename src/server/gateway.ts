/**
 * The caching gateway: every request to the public listener that is not one of Keel's own
 * endpoints is answered here, on the raw Node request and response, from the cache or from the
 * origin.
 *
 * Each request's target is normalised once (request-target.ts) and the headers for the origin
 * computed once (forwarding.ts); the route is matched on the normalised path. Then:
 *   - GET or HEAD on a read route, enabled for this client, not carrying credentials the route
 *     does not cache: the read path (read-path.ts), which answers HIT, REVALIDATED, MISS or STALE;
 *   - everything else passes through (X-Cache: BYPASS): the client's body is read first within the
 *     buffer budget (request-body.ts), the origin's answer streams back. A successful unsafe request
 *     (POST, PUT, PATCH, DELETE) then invalidates, in both tiers and on every instance, what the
 *     cache holds for its path and for its Location and Content-Location (RFC 9111 §4.4), under
 *     every spelling the routes treat as that path, and the tags its write route names.
 * Failures are answered by gateway-errors.ts (a code and a request id; details in the log). When
 * the process is overloaded (@fastify/under-pressure's event-loop delay), requests get 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyAddress from '@fastify/proxy-addr';
import type { FastifyBaseLogger } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import { isKeelError, KeelError } from '../errors.js';
import type { CacheOutcome, UpstreamFailure } from '../observability/index.js';
import { isInRollout, type RolloutFigures, type Variant } from '../rollout/index.js';
import { writeStreamed } from './answer-writer.js';
import type { ByteBudget } from './byte-budget.js';
import { keyedTarget } from './cache-key.js';
import { type CandidateOrigins, candidateHeaders } from './candidate-origins.js';
import { type StickyKey, stickyIdentity } from './enablement.js';
import { type ForwardingOptions, forwardedHeaders } from './forwarding.js';
import type { GatewayCall } from './gateway-call.js';
import { answerError } from './gateway-errors.js';
import type { GatewayStats } from './gateway-stats.js';
import { requestRules } from './http-cache.js';
import { PATH_TAG_PREFIX, ReadPath } from './read-path.js';
import { readRequestBody } from './request-body.js';
import { parseTarget, pathAlias, type RequestTarget } from './request-target.js';
import { relayedHeaders } from './response-headers.js';
import type { RouteMatch, RouteTable } from './route-table.js';
import type { RouteRule } from './routes-file.js';
import type { ShadowTraffic } from './shadow-traffic.js';
import type { Exchange, Upstream, UpstreamRequest } from './upstream.js';

/** Whether the peer at `address` (`hop` proxies away) is a trusted proxy. */
export type TrustProxy = (address: string, hop: number) => boolean;

export interface GatewayOptions {
  cache: OptimizedCacheManager;
  routes: RouteTable;
  upstream: Upstream;
  sticky: StickyKey;
  stats: GatewayStats;
  log: FastifyBaseLogger;
  forwarding: ForwardingOptions;
  trustProxy: TrustProxy;
  budget: ByteBudget;
  /** Largest request body accepted, and largest answer held to be stored. */
  maxBodyBytes: number;
  stripHeaders: ReadonlySet<string>;
  /** Origin timeout for requests no route covers. */
  defaultTimeoutMs: number;
  /** True while the process is too loaded to take requests. */
  underPressure: () => boolean;
  /** Per-side figures of the routes' switches, for the rollout guards. */
  rolloutFigures: RolloutFigures;
  /** The routes' candidate origins (traffic split and shadow). */
  candidates: CandidateOrigins;
  shadow: ShadowTraffic;
}

/** Name under which requests no route covers are counted. */
export const UNROUTED = 'unrouted';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Origin failures counted where they are answered (timeouts and refusals are counted as they happen). */
const ORIGIN_FAILURES: Partial<Record<string, UpstreamFailure>> = {
  UPSTREAM_BUSY: 'busy',
  UPSTREAM_INVALID_RESPONSE: 'invalid_response',
};
/** Request headers that make a GET or HEAD conditional on the client's copy (a 304 answers them). */
const VALIDATING_HEADERS = ['if-none-match', 'if-modified-since'];

export class Gateway {
  private readonly reads: ReadPath;

  constructor(private readonly options: GatewayOptions) {
    this.reads = new ReadPath({
      cache: options.cache,
      budget: options.budget,
      maxBodyBytes: options.maxBodyBytes,
      stripHeaders: options.stripHeaders,
      stats: options.stats,
      log: options.log,
      exchange: (routeName, request, upstream) => this.exchange(routeName, request, upstream),
    });
  }

  /** Answers one request (never rejects: failures are answered and logged). */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const parsed = parseTarget(request.url ?? '/');
    const match = parsed === undefined ? undefined : this.options.routes.match(method, parsed.path);
    const target = parsed === undefined ? undefined : keyedTarget(parsed, match?.route);
    const routeName = match?.route.name ?? UNROUTED;
    let outcome: CacheOutcome = 'BYPASS';
    let side: Variant | undefined;
    let call: GatewayCall | undefined;
    let answered = false;
    try {
      if (this.options.underPressure()) throw new KeelError('OVERLOADED', 'the event loop is saturated');
      if (target === undefined) throw new KeelError('BAD_REQUEST', `the target ${request.url} is not a path`);
      call = this.callOf(request, response, target, match?.route);
      side = this.cacheSide(request, match);
      const rules =
        side === 'candidate' ? requestRules(request.headers, (match as RouteMatch).route) : undefined;
      if (rules !== undefined && rules.bypass === undefined) {
        outcome = 'MISS';
        outcome = await this.reads.serve(call, match as RouteMatch, rules);
      } else {
        await this.passThrough(call, match);
      }
      answered = true;
    } catch (error) {
      const path = target?.path ?? String(request.url);
      const code = answerError(
        response,
        error,
        { route: routeName, method, path, outcome },
        this.options.log,
      );
      const failure = ORIGIN_FAILURES[code];
      if (failure !== undefined) this.options.stats.upstreamFailed(routeName, failure);
    }
    call?.shadow?.finish(answered);
    const elapsedMs = performance.now() - started;
    this.options.stats.request(routeName, method, response.statusCode, outcome, elapsedMs / 1000);
    const { rolloutFigures, routes } = this.options;
    if (side !== undefined)
      rolloutFigures.record(
        routes.cacheKey((match as RouteMatch).route),
        side,
        response.statusCode,
        elapsedMs,
      );
    if (call !== undefined && match?.route.candidate !== undefined)
      rolloutFigures.record(routes.trafficKey(match.route), call.origin, response.statusCode, elapsedMs);
  }

  /**
   * The request as the paths see it: the headers for the origin, and which origin answers it —
   * the route's candidate for the clients its `traffic:` switch sends there, else the stable one,
   * which a sampled request is also copied from (shadow-traffic.ts).
   */
  private callOf(
    request: IncomingMessage,
    response: ServerResponse,
    target: RequestTarget,
    route: RouteRule | undefined,
  ): GatewayCall {
    const address = request.socket.remoteAddress ?? '';
    const forwarded = forwardedHeaders(
      request.headers,
      address,
      this.options.trustProxy(address, 0),
      this.options.forwarding,
    );
    const call: GatewayCall = {
      request,
      response,
      target,
      forwarded,
      origin: 'stable',
      upstream: this.options.upstream,
    };
    if (route?.candidate === undefined) return call;
    const { routes } = this.options;
    if (this.inShare(request, routes.trafficKey(route), routes.trafficPercent(route))) {
      call.origin = 'candidate';
      call.upstream = this.options.candidates.of(route) as Upstream;
      call.forwarded = { ...forwarded, headers: candidateHeaders(forwarded.headers, request.headers, route) };
    } else {
      call.shadow = this.options.shadow.sample(call, route);
    }
    return call;
  }

  /**
   * For a GET or HEAD on a read route, the side of its cache switch this client is on: `candidate`
   * (served through the cache) or `stable` (straight to the origin); undefined for other requests.
   * A cache rollout's guards compare the two (rollout/figures.ts).
   */
  private cacheSide(request: IncomingMessage, match: RouteMatch | undefined): Variant | undefined {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || match?.route.kind !== 'read')
      return undefined;
    const { route } = match;
    return this.inShare(request, route.name, this.options.routes.enabledPercent(route))
      ? 'candidate'
      : 'stable';
  }

  /** Whether this request's client is inside `percent` of `group` (sticky: rollout/bucketing.ts). */
  private inShare(request: IncomingMessage, group: string, percent: number): boolean {
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    const identity = stickyIdentity(request.headers, this.options.sticky, () =>
      proxyAddress(request, this.options.trustProxy),
    );
    return isInRollout(identity, group, percent);
  }

  // ---- pass-through and invalidation -------------------------------------------------------------

  private async passThrough(call: GatewayCall, match: RouteMatch | undefined): Promise<void> {
    const { request, response, target } = call;
    const route = match?.route;
    const method = request.method ?? 'GET';
    const { body, release } = await readRequestBody(request, this.options.maxBodyBytes, this.options.budget);
    call.shadow?.setBody(body);
    let exchange: Exchange;
    try {
      exchange = await this.exchange(
        route?.name ?? UNROUTED,
        {
          method,
          path: `${target.path}${target.search}`,
          headers: call.forwarded.headers,
          body,
          timeoutMs: route?.timeoutMs ?? this.options.defaultTimeoutMs,
        },
        call.upstream,
      );
    } finally {
      release();
    }
    if (exchange.status === 304 && !VALIDATING_HEADERS.some((name) => request.headers[name] !== undefined)) {
      exchange.discard();
      throw new KeelError(
        'UPSTREAM_INVALID_RESPONSE',
        `${target.path} answered 304 to an unconditional request`,
      );
    }
    if (UNSAFE_METHODS.has(method) && exchange.status < 400) {
      await this.invalidateAfterWrite(target.path, exchange, match);
    }
    const lines = relayedHeaders(exchange.headers, this.options.stripHeaders);
    await writeStreamed(
      request,
      response,
      exchange.status,
      lines,
      exchange.declaredLength,
      exchange.stream(),
      'BYPASS',
      call.shadow,
    );
  }

  /** RFC 9111 §4.4: the target URI, Location and Content-Location; plus the write route's tags. */
  private async invalidateAfterWrite(
    path: string,
    exchange: Exchange,
    match: RouteMatch | undefined,
  ): Promise<void> {
    const tags = [`${PATH_TAG_PREFIX}${pathAlias(path)}`];
    for (const header of [exchange.headers.location, exchange.headers['content-location']]) {
      const located = typeof header === 'string' ? samePath(header, this.options.upstream.origin) : undefined;
      if (located !== undefined) tags.push(`${PATH_TAG_PREFIX}${located}`);
    }
    if (match?.route.kind === 'write')
      for (const tag of match.route.invalidates) tags.push(tag(match.params));
    await this.options.cache.invalidateTags(tags);
  }

  /** Sends a request to an origin, counting its latency and failures under the route. */
  private async exchange(routeName: string, request: UpstreamRequest, upstream: Upstream): Promise<Exchange> {
    const started = performance.now();
    try {
      const exchange = await upstream.exchange(request);
      this.options.stats.upstream(routeName, (performance.now() - started) / 1000);
      return exchange;
    } catch (error) {
      if (isKeelError(error, 'UPSTREAM_TIMEOUT')) this.options.stats.upstreamFailed(routeName, 'timeout');
      else if (isKeelError(error, 'UPSTREAM_UNAVAILABLE'))
        this.options.stats.upstreamFailed(routeName, 'unavailable');
      throw error;
    }
  }
}

/** The path alias of a Location on the origin (absolute or relative), undefined for another host. */
function samePath(location: string, origin: URL): string | undefined {
  try {
    const url = new URL(location, origin);
    if (url.origin !== origin.origin) return undefined;
    const target = parseTarget(url.pathname);
    return target === undefined ? undefined : pathAlias(target.path);
  } catch {
    return undefined;
  }
}
