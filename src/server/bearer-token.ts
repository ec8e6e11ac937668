/**
 * The admin token check shared by the gateway's and the sync service's admin endpoints: whether a
 * request's `Authorization: Bearer <token>` bears the expected token. Compared in constant time,
 * as SHA-256 digests of both, so neither the token's length nor a matching prefix leaks through
 * timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** A check of Authorization headers against `token`. */
export function bearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const given =
      typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    return timingSafeEqual(digest(given), expected);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
