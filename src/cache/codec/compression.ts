/**
 * The compressors behind the envelope's codec ids, and their guarded inverses.
 *
 * - lz4 (lz4-napi `compressSync`, the LZ4 block format with the uncompressed size prepended as a
 *   4-byte little-endian integer): several hundred MB/s each way, for mid-size values where the
 *   cost of compressing must stay below the cost of the bytes saved.
 * - brotli (node:zlib, synchronous) for large values: quality 4 by default (quality 11 is ~50x
 *   slower for a few percent), generic mode, and the input size as a hint so the encoder sizes its
 *   window for the value instead of for an unknown stream.
 * - gzip (node:zlib, level GZIP_LEVEL) as the alternative large codec, for readers that only have
 *   zlib.
 *
 * Decompression never trusts the input to say how much memory to take. The envelope states the raw
 * length, and every decompressor is held to exactly that: zlib's `maxOutputLength` stops brotli and
 * gzip at that many bytes, and the size lz4 prepends must equal it before lz4 allocates anything. A
 * crafted or corrupt body therefore cannot make the process allocate more than the envelope's raw
 * length, which the envelope caps at MAX_RAW_BYTES.
 *
 * Errors here are plain; the Codec wraps them in KeelError DECODE_FAILED.
 *
 * References: LZ4 block format, https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md;
 * RFC 7932 (Brotli); RFC 1952 (gzip).
 */

import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { compressSync as lz4Compress, uncompressSync as lz4Uncompress } from 'lz4-napi';

export type CompressionCodec = 'none' | 'lz4' | 'brotli' | 'gzip';

/** zlib level for gzip: 6 (zlib's default) halves the speed of level 1 for ~10% smaller output on JSON-like data. */
const GZIP_LEVEL = 6;
/** Bytes of the uncompressed-size prefix lz4-napi writes before an lz4 block. */
const LZ4_SIZE_PREFIX_BYTES = 4;

/** Compresses `raw` with a real codec (never 'none'). */
export function compress(
  codec: Exclude<CompressionCodec, 'none'>,
  raw: Uint8Array,
  brotliQuality: number,
): Buffer {
  switch (codec) {
    case 'lz4':
      return lz4Compress(asBuffer(raw));
    case 'brotli':
      return brotliCompressSync(raw, {
        params: {
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
          [constants.BROTLI_PARAM_QUALITY]: brotliQuality,
          [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength,
        },
      });
    case 'gzip':
      return gzipSync(raw, { level: GZIP_LEVEL });
  }
}

/**
 * Inverts `compress` (or returns `stored` for 'none'), producing exactly `rawLength` bytes or
 * throwing.
 */
export function decompress(codec: CompressionCodec, stored: Uint8Array, rawLength: number): Uint8Array {
  let raw: Uint8Array;
  switch (codec) {
    case 'none':
      raw = stored;
      break;
    case 'lz4': {
      const view = asBuffer(stored);
      if (view.byteLength < LZ4_SIZE_PREFIX_BYTES || view.readUInt32LE(0) !== rawLength) {
        throw new Error(`the lz4 block does not announce the envelope's raw length (${rawLength} bytes)`);
      }
      raw = lz4Uncompress(view);
      break;
    }
    case 'brotli':
      raw = brotliDecompressSync(stored, { maxOutputLength: Math.max(1, rawLength) });
      break;
    case 'gzip':
      raw = gunzipSync(stored, { maxOutputLength: Math.max(1, rawLength) });
      break;
  }
  if (raw.byteLength !== rawLength) {
    throw new Error(
      `the ${codec} payload holds ${raw.byteLength} bytes where the envelope says ${rawLength}`,
    );
  }
  return raw;
}

/** A Buffer over the same memory (lz4-napi's synchronous API is typed for Buffers). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
