/**
 * Which of the origin's response headers reach the client, and which a stored copy keeps.
 *
 * Relayed: every end-to-end header, each line as the origin sent it (RFC 9111 §3.1): only the
 * hop-by-hop headers and those the origin's `Connection` names are dropped (RFC 9110 §7.6.1),
 * plus the operator's KEEL_STRIP_HEADERS (internal headers an origin should not publish). The
 * origin's `Date` is kept. Length and framing are the gateway's to set for what it sends.
 *
 * Stored: the same, less the headers a shared cache must not replay to another client: those
 * named by `private="…"` or `no-cache="…"` (§5.2.2.3–4), and `Age` (recomputed on every hit).
 *
 * A 304 refreshing a stored answer replaces the stored lines of each header it carries (§3.2),
 * except Content-Length, which a 304 does not describe.
 */
import { type HeaderMap, parseCacheControl } from './http-cache.js';

/** A header line: [lower-case name, value]; a name may repeat. */
export type HeaderLine = [string, string];

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);
/** Headers RFC 9110 §15.4.5 lists for a 304, the only ones a 304 to a client carries. */
const NOT_MODIFIED_HEADERS = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
]);

/** The end-to-end header lines of an origin answer, less the operator's `strip` list. */
export function relayedHeaders(headers: HeaderMap, strip: ReadonlySet<string>): HeaderLine[] {
  const named = listed(headers.connection);
  const lines: HeaderLine[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || strip.has(name) || named.has(name)) continue;
    if (Array.isArray(value)) for (const line of value) lines.push([name, line]);
    else lines.push([name, value]);
  }
  return lines;
}

/** The lines of `relayed` a stored copy keeps (for the answer whose headers are `headers`). */
export function storedHeaders(relayed: readonly HeaderLine[], headers: HeaderMap): HeaderLine[] {
  const directives = parseCacheControl(headers['cache-control']);
  const withheld = new Set(['age', 'set-cookie']);
  for (const directive of ['private', 'no-cache']) {
    const value = directives.get(directive);
    if (typeof value === 'string') for (const name of listed(value)) withheld.add(name);
  }
  return relayed.filter(([name]) => !withheld.has(name));
}

/** The stored lines updated by a 304's lines (§3.2). */
export function refreshedHeaders(
  stored: readonly HeaderLine[],
  notModified: readonly HeaderLine[],
): HeaderLine[] {
  const replaced = new Set(notModified.map(([name]) => name));
  return [...stored.filter(([name]) => !replaced.has(name)), ...notModified];
}

/** The lines a 304 to a client carries. */
export function notModifiedHeaders(stored: readonly HeaderLine[]): HeaderLine[] {
  return stored.filter(([name]) => NOT_MODIFIED_HEADERS.has(name));
}

/** The first line of a header, if any. */
export function firstValue(lines: readonly HeaderLine[], name: string): string | undefined {
  return lines.find(([candidate]) => candidate === name)?.[1];
}

/** The lower-cased names of a comma-separated header (`Connection`, `private="…"`). */
function listed(value: string | string[] | undefined): Set<string> {
  if (value === undefined) return new Set();
  const text = Array.isArray(value) ? value.join(',') : value;
  return new Set(text.split(',').map((name) => name.trim().toLowerCase()));
}
