/**
 * Adaptive TTL policy.
 *
 * Decides how long an entry lives. The adaptive TTL is the product of a base and four factors,
 * multiplied in this order (the order of the project's reference `_calculate_adaptive_ttl`, so the
 * floating-point result is the same figure):
 *
 *   ttl = base × type × access × size × variation, then clamped to [minMs, maxMs] and rounded
 *
 * - base: the call's explicit TTL when it asks for adaptation, otherwise `defaultMs` (5 minutes).
 * - type: how often that kind of data changes. Products change rarely (1.5), inventory often (0.5),
 *   customers almost never (2.0); an unknown or absent type is 1.0. The table is configurable and
 *   extendable: entries given in the options override or add to the defaults.
 * - access: popular keys live longer, `min(2, 1 + count / 100 × 0.5)`, where `count` is the key's
 *   access count as the caller tracks it (so it saturates at 2 from 200 accesses on).
 * - size: small values are cheap to keep and large ones expensive, so the TTL falls with size:
 *   under 1 KiB 1.2, under 10 KiB 1.0, under 100 KiB 0.8, otherwise 0.6; a size of 0 or an
 *   unknown size is 1.0.
 * - variation: a per-key jitter in [1 − f, 1 + f) with f = `ttlVariationFactor` (default 0.1), so
 *   keys written together do not all expire together and stampede the origin:
 *   `1 + ((hash(key) mod 1000) / 1000 − 0.5) × 2 × f`. The reference uses Python's `hash()`, which is
 *   salted per process; here the hash is fixed (FNV-1a 32-bit over the key's UTF-8 bytes, see
 *   `keyJitterHash`), so every process and every instance of the service gives a key the same
 *   jitter, and a TTL can be explained after the fact.
 *
 * Explicit TTLs. `adaptive` decides whether the factors apply:
 * - `adaptive` absent: an explicit `explicitTtlMs` wins as given; without one the TTL is adaptive.
 * - `adaptive: true`: the TTL is adaptive, with the explicit TTL (if any) as the base.
 * - `adaptive: false`: no factors; the explicit TTL, or `defaultMs`, as given.
 * A TTL taken as given is NOT clamped to [minMs, maxMs] — the caller asked for that figure — and is
 * rounded up to a whole millisecond so a positive TTL never becomes 0. An explicit `Infinity` means
 * "never expires" and is returned as `Infinity` when taken as given; as an adaptive base it is
 * clamped to `maxMs` like any other figure.
 *
 * Options are validated once, in the constructor (a `ConfigError` naming `ttl.<option>`); `ttlFor`
 * only checks the per-call numbers and allocates nothing.
 */

import { ConfigError, KeelError } from '../errors.js';

/** One minute, in milliseconds. */
const MINUTE_MS = 60_000;

/** Base TTL when a call gives none: 5 minutes. */
const DEFAULT_BASE_MS = 5 * MINUTE_MS;

/** Shortest adaptive TTL: 1 second — below it an entry costs more to write than it saves. */
const DEFAULT_MIN_MS = 1_000;

/** Longest adaptive TTL: 24 hours — every adaptively cached value is refreshed at least daily. */
const DEFAULT_MAX_MS = 24 * 60 * MINUTE_MS;

/** Default jitter amplitude: ±10% of the TTL. */
const DEFAULT_VARIATION_FACTOR = 0.1;

/** The access multiplier grows by `ACCESS_GAIN` per `ACCESS_SCALE` accesses ... */
const ACCESS_SCALE = 100;
const ACCESS_GAIN = 0.5;
/** ... up to this ceiling (reached at 200 accesses). */
const ACCESS_MULTIPLIER_MAX = 2;

/** Size bands, in bytes, and the multiplier for a value strictly below each band's limit. */
const KIB = 1024;
const SMALL_LIMIT_BYTES = KIB;
const MEDIUM_LIMIT_BYTES = 10 * KIB;
const LARGE_LIMIT_BYTES = 100 * KIB;
const SMALL_MULTIPLIER = 1.2;
const MEDIUM_MULTIPLIER = 1.0;
const LARGE_MULTIPLIER = 0.8;
/** For values of 100 KiB and more. */
const HUGE_MULTIPLIER = 0.6;

/** The jitter draws one of this many evenly spaced points from the key's hash. */
const JITTER_STEPS = 1000;

/** FNV-1a 32-bit parameters (Fowler, Noll, Vo; draft-eastlake-fnv). */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Replacement character, hashed (as UTF-8 encoders write it) in place of a lone surrogate. */
const REPLACEMENT_CHAR = 0xfffd;

/** How much longer or shorter each kind of data may be cached than the base TTL. */
export const DEFAULT_TYPE_MULTIPLIERS: Readonly<Record<string, number>> = Object.freeze({
  product: 1.5,
  inventory: 0.5,
  customer: 2.0,
});

export interface TtlOptions {
  /** Base TTL when a call gives none, in ms (default 5 minutes). */
  defaultMs?: number;
  /** Multipliers by data type, merged over `DEFAULT_TYPE_MULTIPLIERS`. */
  typeMultipliers?: Record<string, number>;
  /** Per-key jitter amplitude, in [0, 1) (default 0.1 = ±10%). */
  ttlVariationFactor?: number;
  /** Shortest adaptive TTL, in whole ms (default 1 s). */
  minMs?: number;
  /** Longest adaptive TTL, in whole ms (default 24 h). */
  maxMs?: number;
}

export interface TtlInput {
  key: string;
  /** Kind of data (`product`, `inventory`, …); unknown or absent → multiplier 1. */
  dataType?: string;
  /** Size of the stored value in bytes; 0 or absent → multiplier 1. */
  sizeBytes?: number;
  /** How often the key has been accessed, as the caller counts it; absent → 0. */
  accessCount?: number;
  /** A TTL the caller asks for, in ms (`Infinity` = never expires). */
  explicitTtlMs?: number;
  /** See the design note: absent → adaptive unless explicit; true → always; false → never. */
  adaptive?: boolean;
}

export interface TtlExplanation {
  baseMs: number;
  typeMultiplier: number;
  accessMultiplier: number;
  sizeMultiplier: number;
  variation: number;
  unclampedMs: number;
  ttlMs: number;
}

/**
 * FNV-1a 32-bit hash of the UTF-8 encoding of `key`, as an unsigned integer.
 *
 * Computed from the UTF-16 code units without building the byte array; a lone surrogate is hashed
 * as U+FFFD, as `TextEncoder` would encode it. Stable across processes, platforms and versions:
 * changing it would change every key's jitter.
 */
export function keyJitterHash(key: string): number {
  let hash = FNV_OFFSET_BASIS;
  const length = key.length;
  for (let i = 0; i < length; i++) {
    let codePoint = key.charCodeAt(i);
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      const next = i + 1 < length ? key.charCodeAt(i + 1) : 0;
      if (codePoint <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        codePoint = REPLACEMENT_CHAR;
      }
    }
    if (codePoint < 0x80) {
      hash = Math.imul(hash ^ codePoint, FNV_PRIME);
    } else if (codePoint < 0x800) {
      hash = Math.imul(hash ^ (0xc0 | (codePoint >> 6)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (codePoint & 0x3f)), FNV_PRIME);
    } else if (codePoint < 0x10000) {
      hash = Math.imul(hash ^ (0xe0 | (codePoint >> 12)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((codePoint >> 6) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (codePoint & 0x3f)), FNV_PRIME);
    } else {
      hash = Math.imul(hash ^ (0xf0 | (codePoint >> 18)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((codePoint >> 12) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((codePoint >> 6) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (codePoint & 0x3f)), FNV_PRIME);
    }
  }
  return hash >>> 0;
}

export class TtlPolicy {
  private readonly defaultMs: number;
  private readonly typeMultipliers: Map<string, number>;
  private readonly variationFactor: number;
  private readonly minMs: number;
  private readonly maxMs: number;

  constructor(options: TtlOptions = {}) {
    const defaultMs = options.defaultMs ?? DEFAULT_BASE_MS;
    if (!(Number.isFinite(defaultMs) && defaultMs > 0)) {
      throw new ConfigError('ttl.defaultMs', `must be a positive number of milliseconds, got ${defaultMs}`);
    }
    const variationFactor = options.ttlVariationFactor ?? DEFAULT_VARIATION_FACTOR;
    if (!(variationFactor >= 0 && variationFactor < 1)) {
      throw new ConfigError(
        'ttl.ttlVariationFactor',
        `must be in [0, 1) (0.1 = ±10%), got ${variationFactor}`,
      );
    }
    const minMs = options.minMs ?? DEFAULT_MIN_MS;
    if (!(Number.isSafeInteger(minMs) && minMs > 0)) {
      throw new ConfigError('ttl.minMs', `must be a positive whole number of milliseconds, got ${minMs}`);
    }
    const maxMs = options.maxMs ?? DEFAULT_MAX_MS;
    if (!(Number.isSafeInteger(maxMs) && maxMs > 0)) {
      throw new ConfigError('ttl.maxMs', `must be a positive whole number of milliseconds, got ${maxMs}`);
    }
    if (minMs > maxMs) {
      throw new ConfigError('ttl.minMs', `(${minMs}) must not exceed ttl.maxMs (${maxMs})`);
    }
    const typeMultipliers = new Map<string, number>(Object.entries(DEFAULT_TYPE_MULTIPLIERS));
    for (const [dataType, multiplier] of Object.entries(options.typeMultipliers ?? {})) {
      if (!(typeof multiplier === 'number' && Number.isFinite(multiplier) && multiplier >= 0)) {
        throw new ConfigError(
          `ttl.typeMultipliers.${dataType}`,
          `must be a finite number >= 0 (1 = the base TTL), got ${multiplier}`,
        );
      }
      typeMultipliers.set(dataType, multiplier);
    }
    this.defaultMs = defaultMs;
    this.typeMultipliers = typeMultipliers;
    this.variationFactor = variationFactor;
    this.minMs = minMs;
    this.maxMs = maxMs;
  }

  /** The TTL for one write, in whole milliseconds (or `Infinity` for an explicit never-expires). */
  ttlFor(input: TtlInput): number {
    const explicit = input.explicitTtlMs;
    if (explicit !== undefined) checkExplicitTtl(explicit);
    if (!isAdaptiveTtl(input.adaptive, input.explicitTtlMs)) return asGiven(explicit ?? this.defaultMs);
    const unclamped =
      (explicit ?? this.defaultMs) *
      this.typeMultiplier(input.dataType) *
      accessMultiplier(input.accessCount) *
      sizeMultiplier(input.sizeBytes) *
      this.variation(input.key);
    return this.clamp(unclamped);
  }

  /** The parts of `ttlFor(input)`, for explaining a TTL in docs and debugging. */
  explain(input: TtlInput): TtlExplanation {
    const explicit = input.explicitTtlMs;
    if (explicit !== undefined) checkExplicitTtl(explicit);
    const baseMs = explicit ?? this.defaultMs;
    if (!isAdaptiveTtl(input.adaptive, input.explicitTtlMs)) {
      const ttlMs = asGiven(baseMs);
      return {
        baseMs,
        typeMultiplier: 1,
        accessMultiplier: 1,
        sizeMultiplier: 1,
        variation: 1,
        unclampedMs: baseMs,
        ttlMs,
      };
    }
    const typeMultiplier = this.typeMultiplier(input.dataType);
    const access = accessMultiplier(input.accessCount);
    const size = sizeMultiplier(input.sizeBytes);
    const variation = this.variation(input.key);
    const unclampedMs = baseMs * typeMultiplier * access * size * variation;
    return {
      baseMs,
      typeMultiplier,
      accessMultiplier: access,
      sizeMultiplier: size,
      variation,
      unclampedMs,
      ttlMs: this.clamp(unclampedMs),
    };
  }

  private typeMultiplier(dataType: string | undefined): number {
    if (dataType === undefined) return 1;
    return this.typeMultipliers.get(dataType) ?? 1;
  }

  private variation(key: string): number {
    if (this.variationFactor === 0) return 1;
    const step = (keyJitterHash(key) % JITTER_STEPS) / JITTER_STEPS;
    return 1 + (step - 0.5) * 2 * this.variationFactor;
  }

  /** Into [minMs, maxMs], whole ms. NaN (an `Infinity` base times a 0 multiplier) becomes minMs. */
  private clamp(ms: number): number {
    if (!(ms > this.minMs)) return this.minMs;
    if (ms >= this.maxMs) return this.maxMs;
    return Math.round(ms);
  }
}

/** Whether `ttlFor` adapts a TTL (see TtlInput.adaptive): a caller can skip counting accesses otherwise. */
export function isAdaptiveTtl(adaptive: boolean | undefined, explicitTtlMs: number | undefined): boolean {
  return adaptive ?? explicitTtlMs === undefined;
}

/** A TTL taken as given: whole milliseconds, rounded up; `Infinity` stays. */
function asGiven(ms: number): number {
  return ms === Number.POSITIVE_INFINITY ? ms : Math.ceil(ms);
}

function checkExplicitTtl(ms: number): void {
  if (!(ms > 0)) {
    throw new KeelError(
      'INVALID_ARGUMENT',
      `ttlMs must be a positive number of milliseconds (or Infinity for no expiry), got ${ms}`,
    );
  }
}

function accessMultiplier(accessCount: number | undefined): number {
  if (accessCount === undefined) return 1;
  if (!(Number.isFinite(accessCount) && accessCount >= 0)) {
    throw new KeelError('INVALID_ARGUMENT', `accessCount must be a finite number >= 0, got ${accessCount}`);
  }
  return Math.min(ACCESS_MULTIPLIER_MAX, 1 + (accessCount / ACCESS_SCALE) * ACCESS_GAIN);
}

function sizeMultiplier(sizeBytes: number | undefined): number {
  if (sizeBytes === undefined) return 1;
  if (!(Number.isFinite(sizeBytes) && sizeBytes >= 0)) {
    throw new KeelError('INVALID_ARGUMENT', `sizeBytes must be a finite number >= 0, got ${sizeBytes}`);
  }
  if (sizeBytes === 0) return 1;
  if (sizeBytes < SMALL_LIMIT_BYTES) return SMALL_MULTIPLIER;
  if (sizeBytes < MEDIUM_LIMIT_BYTES) return MEDIUM_MULTIPLIER;
  if (sizeBytes < LARGE_LIMIT_BYTES) return LARGE_MULTIPLIER;
  return HUGE_MULTIPLIER;
}
