/**
 * Cache keys of the gateway: `GET <path><normalized query>`, plus the values of the request headers
 * the origin's `Vary` names, for a variant.
 *
 * The query is normalized so that equivalent URLs share an entry: parameters sorted by name (and
 * value, for repeated names), re-encoded in one canonical form. HEAD uses GET's key: a cache may
 * answer HEAD from a stored GET response (RFC 9110 §9.3.2). A key longer than the cache accepts
 * is replaced by a SHA-256 of it (such keys then cannot be matched by an invalidation pattern).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_KEY_BYTES } from '../cache/index.js';

export function normalizedQuery(search: string): string {
  if (search === '' || search === '?') return '';
  const params = [...new URLSearchParams(search)];
  if (params.length === 0) return '';
  params.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return `?${new URLSearchParams(params).toString()}`;
}

/** The key of a path and query string (`?a=1&b=2` or ''). */
export function baseKey(path: string, search: string): string {
  return bounded(`GET ${path}${normalizedQuery(search)}`);
}

/** The key of the variant of `base` selected by the request's values of `names` (from `Vary`). */
export function variantKey(base: string, names: readonly string[], headers: IncomingHttpHeaders): string {
  const values = names.map((name) => {
    const value = headers[name];
    return `${name}=${Array.isArray(value) ? value.join(',') : (value ?? '')}`;
  });
  return bounded(`${base}\n${values.join('\n')}`);
}

function bounded(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) return key;
  return `GET #${createHash('sha256').update(key).digest('hex')}`;
}
