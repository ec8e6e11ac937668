/**
 * What the gateway tells the origin about a request: the one place that decides which request
 * headers are forwarded, computed once per request so that the headers sent and the headers that
 * choose a cache variant (cache-key.ts) are the same object.
 *
 * Forwarded as sent: every end-to-end header of the client's request (RFC 9110 §7.6.1), except
 *   - hop-by-hop headers and those the client's `Connection` names;
 *   - `Host`: the origin is asked for its own host;
 *   - the forwarding headers (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, …) and the headers some
 *     frameworks read to rewrite the URL or the method (`X-Original-URL`, `X-HTTP-Method-Override`,
 *     …), unless the hop the request came from is trusted (KEEL_TRUST_PROXY). From an untrusted
 *     client they would let it choose the host or scheme an origin builds its redirects and links
 *     from, an answer then stored and served to everyone. From a trusted proxy they are forwarded
 *     and, since they can change the answer, returned as `keyed` for the cache key.
 * Added: `X-Forwarded-For` (the chain a trusted proxy sent, then the connection's address; an
 * untrusted client's own chain is dropped), `Via`, and the public scheme and host from
 * KEEL_PUBLIC_URL as `X-Forwarded-Proto` and `X-Forwarded-Host` when it is set (fixed for every
 * request, so not keyed). The origin's own credentials (from KEEL_ORIGIN's userinfo) go as
 * `Authorization: Basic` on requests that carry no Authorization of their own.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * RFC 9110 §7.6.1, and `Expect: 100-continue`, which Node has answered already. Content-Length is
 * kept: a body forwarded as it streams is sent with the client's length, not chunked.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);
/** Forwarding and rewriting headers only a trusted proxy may send (besides every `x-forwarded-*`). */
const PROXY_HEADERS = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-host',
  'x-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);
/** The forwarding headers KEEL_PUBLIC_URL fixes, whatever a trusted proxy said. */
const PUBLIC_URL_HEADERS = new Set(['x-forwarded-proto', 'x-forwarded-host']);
const VIA = '1.1 keel';

export interface ForwardingOptions {
  /** The public URL whose scheme and host the origin is told (KEEL_PUBLIC_URL), if any. */
  publicUrl?: URL;
  /** `Basic …` from the origin URL's userinfo, if it has one. */
  originAuthorization?: string;
}

export interface Forwarded {
  headers: OutgoingHttpHeaders;
  /** The trusted proxy's forwarding headers that reach the origin, as one line for the cache key ('' for none). */
  keyed: string;
}

/**
 * The headers to send the origin for a request from `clientAddress` (the connection's peer);
 * `trusted` says whether that peer is a proxy that may speak for the client.
 */
export function forwardedHeaders(
  incoming: IncomingHttpHeaders,
  clientAddress: string,
  trusted: boolean,
  options: ForwardingOptions,
): Forwarded {
  const named = connectionNamed(incoming.connection);
  const headers: OutgoingHttpHeaders = {};
  const keyed: string[] = [];
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    if (isProxyHeader(name)) {
      if (
        !trusted ||
        name === 'x-forwarded-for' ||
        (options.publicUrl !== undefined && PUBLIC_URL_HEADERS.has(name))
      )
        continue;
      keyed.push(`${name}=${Array.isArray(value) ? value.join(',') : value}`);
    }
    headers[name] = value;
  }
  const chain = trusted ? incoming['x-forwarded-for'] : undefined;
  headers['x-forwarded-for'] = chain === undefined ? clientAddress : `${chain}, ${clientAddress}`;
  const via = incoming.via;
  headers.via = via === undefined || named?.has('via') ? VIA : `${via}, ${VIA}`;
  if (options.publicUrl !== undefined) {
    headers['x-forwarded-proto'] = options.publicUrl.protocol.slice(0, -1);
    headers['x-forwarded-host'] = options.publicUrl.host;
  }
  if (options.originAuthorization !== undefined && headers.authorization === undefined) {
    headers.authorization = options.originAuthorization;
  }
  return { headers, keyed: keyed.length === 0 ? '' : `forwarded: ${keyed.sort().join('; ')}` };
}

/** `Basic <base64>` for a URL's userinfo, undefined when it has none. */
export function basicAuthorization(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

function isProxyHeader(name: string): boolean {
  return name.startsWith('x-forwarded-') || PROXY_HEADERS.has(name);
}

/** The lower-cased names a `Connection` header lists, or undefined without one. */
function connectionNamed(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  return new Set(connection.split(',').map((name) => name.trim().toLowerCase()));
}
