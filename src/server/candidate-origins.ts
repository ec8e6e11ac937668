/**
 * The candidate origins of the routes that name one (`candidate:` in the routes file): where a
 * route's `traffic:` switch sends part of its clients and its `shadow:` switch sends copies of
 * requests. Each distinct origin has its own connection pool (an Upstream), apart from the stable
 * origin's, so a candidate that hangs holds its own connections, never the stable origin's.
 *
 * What a candidate is sent is what the stable origin would be sent, with one exception: the
 * stable origin's own credentials (KEEL_ORIGIN's userinfo, added when the client sent no
 * Authorization) stay with it; the candidate gets those of its own URL, if any.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { basicAuthorization } from './forwarding.js';
import type { RouteRule } from './routes-file.js';
import { Upstream, type UpstreamOptions } from './upstream.js';

export class CandidateOrigins {
  private readonly pools = new Map<string, Upstream>();
  /** Each route's pool, found once per route rule (rules are replaced whole on a reload). */
  private readonly ofRoute = new WeakMap<RouteRule, Upstream>();

  constructor(private readonly options: UpstreamOptions) {}

  /** The connection pool of the route's candidate origin, undefined when it names none. */
  of(route: RouteRule): Upstream | undefined {
    const known = this.ofRoute.get(route);
    if (known !== undefined || route.candidate === undefined) return known;
    const { origin } = route.candidate;
    let pool = this.pools.get(origin.origin);
    if (pool === undefined) {
      pool = new Upstream(origin, this.options);
      this.pools.set(origin.origin, pool);
    }
    this.ofRoute.set(route, pool);
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }
}

/**
 * The headers for the candidate: `sent` (what the stable origin gets) with the stable origin's
 * credentials replaced by the candidate's own (or removed), when the client sent none.
 */
export function candidateHeaders(
  sent: OutgoingHttpHeaders,
  client: IncomingHttpHeaders,
  route: RouteRule,
): OutgoingHttpHeaders {
  if (client.authorization !== undefined) return sent;
  const own = route.candidate === undefined ? undefined : basicAuthorization(route.candidate.origin);
  if (own === undefined && sent.authorization === undefined) return sent;
  const headers = { ...sent };
  if (own === undefined) delete headers.authorization;
  else headers.authorization = own;
  return headers;
}
