/**
 * Range requests answered from a stored answer (RFC 9110 §14): a single byte range of a stored
 * 200 is served as a 206 with its Content-Range, an unsatisfiable one as a 416. Several ranges, a
 * unit other than bytes, or an `If-Range` the stored answer does not match (a strong ETag, or the
 * exact Last-Modified date) are answered with the whole 200, which §14.2 allows a server to do.
 *
 * A Range request that misses is not shaped here: it goes to the origin on its own (gateway.ts),
 * so a partial answer never joins or leads a request others wait on.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type RangeAnswer =
  | { kind: 'whole' }
  | { kind: 'part'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const WHOLE: RangeAnswer = { kind: 'whole' };

/** What to answer a request for a stored 200 of `length` bytes with these validators. */
export function rangeOf(
  headers: IncomingHttpHeaders,
  length: number,
  validators: { etag?: string; lastModified?: string },
): RangeAnswer {
  const range = headers.range;
  if (range === undefined || !ifRangeHolds(single(headers['if-range']), validators)) return WHOLE;
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return WHOLE;
  const [first, last] = [match[1] as string, match[2] as string];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  if (start >= length) return { kind: 'unsatisfiable' };
  const end = last === '' ? length - 1 : Math.min(Number(last), length - 1);
  return end < start ? WHOLE : { kind: 'part', start, end };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** §13.1.5: a strong ETag that matches exactly, or the exact Last-Modified date. */
function ifRangeHolds(
  ifRange: string | undefined,
  validators: { etag?: string; lastModified?: string },
): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return validators.etag !== undefined && validators.etag === value;
  if (value.startsWith('W/')) return false;
  return validators.lastModified !== undefined && validators.lastModified === value;
}
