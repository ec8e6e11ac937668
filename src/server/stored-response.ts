/**
 * What the gateway keeps in the cache for a URL: a response (status, the replayable headers, the
 * body) with its freshness, or, under the URL's base key, a marker naming the request headers its
 * responses vary on (the variants live under variant keys; cache-key.ts).
 *
 * Times are ms since the epoch. `freshUntil` ends the freshness lifetime; `staleUntil` (freshness
 * plus the route's grace) ends the time it may still be served when the origin fails, unless the
 * origin forbade that (`forbidsStale`: must-revalidate and kin). The cache keeps it until
 * `staleUntil`, so a stale entry's validators are there for a conditional request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { forbidsStale, initialAgeMs, originLifetimeMs, replayedHeaders } from './http-cache.js';
import type { RouteRule } from './routes-file.js';
import type { UpstreamResponse } from './upstream.js';

export interface StoredResponse {
  kind: 'response';
  status: number;
  headers: [string, string][];
  body: Buffer;
  /** When the response arrived, and the age it already had then (§4.2.3). */
  storedAt: number;
  initialAgeMs: number;
  freshUntil: number;
  staleUntil: number;
  forbidsStale: boolean;
  etag?: string;
  lastModified?: string;
}

export interface VaryMarker {
  kind: 'vary';
  names: string[];
}

export type CachedValue = StoredResponse | VaryMarker;

/**
 * The stored form of an origin response. `adaptiveTtlMs` gives Keel's adaptive TTL for routes
 * that use it; for `origin` routes the lifetime comes from the response's own headers.
 */
export function storedResponse(
  response: UpstreamResponse,
  route: RouteRule,
  adaptiveTtlMs: () => number,
): StoredResponse {
  const { headers } = response;
  const age =
    route.ttl.kind === 'origin' ? initialAgeMs(headers, response.requestedAt, response.receivedAt) : 0;
  const lifetime =
    route.ttl.kind === 'fixed'
      ? route.ttl.ms
      : route.ttl.kind === 'adaptive'
        ? adaptiveTtlMs()
        : originLifetimeMs(headers, response.receivedAt);
  const freshUntil = response.receivedAt + Math.max(0, lifetime - age);
  const noStale = route.ttl.kind === 'origin' && forbidsStale(headers);
  return {
    kind: 'response',
    status: response.status,
    headers: replayedHeaders(headers),
    body: response.body,
    storedAt: response.receivedAt,
    initialAgeMs: age,
    freshUntil,
    staleUntil: freshUntil + route.graceMs,
    forbidsStale: noStale,
    etag: single(headers.etag),
    lastModified: single(headers['last-modified']),
  };
}

/** A stored response refreshed by a 304: new freshness and the 304's updated headers (RFC 9111 §4.3.4). */
export function refreshed(
  stored: StoredResponse,
  notModified: UpstreamResponse,
  route: RouteRule,
  adaptiveTtlMs: () => number,
): StoredResponse {
  const merged: IncomingHttpHeaders = Object.fromEntries(stored.headers);
  for (const [name, value] of replayedHeaders(notModified.headers)) merged[name] = value;
  merged.date = single(notModified.headers.date);
  const fresh = storedResponse(
    { ...notModified, status: stored.status, headers: merged, body: stored.body },
    route,
    adaptiveTtlMs,
  );
  return fresh;
}

/** Whether a stored response may be served stale at `now`. */
export function servableStale(stored: StoredResponse, now: number): boolean {
  return !stored.forbidsStale && now < stored.staleUntil;
}

/** Seconds of the `Age` header for a stored response served at `now`. */
export function ageSeconds(stored: StoredResponse, now: number): number {
  return Math.max(0, Math.floor((now - stored.storedAt + stored.initialAgeMs) / 1000));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
