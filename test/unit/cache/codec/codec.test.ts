import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Codec,
  type CompressionCodec,
  type CompressionOptions,
  ENVELOPE_OVERHEAD_BYTES,
  type EnvelopeMeta,
  ownedCopy,
  serializeValue,
} from '../../../../src/cache/codec.js';
import { ConfigError, isKeelError } from '../../../../src/errors.js';

const meta = (overrides: Partial<EnvelopeMeta> = {}): EnvelopeMeta => ({
  createdAt: 1_700_000_000_123,
  ttlMs: 60_000,
  graceMs: 5_000,
  dataType: 'product',
  tags: ['catalog', 'product:42'],
  ...overrides,
});

/** A JSON-like value whose serialized form is about `bytes` long (within a few percent) and compresses well. */
function document(bytes: number): { rows: { id: number; name: string; status: string; price: number }[] } {
  const rows = (count: number) =>
    Array.from({ length: count }, (_, id) => ({
      id,
      name: `product ${id % 50}`,
      status: 'active',
      price: (id % 17) * 1.25,
    }));
  const sample = 100;
  const bytesPerRow = serializeValue({ rows: rows(sample) }).byteLength / sample;
  return { rows: rows(Math.max(1, Math.round(bytes / bytesPerRow))) };
}

function encodeValue(codec: Codec, value: unknown, options?: { compress?: boolean }, m = meta()) {
  const serialized = serializeValue(value);
  return { serialized, envelope: codec.encode(serialized, m, options) };
}

describe('Codec: compression chosen by size', () => {
  it.each<[string, CompressionCodec, number, CompressionOptions]>([
    ['a value under the threshold', 'none', 500, {}],
    ['a mid-size value', 'lz4', 5 * 1024, {}],
    ['a value just under the large threshold', 'lz4', 60 * 1024, {}],
    ['a large value', 'brotli', 200 * 1024, {}],
    ['a large value with gzip chosen', 'gzip', 200 * 1024, { largeCodec: 'gzip' }],
    ['a value over a lowered threshold', 'lz4', 300, { thresholdBytes: 128 }],
    ['a value over a lowered large threshold', 'brotli', 5 * 1024, { largeThresholdBytes: 4096 }],
  ])('%s is stored with %s', (_name, expected, bytes, options) => {
    const codec = new Codec(options);
    const value = document(bytes);
    const { serialized, envelope } = encodeValue(codec, value);
    const decoded = codec.decode(envelope);
    expect(decoded.codec).toBe(expected);
    expect(decoded.value).toStrictEqual(value);
    expect(decoded.meta).toStrictEqual(meta());
    expect(decoded.storedBytes).toBe(envelope.byteLength);
    if (expected !== 'none') expect(envelope.byteLength).toBeLessThan(serialized.byteLength);
    expect(codec.stats.byCodec[expected]).toMatchObject({ values: 1, rawBytes: serialized.byteLength });
  });

  it('uses the exact boundaries: below thresholdBytes none, at largeThresholdBytes the large codec', () => {
    // A string of n 'a's serializes to n + 3 bytes (str16 header) in this range.
    const codecOf = (length: number) => {
      const codec = new Codec({ thresholdBytes: 1000, largeThresholdBytes: 2000 });
      const serialized = serializeValue('a'.repeat(length - 3));
      expect(serialized.byteLength).toBe(length);
      return codec.decode(codec.encode(serialized, meta())).codec;
    };
    expect(codecOf(999)).toBe('none');
    expect(codecOf(1000)).toBe('lz4');
    expect(codecOf(1999)).toBe('lz4');
    expect(codecOf(2000)).toBe('brotli');
  });

  it('keeps the raw form when compression does not make it smaller', () => {
    const codec = new Codec();
    const value = randomBytes(8 * 1024);
    const { envelope } = encodeValue(codec, value);
    const decoded = codec.decode<Buffer>(envelope);
    expect(decoded.codec).toBe('none');
    expect(decoded.value.equals(value)).toBe(true);
    expect(codec.stats.notSmaller).toBe(1);
    expect(codec.stats.byCodec.none.values).toBe(1);
  });

  it('skips compression for one encode when the caller passes compress: false', () => {
    const codec = new Codec();
    const value = document(10 * 1024);
    expect(codec.decode(encodeValue(codec, value, { compress: false }).envelope).codec).toBe('none');
    expect(codec.decode(encodeValue(codec, value).envelope).codec).toBe('lz4');
    expect(codec.stats.shedByCaller).toBe(1);
  });

  it('never compresses when built with false', () => {
    const codec = new Codec(false);
    const value = document(200 * 1024);
    const { serialized, envelope } = encodeValue(codec, value);
    const decoded = codec.decode(envelope);
    expect(decoded.codec).toBe('none');
    expect(decoded.value).toStrictEqual(value);
    expect(envelope.byteLength).toBe(serialized.byteLength + ENVELOPE_OVERHEAD_BYTES + 7 + 2 + 7 + 2 + 10);
    expect(codec.compressionRatio()).toBe(1);
  });
});

describe('Codec: metadata', () => {
  it('decodeMeta reads the header without the value', () => {
    const codec = new Codec();
    const { envelope } = encodeValue(codec, document(100 * 1024));
    expect(codec.decodeMeta(envelope)).toStrictEqual(meta());
    expect(codec.stats.decoded).toBe(0);
  });

  it('round-trips Infinity, zero, unicode strings and no tags', () => {
    const codec = new Codec();
    const m = meta({ ttlMs: Number.POSITIVE_INFINITY, graceMs: 0, dataType: 'prodúct ✓', tags: [] });
    expect(codec.decodeMeta(encodeValue(codec, 1, {}, m).envelope)).toStrictEqual(m);
    const longest = meta({ dataType: 'd'.repeat(255), tags: Array.from({ length: 255 }, (_, i) => `t${i}`) });
    expect(codec.decode(encodeValue(codec, 'x', {}, longest).envelope).meta).toStrictEqual(longest);
  });

  it('stores whole milliseconds, truncating fractions', () => {
    const codec = new Codec();
    const m = codec.decodeMeta(encodeValue(codec, 1, {}, meta({ createdAt: 10.9, ttlMs: 1500.5 })).envelope);
    expect(m.createdAt).toBe(10);
    expect(m.ttlMs).toBe(1500);
  });

  it.each<[string, Partial<EnvelopeMeta>]>([
    ['a negative TTL', { ttlMs: -1 }],
    ['a NaN grace', { graceMs: Number.NaN }],
    ['an infinite createdAt', { createdAt: Number.POSITIVE_INFINITY }],
    ['a TTL past 2^48 ms', { ttlMs: 2 ** 48 }],
    ['a data type over 255 bytes', { dataType: 'é'.repeat(128) }],
    ['more than 255 tags', { tags: Array.from({ length: 256 }, String) }],
    ['a tag over 65535 bytes', { tags: ['x'.repeat(65_536)] }],
    ['a tag that is not a string', { tags: [42 as unknown as string] }],
  ])('refuses %s with INVALID_ARGUMENT', (_name, overrides) => {
    const codec = new Codec();
    expect(() => codec.encode(serializeValue(1), meta(overrides))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('refuses an empty serialized value with INVALID_ARGUMENT', () => {
    expect(() => new Codec().encode(new Uint8Array(0), meta())).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('returns an envelope that owns exactly its bytes', () => {
    const { envelope } = encodeValue(new Codec(), { a: 1 });
    expect(envelope.buffer.byteLength).toBe(envelope.byteLength);
    expect(envelope.byteOffset).toBe(0);
  });

  it('writes a passing envelope (owned: false) that decodes the same, and copies one to own', () => {
    const codec = new Codec();
    const serialized = serializeValue({ a: 1, b: 'two' });
    const passing = codec.encode(serialized, meta(), { owned: false });
    expect(passing).toEqual(codec.encode(serialized, meta()));
    expect(codec.decode(passing).value).toEqual({ a: 1, b: 'two' });
    const kept = ownedCopy(passing);
    expect(kept).toEqual(passing);
    expect(kept.buffer.byteLength).toBe(kept.byteLength);
  });
});

describe('Codec: stats', () => {
  it('counts bytes in and out per codec, and the overall ratio of the values it decided for', () => {
    const codec = new Codec();
    const small = serializeValue(document(100));
    const mid = serializeValue(document(8 * 1024));
    const large = serializeValue(document(128 * 1024));
    const envelopes = [small, mid, large].map((bytes) => codec.encode(bytes, meta()));
    codec.encode(mid, meta(), { compress: false });
    const { byCodec } = codec.stats;
    expect(byCodec.none).toMatchObject({ values: 2, rawBytes: small.byteLength + mid.byteLength });
    expect(byCodec.none.storedBytes).toBe(byCodec.none.rawBytes);
    expect(byCodec.lz4.values).toBe(1);
    expect(byCodec.lz4.rawBytes).toBe(mid.byteLength);
    expect(byCodec.lz4.storedBytes).toBeLessThan(mid.byteLength);
    expect(byCodec.brotli.values).toBe(1);
    expect(byCodec.brotli.storedBytes).toBeLessThan(byCodec.brotli.rawBytes);
    const ratio =
      (byCodec.lz4.storedBytes + byCodec.brotli.storedBytes) / (mid.byteLength + large.byteLength);
    expect(codec.compressionRatio()).toBeCloseTo(ratio, 10);
    for (const envelope of envelopes) codec.decode(envelope);
    expect(codec.stats.decoded).toBe(3);
    expect(() => codec.decode(Buffer.from('nope'))).toThrow();
    expect(() => codec.decodeMeta(Buffer.from('nope'))).toThrow();
    expect(codec.stats.decodeErrors).toBe(2);
  });

  it('reports a ratio of 1 before any decision', () => {
    expect(new Codec().compressionRatio()).toBe(1);
  });
});

describe('Codec: options', () => {
  it.each<[string, unknown, string]>([
    ['a negative threshold', { thresholdBytes: -1 }, 'compression.thresholdBytes'],
    ['a fractional threshold', { thresholdBytes: 1.5 }, 'compression.thresholdBytes'],
    ['a string threshold', { thresholdBytes: '1kb' }, 'compression.thresholdBytes'],
    [
      'a large threshold under the threshold',
      { thresholdBytes: 4096, largeThresholdBytes: 1024 },
      'compression.largeThresholdBytes',
    ],
    ['an unknown large codec', { largeCodec: 'zstd' }, 'compression.largeCodec'],
    ['a brotli quality over 11', { brotliQuality: 12 }, 'compression.brotliQuality'],
    ['a minRatio of 0', { minRatio: 0 }, 'compression.minRatio'],
    ['a minRatio over 1', { minRatio: 1.5 }, 'compression.minRatio'],
    ['a probeEvery of 0', { probeEvery: 0 }, 'compression.probeEvery'],
    ['an unknown option', { level: 9 }, 'compression.level'],
    ['options that are not an object', 5, 'compression'],
  ])('refuses %s with a ConfigError naming it', (_name, options, setting) => {
    let thrown: unknown;
    try {
      new Codec(options as CompressionOptions);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(isKeelError(thrown, 'CONFIG_INVALID')).toBe(true);
    expect((thrown as ConfigError).setting).toBe(setting);
    expect((thrown as ConfigError).message).toContain(setting);
  });

  it('accepts no options, empty options and false', () => {
    expect(() => new Codec()).not.toThrow();
    expect(() => new Codec({})).not.toThrow();
    expect(() => new Codec(false)).not.toThrow();
  });
});
