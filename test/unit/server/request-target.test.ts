import { describe, expect, it } from 'vitest';
import { rangeOf } from '../../../src/server/byte-range.js';
import { parseTarget, pathAlias, sortedSearch } from '../../../src/server/request-target.js';
import {
  notModifiedHeaders,
  refreshedHeaders,
  relayedHeaders,
  storedHeaders,
} from '../../../src/server/response-headers.js';

describe('request targets (RFC 3986 §6.2.2)', () => {
  it('decodes unreserved characters, upper-cases other percent-encodings, removes dot segments', () => {
    expect(parseTarget('/a/%7euser/%2f?q=%7e&r=%3b')).toEqual({ path: '/a/~user/%2F', search: '?q=~&r=%3B' });
    expect(parseTarget('/a/./b/../c/%2E%2E/d')).toEqual({ path: '/a/d', search: '' });
    expect(parseTarget('/a/b/..')?.path).toBe('/a/');
  });

  it('keeps every spelling an origin may read differently', () => {
    for (const query of ['?x=%FF', '?a=1;b=2', '?flag', '?q=a+b', '?a=2&a=1', '?a=1&&b=2', '?'])
      expect(parseTarget(`/p${query}`)?.search, query).toBe(query);
  });

  it('reduces an absolute-form target to its path, and refuses what is not a path', () => {
    expect(parseTarget('http://elsewhere.example/p?x=1')).toEqual({ path: '/p', search: '?x=1' });
    expect(parseTarget('HTTPS://h')).toEqual({ path: '/', search: '' });
    expect(parseTarget('*')).toBeUndefined();
  });

  it('sorts parameters by name on request, repeated names in their order', () => {
    expect(sortedSearch('?b=2&a=9&c&a=1')).toBe('?a=9&a=1&b=2&c');
    expect(sortedSearch('')).toBe('');
  });

  it('gives the spellings the routes treat as one path a single alias', () => {
    expect(['/a/2', '/a/2/', '/a//2', '//a/2//'].map(pathAlias)).toEqual(['/a/2', '/a/2', '/a/2', '/a/2']);
    expect(pathAlias('/')).toBe('/');
  });
});

describe('response headers (RFC 9111 §3.1, §3.2)', () => {
  // As undici gives them: a repeated header as an array of its lines.
  const origin = {
    'content-type': 'application/json',
    etag: ['"a"', '"b"'],
    connection: 'x-hop',
    'x-hop': '1',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'x-powered-by': 'php',
    'cache-control': 'max-age=60, private="x-user", no-cache="x-trace"',
    'x-user': 'alice',
    'x-trace': 't-1',
    age: '3',
  };

  it('relays every end-to-end line, less hop-by-hop, Connection-named and stripped headers', () => {
    const lines = relayedHeaders(origin, new Set(['x-powered-by']));
    expect(lines.filter(([name]) => name === 'etag')).toEqual([
      ['etag', '"a"'],
      ['etag', '"b"'],
    ]);
    expect(lines.map(([name]) => name)).not.toContain('x-hop');
    expect(lines.map(([name]) => name)).not.toContain('keep-alive');
    expect(lines.map(([name]) => name)).not.toContain('x-powered-by');
  });

  it('stores neither the fields private= and no-cache= name, nor Age', () => {
    const names = storedHeaders(relayedHeaders(origin, new Set()), origin).map(([name]) => name);
    expect(names).toContain('x-powered-by');
    for (const withheld of ['x-user', 'x-trace', 'age']) expect(names).not.toContain(withheld);
  });

  it("replaces a stored header's lines with a 304's, and gives a 304 only its listed headers", () => {
    const refreshed = refreshedHeaders(
      [
        ['etag', '"a"'],
        ['x-v', '1'],
        ['x-v', '2'],
      ],
      [['x-v', '3']],
    );
    expect(refreshed).toEqual([
      ['etag', '"a"'],
      ['x-v', '3'],
    ]);
    expect(notModifiedHeaders([...refreshed, ['content-type', 'text/plain']])).toEqual([['etag', '"a"']]);
  });
});

describe('byte ranges from a stored answer (RFC 9110 §14)', () => {
  const validators = { etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' };
  it('serves one range, a suffix, an open end; refuses what lies past the end', () => {
    expect(rangeOf({ range: 'bytes=0-4' }, 10, validators)).toEqual({ kind: 'part', start: 0, end: 4 });
    expect(rangeOf({ range: 'bytes=-3' }, 10, validators)).toEqual({ kind: 'part', start: 7, end: 9 });
    expect(rangeOf({ range: 'bytes=5-' }, 10, validators)).toEqual({ kind: 'part', start: 5, end: 9 });
    expect(rangeOf({ range: 'bytes=4-99' }, 10, validators)).toEqual({ kind: 'part', start: 4, end: 9 });
    expect(rangeOf({ range: 'bytes=10-' }, 10, validators)).toEqual({ kind: 'unsatisfiable' });
  });

  it('answers whole for several ranges, another unit, or an If-Range that does not hold', () => {
    for (const range of ['bytes=0-1,3-4', 'items=0-1', 'bytes=5-2'])
      expect(rangeOf({ range }, 10, validators).kind, range).toBe('whole');
    expect(rangeOf({ range: 'bytes=0-1', 'if-range': '"v0"' }, 10, validators).kind).toBe('whole');
    expect(rangeOf({ range: 'bytes=0-1', 'if-range': 'W/"v1"' }, 10, validators).kind).toBe('whole');
    expect(rangeOf({ range: 'bytes=0-1', 'if-range': '"v1"' }, 10, validators).kind).toBe('part');
    expect(rangeOf({ range: 'bytes=0-1', 'if-range': validators.lastModified }, 10, validators).kind).toBe(
      'part',
    );
  });
});
