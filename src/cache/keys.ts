/**
 * Cache keys and key patterns.
 *
 * A key is a non-empty string of at most 1 KiB in UTF-8. The check runs on every call, so it is
 * written to cost a `typeof` and a length comparison for ordinary keys: a UTF-16 code unit encodes
 * to at most 3 UTF-8 bytes, so a key of at most 341 code units cannot exceed 1,024 bytes, and one
 * of more than 1,024 code units always does; only keys in between are measured.
 *
 * Patterns use Redis glob syntax (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x` escapes) — the syntax
 * `SCAN MATCH` understands, so one pattern means the same thing in L1 and in Redis. A pattern is
 * matched against keys *within* the manager's namespace: the namespace is never part of it, so no
 * pattern can reach another namespace's keys.
 */
import { KeelError } from '../errors.js';

/** Largest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Keys up to this many UTF-16 code units are always within MAX_KEY_BYTES (3 bytes per unit at most). */
const ALWAYS_SHORT_ENOUGH = Math.floor(MAX_KEY_BYTES / 3);

export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new KeelError('INVALID_KEY', `A cache key must be a non-empty string (got ${describe(key)}).`);
  }
  if (
    key.length > ALWAYS_SHORT_ENOUGH &&
    (key.length > MAX_KEY_BYTES || Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
  ) {
    throw new KeelError(
      'INVALID_KEY',
      `A cache key must be at most ${MAX_KEY_BYTES} bytes in UTF-8 (got ${Buffer.byteLength(key, 'utf8')}); hash long keys first.`,
    );
  }
}

function describe(value: unknown): string {
  if (value === '') return 'an empty string';
  return value === null ? 'null' : typeof value;
}

/**
 * Compiles a Redis-style glob into an anchored RegExp. Throws INVALID_ARGUMENT for an empty pattern
 * or an unterminated character class.
 */
export function globToRegExp(pattern: string): RegExp {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new KeelError(
      'INVALID_ARGUMENT',
      'An invalidation pattern must be a non-empty glob such as "user:*".',
    );
  }
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (char === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) {
        throw new KeelError('INVALID_ARGUMENT', `Unterminated "[" in invalidation pattern "${pattern}".`);
      }
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith('^');
      if (negated) body = body.slice(1);
      source += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
