/**
 * What the gateway keeps in the cache for a URL: a response (status, the header lines a stored
 * copy keeps, the body) with its freshness, or, under the URL's base key, a marker naming the
 * request headers its responses vary on (the variants live under variant keys; cache-key.ts).
 *
 * Times are ms since the epoch. `freshUntil` ends the freshness lifetime (http-cache.ts
 * freshnessMs); `staleUntil` (freshness plus the route's grace) ends the time it may still be
 * served when the origin fails, unless the origin forbade that (`forbidsStale`: must-revalidate
 * and kin). The cache keeps it until `staleUntil`, so a stale entry's validators are there for a
 * conditional request.
 */
import { forbidsStale, freshnessMs, type HeaderMap, initialAgeMs } from './http-cache.js';
import { firstValue, type HeaderLine, refreshedHeaders, storedHeaders } from './response-headers.js';
import type { RouteRule } from './routes-file.js';

export interface StoredResponse {
  kind: 'response';
  status: number;
  headers: HeaderLine[];
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

/** An origin answer read whole: its headers as received and as relayed (response-headers.ts). */
export interface OriginAnswer {
  status: number;
  headers: HeaderMap;
  relayed: HeaderLine[];
  body: Buffer;
  requestedAt: number;
  receivedAt: number;
}

/** The stored form of an origin answer; `keelTtlMs` gives Keel's adaptive TTL for routes using it. */
export function storedResponse(
  answer: OriginAnswer,
  route: RouteRule,
  keelTtlMs: () => number,
): StoredResponse {
  const kept = storedHeaders(answer.relayed, answer.headers);
  return withFreshness(answer.status, kept, answer.body, answer, route, keelTtlMs);
}

/** A stored response refreshed by a 304: its updated headers and a new freshness (RFC 9111 §4.3.4). */
export function refreshed(
  stored: StoredResponse,
  notModified: OriginAnswer,
  route: RouteRule,
  keelTtlMs: () => number,
): StoredResponse {
  const lines = refreshedHeaders(stored.headers, storedHeaders(notModified.relayed, notModified.headers));
  const headers: Record<string, string> = {};
  for (const [name, value] of lines) headers[name] ??= value;
  return withFreshness(stored.status, lines, stored.body, { ...notModified, headers }, route, keelTtlMs);
}

function withFreshness(
  status: number,
  lines: HeaderLine[],
  body: Buffer,
  answer: Pick<OriginAnswer, 'headers' | 'requestedAt' | 'receivedAt'>,
  route: RouteRule,
  keelTtlMs: () => number,
): StoredResponse {
  const { headers, receivedAt } = answer;
  const age = initialAgeMs(headers, answer.requestedAt, receivedAt);
  const freshUntil = receivedAt + freshnessMs(route, headers, receivedAt, age, keelTtlMs);
  return {
    kind: 'response',
    status,
    headers: lines,
    body,
    storedAt: receivedAt,
    initialAgeMs: age,
    freshUntil,
    staleUntil: freshUntil + route.graceMs,
    forbidsStale: forbidsStale(headers),
    etag: firstValue(lines, 'etag'),
    lastModified: firstValue(lines, 'last-modified'),
  };
}

/** Whether a stored response may be served stale at `now`. */
export function servableStale(stored: StoredResponse, now: number): boolean {
  return !stored.forbidsStale && now < stored.staleUntil;
}

/** Seconds of the `Age` header for a stored response served at `now`. */
export function ageSeconds(stored: StoredResponse, now: number): number {
  return Math.max(0, Math.floor((now - stored.storedAt + stored.initialAgeMs) / 1000));
}
