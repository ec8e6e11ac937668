/**
 * Keel's error type.
 *
 * Every error Keel throws to a caller is a KeelError (or a subclass) carrying a stable
 * UPPER_SNAKE_CASE `code` that programs can branch on, a message that says what to do about it,
 * and the underlying `cause` when it wraps another error. The codes are listed in docs/errors.md;
 * a code, once published, keeps its meaning.
 */

export type KeelErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_KEY'
  | 'INVALID_ARGUMENT'
  | 'SERIALIZATION_FAILED'
  | 'DECODE_FAILED'
  | 'FACTORY_TIMEOUT'
  | 'CACHE_CLOSED'
  | 'REDIS_UNAVAILABLE'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_BUSY'
  | 'UPSTREAM_INVALID_RESPONSE'
  | 'BODY_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'OVERLOADED'
  | 'INTERNAL_ERROR'
  | 'NOT_CACHED'
  | 'GATEWAY_UNREACHABLE'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'MONITORING_DISABLED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'STORE_CLOSED'
  | 'CONFLICT'
  | 'SYNC_AUTH_FAILED'
  | 'SYNC_LOCKED'
  | 'SYNC_STOPPED'
  | 'SYNC_FENCED'
  | 'SYNC_NO_BACKUP'
  | 'SOURCE_UNAVAILABLE'
  | 'SOURCE_INVALID_RESPONSE';

export class KeelError extends Error {
  readonly code: KeelErrorCode;

  constructor(code: KeelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A setting is missing, malformed or out of range; the message names the setting. */
export class ConfigError extends KeelError {
  readonly setting: string;

  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', `${setting}: ${message}`, options);
    this.setting = setting;
  }
}

/** True when `error` is a KeelError with the given code. */
export function isKeelError(error: unknown, code?: KeelErrorCode): error is KeelError {
  return error instanceof KeelError && (code === undefined || error.code === code);
}
