import { describe, expect, it } from 'vitest';
import { deserializeValue, OptimizedCacheManager, serializeValue } from '../../../src/cache/index.js';
import { packCached, unpackCached } from '../../../src/server/response-frame.js';
import type { StoredResponse } from '../../../src/server/stored-response.js';

const stored: StoredResponse = {
  kind: 'response',
  status: 203,
  headers: [
    ['content-type', 'application/json; charset=utf-8'],
    ['etag', '"product-5-v1"'],
    ['last-modified', 'Tue, 01 Dec 2026 22:46:30 GMT'],
    ['x-latin1', 'café'],
  ],
  body: Buffer.from('{"id":5,"title":"Kettle"}'),
  storedAt: 1_764_626_790_123,
  initialAgeMs: 2_500,
  freshUntil: 1_764_626_850_123,
  staleUntil: 1_764_627_150_123,
  forbidsStale: true,
  etag: '"product-5-v1"',
  lastModified: 'Tue, 01 Dec 2026 22:46:30 GMT',
};

describe('response frames', () => {
  it('round-trips a stored response, validators read back from its headers', () => {
    expect(unpackCached(packCached(stored))).toEqual(stored);
    const plain = {
      ...stored,
      headers: [['content-type', 'text/plain']] as [string, string][],
      forbidsStale: false,
    };
    expect(unpackCached(packCached(plain))).toEqual({ ...plain, etag: undefined, lastModified: undefined });
  });

  it('round-trips a Vary marker and an empty body', () => {
    expect(unpackCached(packCached({ kind: 'vary', names: ['accept-language', 'accept-encoding'] }))).toEqual(
      {
        kind: 'vary',
        names: ['accept-language', 'accept-encoding'],
      },
    );
    const empty = { ...stored, body: Buffer.alloc(0) };
    expect(unpackCached(packCached(empty))).toEqual(empty);
  });

  it('reads anything that is not a whole frame as a miss', () => {
    const frame = packCached(stored) as Buffer;
    expect(unpackCached(frame.subarray(0, 30))).toBeUndefined();
    expect(unpackCached(frame.subarray(0, 60))).toBeUndefined();
    expect(unpackCached(Buffer.from([9, 0, 0]))).toBeUndefined();
    expect(unpackCached({ kind: 'response' })).toBeUndefined();
    expect(unpackCached(undefined)).toBeUndefined();
    const vary = packCached({ kind: 'vary', names: ['accept-language'] }) as Buffer;
    expect(unpackCached(vary.subarray(0, 5))).toBeUndefined();
  });

  it('refuses what no frame can hold, so it is served and not stored', () => {
    const many = Array.from({ length: 256 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]);
    expect(packCached({ ...stored, headers: many })).toBeUndefined();
    expect(packCached({ ...stored, headers: [['x-long', 'v'.repeat(70_000)]] })).toBeUndefined();
    expect(packCached({ kind: 'vary', names: ['x'.repeat(256)] })).toBeUndefined();
    expect(packCached({ ...stored, headers: many.slice(0, 255) })).toBeInstanceOf(Buffer);
  });

  it('owns its memory, so the cache is charged what it pins', () => {
    const frame = packCached(stored) as Buffer;
    expect(frame.buffer.byteLength).toBe(frame.byteLength);
  });

  it('survives the L1 and the serialization Redis values go through unchanged', async () => {
    expect(unpackCached(deserializeValue(serializeValue(packCached(stored))))).toEqual(stored);
    const cache = await OptimizedCacheManager.create({ namespace: 'frame-test' });
    try {
      await cache.set('GET /products/5', packCached(stored), { ttlMs: 60_000 });
      expect(unpackCached(await cache.get('GET /products/5'))).toEqual(stored);
    } finally {
      await cache.close();
    }
  });
});
