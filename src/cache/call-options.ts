/**
 * The options of the manager's calls (`set`, `getOrSet`), their validation, and the timeout error.
 * A malformed option is an INVALID_ARGUMENT error naming it, thrown before anything is touched.
 */
import { KeelError } from '../errors.js';

export interface SetOptions {
  /** TTL in ms; without it (or with `adaptive: true`, which uses it as the base) the adaptive policy decides. */
  ttlMs?: number;
  adaptive?: boolean;
  /** Data type for the TTL multipliers and the compression monitor ("product", "inventory", …). */
  dataType?: string;
  tags?: readonly string[];
  /** Keys this entry is derived from: invalidating one of them invalidates this entry. */
  dependsOn?: readonly string[];
  /** How long after its TTL the entry may still be served as a fallback by getOrSet. */
  graceMs?: number;
}

export interface GetOrSetOptions extends SetOptions {
  /** With a stale value in grace: return it after this many ms and let the factory finish in the background. */
  softTimeoutMs?: number;
  /** Give up waiting after this many ms: the stale value if there is one, else FACTORY_TIMEOUT. */
  hardTimeoutMs?: number;
  /** Skip the cached value and call the factory (the result is cached). */
  forceFresh?: boolean;
  /**
   * With Redis: let one instance run the factory for a missing key while the others wait for its
   * result (default: the `redis.lock` option).
   */
  lock?: boolean;
}

export type Factory<T> = () => T | Promise<T>;

export function assertSetOptions(options: SetOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new KeelError('INVALID_ARGUMENT', 'Cache write options must be an object.');
  }
  const { ttlMs, graceMs } = options;
  if (ttlMs !== undefined && !(typeof ttlMs === 'number' && ttlMs > 0)) {
    throw new KeelError(
      'INVALID_ARGUMENT',
      'ttlMs must be a positive number of milliseconds (Infinity: no expiry).',
    );
  }
  if (graceMs !== undefined && !(typeof graceMs === 'number' && graceMs >= 0 && Number.isFinite(graceMs))) {
    throw new KeelError('INVALID_ARGUMENT', 'graceMs must be a non-negative, finite number of milliseconds.');
  }
  if (options.dataType !== undefined && (typeof options.dataType !== 'string' || options.dataType === '')) {
    throw new KeelError('INVALID_ARGUMENT', 'dataType must be a non-empty string such as "product".');
  }
  if (options.tags !== undefined) assertStringList(options.tags, 'tags');
  if (options.dependsOn !== undefined) assertStringList(options.dependsOn, 'dependsOn');
}

export function assertGetOrSetOptions(options: GetOrSetOptions): void {
  assertSetOptions(options);
  for (const name of ['softTimeoutMs', 'hardTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new KeelError('INVALID_ARGUMENT', `${name} must be a positive whole number of milliseconds.`);
    }
  }
  if (options.lock !== undefined && typeof options.lock !== 'boolean') {
    throw new KeelError('INVALID_ARGUMENT', 'lock must be true or false.');
  }
}

export function assertStringList(list: unknown, name: string): void {
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new KeelError('INVALID_ARGUMENT', `${name} must be an array of non-empty strings.`);
  }
}

export function timeoutError(key: string, ms: number): KeelError {
  return new KeelError(
    'FACTORY_TIMEOUT',
    `The factory for "${key}" did not finish within ${ms} ms; raise hardTimeoutMs or set graceMs to serve stale values.`,
  );
}
