import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TYPE_MULTIPLIERS,
  keyJitterHash,
  type TtlOptions,
  TtlPolicy,
} from '../../../src/cache/ttl-policy.js';
import { ConfigError, isKeelError } from '../../../src/errors.js';

/** FNV-1a 32-bit over `Buffer.from(key, 'utf8')`: an independent reference for keyJitterHash. */
function referenceFnv1a(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash = (hash ^ byte) >>> 0;
    hash = Number((BigInt(hash) * 0x01000193n) % 0x1_0000_0000n);
  }
  return hash;
}

/** The documented jitter formula (docs/cache.md, Adaptive TTL), written out. */
function referenceVariation(key: string, factor: number): number {
  return 1 + ((referenceFnv1a(key) % 1000) / 1000 - 0.5) * 2 * factor;
}

const NO_JITTER: TtlOptions = { ttlVariationFactor: 0 };

describe('keyJitterHash', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(keyJitterHash('')).toBe(0x811c9dc5);
    expect(keyJitterHash('a')).toBe(0xe40c292c);
    expect(keyJitterHash('foobar')).toBe(0xbf9cf968);
  });

  it('is pinned for a project key, so a change of hash cannot pass unnoticed', () => {
    expect(keyJitterHash('product:42')).toBe(0xa5539a30);
  });

  it('hashes the UTF-8 bytes, including astral characters and lone surrogates', () => {
    for (const key of [
      'キャッシュ',
      'café:1',
      '😀:emoji',
      'a\ud800b',
      'end\udc00',
      '\ud83d',
      'x'.repeat(300),
    ]) {
      expect(keyJitterHash(key), key).toBe(referenceFnv1a(key));
    }
  });

  it('returns an unsigned 32-bit integer', () => {
    for (let i = 0; i < 1000; i++) {
      const hash = keyJitterHash(`key:${i}`);
      expect(Number.isInteger(hash)).toBe(true);
      expect(hash).toBeGreaterThanOrEqual(0);
      expect(hash).toBeLessThan(2 ** 32);
    }
  });
});

describe('TtlPolicy adaptive arithmetic (the documented formula)', () => {
  it('multiplies base × type × access × size exactly when there is no jitter', () => {
    const policy = new TtlPolicy(NO_JITTER);
    const input = { key: 'product:42', dataType: 'product', accessCount: 50, sizeBytes: 500 };
    // 300000 × 1.5 (product) × (1 + 50/100 × 0.5 = 1.25) × 1.2 (< 1 KiB) = 675000
    expect(policy.ttlFor(input)).toBe(675_000);
    expect(policy.explain(input)).toEqual({
      baseMs: 300_000,
      typeMultiplier: 1.5,
      accessMultiplier: 1.25,
      sizeMultiplier: 1.2,
      variation: 1,
      unclampedMs: 675_000,
      ttlMs: 675_000,
    });
  });

  it('applies the per-key jitter computed from the hash', () => {
    const policy = new TtlPolicy();
    const input = { key: 'product:42', dataType: 'product', accessCount: 50, sizeBytes: 500 };
    // hash('product:42') mod 1000 = 600 → variation = 1 + (0.6 − 0.5) × 2 × 0.1 = 1.02
    const variation = referenceVariation('product:42', 0.1);
    expect(variation).toBeCloseTo(1.02, 12);
    const expected = 300_000 * 1.5 * 1.25 * 1.2 * variation;
    expect(policy.ttlFor(input)).toBe(Math.round(expected));
    expect(policy.ttlFor(input)).toBe(688_500);
    const parts = policy.explain(input);
    expect(parts.variation).toBe(variation);
    expect(parts.unclampedMs).toBe(expected);
  });

  it('uses each default data-type multiplier, and 1 for unknown or absent types', () => {
    const policy = new TtlPolicy(NO_JITTER);
    expect(DEFAULT_TYPE_MULTIPLIERS).toEqual({ product: 1.5, inventory: 0.5, customer: 2.0 });
    expect(policy.ttlFor({ key: 'k', dataType: 'product' })).toBe(450_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'inventory' })).toBe(150_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'customer' })).toBe(600_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'order' })).toBe(300_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'constructor' })).toBe(300_000);
    expect(policy.ttlFor({ key: 'k' })).toBe(300_000);
  });

  it('lets options override and extend the type table', () => {
    const policy = new TtlPolicy({ ...NO_JITTER, typeMultipliers: { inventory: 0.25, order: 3 } });
    expect(policy.ttlFor({ key: 'k', dataType: 'inventory' })).toBe(75_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'order' })).toBe(900_000);
    expect(policy.ttlFor({ key: 'k', dataType: 'product' })).toBe(450_000);
  });

  it('grows the access multiplier linearly and saturates it at 2 from 200 accesses', () => {
    const policy = new TtlPolicy(NO_JITTER);
    const access = (accessCount: number) => policy.explain({ key: 'k', accessCount }).accessMultiplier;
    expect(access(0)).toBe(1);
    expect(access(1)).toBe(1.005);
    expect(access(100)).toBe(1.5);
    expect(access(199)).toBe(1.995);
    expect(access(200)).toBe(2);
    expect(access(10_000)).toBe(2);
    expect(policy.ttlFor({ key: 'k', accessCount: 1_000 })).toBe(600_000);
  });

  it('switches size bands exactly at 1 KiB, 10 KiB and 100 KiB', () => {
    const policy = new TtlPolicy(NO_JITTER);
    const size = (sizeBytes: number | undefined) => policy.explain({ key: 'k', sizeBytes }).sizeMultiplier;
    expect(size(undefined)).toBe(1);
    expect(size(0)).toBe(1);
    expect(size(1)).toBe(1.2);
    expect(size(1023)).toBe(1.2);
    expect(size(1024)).toBe(1.0);
    expect(size(10_239)).toBe(1.0);
    expect(size(10_240)).toBe(0.8);
    expect(size(102_399)).toBe(0.8);
    expect(size(102_400)).toBe(0.6);
    expect(size(50 * 1024 * 1024)).toBe(0.6);
    expect(policy.ttlFor({ key: 'k', sizeBytes: 102_400 })).toBe(180_000);
  });

  it('keeps the jitter within ±factor, deterministic per key, and spread across keys', () => {
    for (const factor of [0.05, 0.1, 0.5, 0.99]) {
      const policy = new TtlPolicy({ ttlVariationFactor: factor, minMs: 1, maxMs: 10 ** 9 });
      const again = new TtlPolicy({ ttlVariationFactor: factor, minMs: 1, maxMs: 10 ** 9 });
      let low = Number.POSITIVE_INFINITY;
      let high = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < 2000; i++) {
        const key = `item:${i}`;
        const { variation } = policy.explain({ key });
        expect(variation).toBe(referenceVariation(key, factor));
        expect(variation).toBeGreaterThanOrEqual(1 - factor);
        expect(variation).toBeLessThan(1 + factor);
        expect(again.ttlFor({ key })).toBe(policy.ttlFor({ key }));
        low = Math.min(low, variation);
        high = Math.max(high, variation);
      }
      // 2000 keys over 1000 jitter steps reach close to both ends of the range.
      expect(low).toBeLessThan(1 - factor * 0.9);
      expect(high).toBeGreaterThan(1 + factor * 0.9);
    }
  });

  it('returns whole milliseconds', () => {
    const policy = new TtlPolicy({ defaultMs: 1_234.5 });
    for (let i = 0; i < 200; i++) {
      const ttl = policy.ttlFor({ key: `k${i}`, accessCount: i, sizeBytes: i * 700 });
      expect(Number.isInteger(ttl)).toBe(true);
    }
  });
});

describe('TtlPolicy clamping', () => {
  it('clamps the adaptive TTL to [minMs, maxMs]', () => {
    const policy = new TtlPolicy({ ...NO_JITTER, minMs: 200_000, maxMs: 500_000 });
    const low = policy.explain({ key: 'k', dataType: 'inventory' });
    expect(low.unclampedMs).toBe(150_000);
    expect(low.ttlMs).toBe(200_000);
    const high = policy.explain({ key: 'k', dataType: 'customer', accessCount: 500 });
    expect(high.unclampedMs).toBe(1_200_000);
    expect(high.ttlMs).toBe(500_000);
  });

  it('defaults to 1 s and 24 h bounds', () => {
    const policy = new TtlPolicy(NO_JITTER);
    expect(policy.ttlFor({ key: 'k', explicitTtlMs: 10, adaptive: true })).toBe(1_000);
    expect(policy.ttlFor({ key: 'k', explicitTtlMs: 86_400_000, adaptive: true, dataType: 'customer' })).toBe(
      86_400_000,
    );
  });

  it('sends a 0 multiplier, even on an infinite base, to minMs', () => {
    const policy = new TtlPolicy({ typeMultipliers: { volatile: 0 } });
    expect(policy.ttlFor({ key: 'k', dataType: 'volatile' })).toBe(1_000);
    expect(
      policy.ttlFor({
        key: 'k',
        dataType: 'volatile',
        explicitTtlMs: Number.POSITIVE_INFINITY,
        adaptive: true,
      }),
    ).toBe(1_000);
  });
});

describe('TtlPolicy explicit TTLs', () => {
  const policy = new TtlPolicy();
  const rich = { key: 'product:42', dataType: 'product', accessCount: 50, sizeBytes: 500 };

  it('takes an explicit TTL as given, unclamped, when adaptive is absent', () => {
    expect(policy.ttlFor({ ...rich, explicitTtlMs: 60_000 })).toBe(60_000);
    expect(policy.ttlFor({ ...rich, explicitTtlMs: 5 })).toBe(5);
    expect(policy.ttlFor({ ...rich, explicitTtlMs: 7 * 86_400_000 })).toBe(7 * 86_400_000);
    expect(policy.explain({ ...rich, explicitTtlMs: 60_000 })).toEqual({
      baseMs: 60_000,
      typeMultiplier: 1,
      accessMultiplier: 1,
      sizeMultiplier: 1,
      variation: 1,
      unclampedMs: 60_000,
      ttlMs: 60_000,
    });
  });

  it('rounds an explicit TTL up to whole milliseconds', () => {
    expect(policy.ttlFor({ key: 'k', explicitTtlMs: 0.2 })).toBe(1);
    expect(policy.ttlFor({ key: 'k', explicitTtlMs: 1500.01 })).toBe(1501);
  });

  it('passes an explicit Infinity (never expires) through', () => {
    expect(policy.ttlFor({ key: 'k', explicitTtlMs: Number.POSITIVE_INFINITY })).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('uses the explicit TTL as the base when adaptive is true', () => {
    const expected = 60_000 * 1.5 * 1.25 * 1.2 * referenceVariation('product:42', 0.1);
    expect(policy.ttlFor({ ...rich, explicitTtlMs: 60_000, adaptive: true })).toBe(Math.round(expected));
    expect(policy.explain({ ...rich, explicitTtlMs: 60_000, adaptive: true }).baseMs).toBe(60_000);
    expect(policy.ttlFor({ ...rich, explicitTtlMs: Number.POSITIVE_INFINITY, adaptive: true })).toBe(
      86_400_000,
    );
  });

  it('uses defaultMs as given when adaptive is false and no TTL is given', () => {
    expect(policy.ttlFor({ ...rich, adaptive: false })).toBe(300_000);
    expect(policy.ttlFor({ ...rich, explicitTtlMs: 42, adaptive: false })).toBe(42);
  });

  it('rejects invalid explicit TTLs with INVALID_ARGUMENT naming ttlMs', () => {
    for (const bad of [0, -1, Number.NaN, Number.NEGATIVE_INFINITY]) {
      for (const adaptive of [undefined, true, false]) {
        const call = () => policy.ttlFor({ key: 'k', explicitTtlMs: bad, adaptive });
        expect(call).toThrowError(/ttlMs/);
        expect(() => policy.explain({ key: 'k', explicitTtlMs: bad, adaptive })).toThrowError(/ttlMs/);
        try {
          call();
        } catch (error) {
          expect(isKeelError(error, 'INVALID_ARGUMENT')).toBe(true);
        }
      }
    }
  });

  it('rejects negative or non-finite access counts and sizes', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => policy.ttlFor({ key: 'k', accessCount: bad })).toThrowError(/accessCount/);
      expect(() => policy.ttlFor({ key: 'k', sizeBytes: bad })).toThrowError(/sizeBytes/);
    }
  });
});

describe('TtlPolicy option validation', () => {
  const cases: Array<[TtlOptions, string]> = [
    [{ defaultMs: 0 }, 'ttl.defaultMs'],
    [{ defaultMs: -5 }, 'ttl.defaultMs'],
    [{ defaultMs: Number.NaN }, 'ttl.defaultMs'],
    [{ defaultMs: Number.POSITIVE_INFINITY }, 'ttl.defaultMs'],
    [{ ttlVariationFactor: -0.1 }, 'ttl.ttlVariationFactor'],
    [{ ttlVariationFactor: 1 }, 'ttl.ttlVariationFactor'],
    [{ ttlVariationFactor: Number.NaN }, 'ttl.ttlVariationFactor'],
    [{ minMs: 0 }, 'ttl.minMs'],
    [{ minMs: 1.5 }, 'ttl.minMs'],
    [{ maxMs: Number.POSITIVE_INFINITY }, 'ttl.maxMs'],
    [{ maxMs: -1 }, 'ttl.maxMs'],
    [{ minMs: 10_000, maxMs: 5_000 }, 'ttl.minMs'],
    [{ typeMultipliers: { product: -1 } }, 'ttl.typeMultipliers.product'],
    [{ typeMultipliers: { order: Number.NaN } }, 'ttl.typeMultipliers.order'],
    [{ typeMultipliers: { order: Number.POSITIVE_INFINITY } }, 'ttl.typeMultipliers.order'],
  ];

  it.each(cases)('rejects %o with a ConfigError naming %s', (options, setting) => {
    let caught: unknown;
    try {
      new TtlPolicy(options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).setting).toBe(setting);
    expect((caught as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('accepts the boundary values', () => {
    expect(() => new TtlPolicy({ ttlVariationFactor: 0, minMs: 1, maxMs: 1 })).not.toThrow();
    expect(() => new TtlPolicy({ ttlVariationFactor: 0.999, typeMultipliers: { x: 0 } })).not.toThrow();
  });
});
