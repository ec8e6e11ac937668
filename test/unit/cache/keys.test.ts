import { describe, expect, it } from 'vitest';
import { assertValidKey, globToRegExp } from '../../../src/cache/keys.js';
import { KeelError } from '../../../src/errors.js';

describe('assertValidKey', () => {
  it('accepts keys up to 1 KiB in UTF-8 and refuses the rest with INVALID_KEY', () => {
    for (const key of ['a', 'x'.repeat(1024), 'é'.repeat(512), '語'.repeat(341), '😀'.repeat(256)]) {
      expect(() => assertValidKey(key)).not.toThrow();
    }
    for (const key of [
      '',
      'x'.repeat(1025),
      'é'.repeat(513),
      '語'.repeat(342),
      '😀'.repeat(257),
      7,
      undefined,
    ]) {
      let caught: unknown;
      try {
        assertValidKey(key);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KeelError);
      expect((caught as KeelError).code).toBe('INVALID_KEY');
    }
  });
});

describe('globToRegExp (Redis glob syntax)', () => {
  const matches = (pattern: string, key: string) => globToRegExp(pattern).test(key);

  it('matches *, ?, classes, negated classes, ranges and escapes', () => {
    expect(matches('user:*', 'user:1:profile')).toBe(true);
    expect(matches('user:*', 'users:1')).toBe(false);
    expect(matches('user:?', 'user:12')).toBe(false);
    expect(matches('h[ae]llo', 'hallo')).toBe(true);
    expect(matches('h[^e]llo', 'hello')).toBe(false);
    expect(matches('h[a-c]llo', 'hbllo')).toBe(true);
    expect(matches('price\\*', 'price*')).toBe(true);
    expect(matches('price\\*', 'price1')).toBe(false);
    expect(matches('a.b', 'axb')).toBe(false);
    expect(matches('*', 'line\nbreak')).toBe(true);
  });

  it('anchors the whole key', () => {
    expect(matches('product', 'product:1')).toBe(false);
    expect(matches('*:1', 'product:1')).toBe(true);
  });

  it('refuses empty and unterminated patterns with INVALID_ARGUMENT', () => {
    for (const pattern of ['', 'a[bc']) {
      expect(() => globToRegExp(pattern)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
