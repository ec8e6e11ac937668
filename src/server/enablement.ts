/**
 * Per-route enablement: the share of requests (0–100 %) a read route serves through the cache;
 * the others pass straight to the origin. A staged deployment enables caching for 10 % of read
 * traffic first, then all of it; this is that switch, changeable at run time (the admin API, and
 * later the rollout controller).
 *
 * Sticky: a client's requests fall on the same side of the line, so one user does not flip between
 * cached and uncached answers. The client is identified by a request header, a cookie or the
 * client's IP (`KEEL_STICKY_KEY`: `header:x-user-id`, `cookie:session`, `ip`); without the header
 * or cookie, the IP is used. Whether the identity is inside the route's share is the rollout's
 * bucketing (Unleash's rule, src/rollout/bucketing.ts) with the route's name as the group, so each
 * route samples different clients and raising a route from 10 % to 50 % keeps the first 10 %.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ConfigError } from '../errors.js';

export type StickyKey = { from: 'ip' } | { from: 'header' | 'cookie'; name: string };

/** Parses `ip`, `header:<name>` or `cookie:<name>`; throws ConfigError naming `setting`. */
export function parseStickyKey(text: string, setting: string): StickyKey {
  if (text === 'ip') return { from: 'ip' };
  const match = /^(header|cookie):([A-Za-z0-9_.-]+)$/.exec(text);
  if (match === null)
    throw new ConfigError(setting, `expected "ip", "header:<name>" or "cookie:<name>" (got "${text}")`);
  return { from: match[1] as 'header' | 'cookie', name: (match[2] as string).toLowerCase() };
}

/** The client's identity by `key`; `clientIp` (called only when needed) is the fallback. */
export function stickyIdentity(headers: IncomingHttpHeaders, key: StickyKey, clientIp: () => string): string {
  if (key.from === 'header') {
    const value = headers[key.name];
    if (typeof value === 'string' && value !== '') return value;
  } else if (key.from === 'cookie') {
    const value = cookieValue(headers.cookie, key.name);
    if (value !== undefined) return value;
  }
  return clientIp();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim().toLowerCase() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
