/**
 * Cache keys of the gateway: `GET <path><query>` of the normalised target (request-target.ts),
 * then, on lines of their own, whatever else was forwarded that can change the answer: the
 * forwarding headers a trusted proxy sent (forwarding.ts), and, for a variant, the values of the
 * request headers the origin's `Vary` names, read from the headers sent to the origin, not those
 * the client sent (a header the client named in `Connection` was not forwarded, so it cannot
 * choose a variant).
 *
 * An answer of a route's candidate origin (a traffic split: rollout) has a line of its own,
 * `origin: candidate`, so neither origin's answers are ever served for the other's.
 *
 * HEAD uses GET's key: a cache may answer HEAD from a stored GET response (RFC 9110 §9.3.2). Every
 * key of a URL starts with its base key and a newline, so `<base>\n*` matches all its variants. A
 * key longer than the cache accepts is replaced by a SHA-256 of it (such keys then cannot be
 * matched by an invalidation pattern).
 */
import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { MAX_KEY_BYTES } from '../cache/index.js';
import type { Variant } from '../rollout/index.js';
import { type RequestTarget, sortedSearch } from './request-target.js';
import type { RouteRule } from './routes-file.js';

const CANDIDATE_LINE = 'origin: candidate';

/** The target as a route keys it: its query sorted when the route says `sortQuery`. */
export function keyedTarget(target: RequestTarget, route: RouteRule | undefined): RequestTarget {
  return route?.sortQuery ? { path: target.path, search: sortedSearch(target.search) } : target;
}

/**
 * The key of a target; `forwarded` is the line of a trusted proxy's forwarding headers, if any;
 * `origin` the origin that answers it.
 */
export function baseKey(target: RequestTarget, forwarded = '', origin: Variant = 'stable'): string {
  const url = `GET ${target.path}${target.search}`;
  const key = origin === 'candidate' ? `${url}\n${CANDIDATE_LINE}` : url;
  return bounded(forwarded === '' ? key : `${key}\n${forwarded}`);
}

/** The key of the variant of `base` selected by the forwarded values of `names` (from `Vary`). */
export function variantKey(base: string, names: readonly string[], sent: OutgoingHttpHeaders): string {
  const values = names.map((name) => {
    const value = sent[name];
    return `${name}=${Array.isArray(value) ? value.join(',') : (value ?? '')}`;
  });
  return bounded(`${base}\n${values.join('\n')}`);
}

function bounded(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) return key;
  return `GET #${createHash('sha256').update(key).digest('hex')}`;
}
