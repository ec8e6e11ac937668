/**
 * Compression options: the zod schema, its defaults, and the check that turns a bad option into a
 * ConfigError naming it (`compression.thresholdBytes`).
 *
 * The defaults: values under 1 KiB are not worth a compressor call (the envelope header and the
 * compressor's own framing eat most of the gain, and small values are the hot ones); lz4 up to
 * 64 KiB, where its speed matters more than its ratio; brotli at quality 4 from 64 KiB, where the
 * bytes saved in Redis memory and on the network outweigh a few hundred microseconds of CPU.
 */
import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import { MAX_RAW_BYTES } from './envelope.js';

/** Below this many serialized bytes a value is never compressed. */
export const DEFAULT_THRESHOLD_BYTES = 1024;
/** At or above this many serialized bytes the large codec is used instead of lz4. */
export const DEFAULT_LARGE_THRESHOLD_BYTES = 64 * 1024;
/** Brotli quality 4: about lz4's ratio plus a third, at a tenth of quality 11's cost per byte. */
export const DEFAULT_BROTLI_QUALITY = 4;
/** A data type whose smoothed stored/raw ratio is above this stops being compressed. */
export const DEFAULT_MIN_RATIO = 0.9;
/** When a data type is skipped, every this-many-th value of it is compressed again to re-measure. */
export const DEFAULT_PROBE_EVERY = 100;
const BROTLI_MAX_QUALITY = 11;
/** The setting names in ConfigErrors start with this, as in the manager's options. */
const SETTING_PREFIX = 'compression';

const byteCount = z.number().int().min(0).max(MAX_RAW_BYTES);

export const compressionOptionsSchema = z
  .object({
    thresholdBytes: byteCount.default(DEFAULT_THRESHOLD_BYTES),
    largeThresholdBytes: byteCount.default(DEFAULT_LARGE_THRESHOLD_BYTES),
    largeCodec: z.enum(['brotli', 'gzip']).default('brotli'),
    brotliQuality: z.number().int().min(0).max(BROTLI_MAX_QUALITY).default(DEFAULT_BROTLI_QUALITY),
    minRatio: z.number().gt(0).max(1).default(DEFAULT_MIN_RATIO),
    probeEvery: z.number().int().min(1).default(DEFAULT_PROBE_EVERY),
  })
  .strict()
  .superRefine((options, context) => {
    if (options.largeThresholdBytes < options.thresholdBytes) {
      context.addIssue({
        code: 'custom',
        path: ['largeThresholdBytes'],
        message: `must be at least thresholdBytes (${options.thresholdBytes})`,
      });
    }
  });

export interface CompressionOptions {
  /** Default 1024: below this many serialized bytes, never compress. */
  thresholdBytes?: number;
  /** Default 65536: at or above this many serialized bytes, use the large codec instead of lz4. */
  largeThresholdBytes?: number;
  /** Default 'brotli'. */
  largeCodec?: 'brotli' | 'gzip';
  /** Default 4 (0-11). */
  brotliQuality?: number;
  /** Default 0.9: a data type whose smoothed ratio (compressed/raw) is above this stops being compressed. */
  minRatio?: number;
  /** Default 100: while a type is skipped, every Nth value of it is compressed again to re-measure. */
  probeEvery?: number;
}
export type ResolvedCompressionOptions = z.output<typeof compressionOptionsSchema>;

/** Validates `options` and fills in the defaults; throws ConfigError naming the first bad setting. */
export function resolveCompressionOptions(
  options: CompressionOptions | undefined,
): ResolvedCompressionOptions {
  const result = compressionOptionsSchema.safeParse(options ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const setting = [SETTING_PREFIX, ...path.map(String)].join('.');
  throw new ConfigError(setting, issue.message);
}
