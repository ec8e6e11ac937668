/**
 * The Codec: turns a serialized value and its metadata into the envelope stored in Redis (and in L1
 * for large values), choosing whether and how to compress, and turns an envelope back into the
 * value.
 *
 * The parts, one job each, in codec/:
 * - serialization.ts: values to msgpackr bytes and back (`serializeValue`, `deserializeValue`).
 * - envelope.ts: the versioned binary layout, its limits and its checksum.
 * - compression.ts: lz4, brotli and gzip, with decompression held to the envelope's raw length.
 * - ratio-monitor.ts: per data type, whether compressing still pays.
 * - options.ts: the compression options' schema and defaults.
 *
 * Serializing is separate from encoding because the manager serializes once to learn a value's size
 * (for its memory budget and the TTL size bands) and only then encodes.
 *
 * The choice, per value: no compression when the Codec was built with `false`, when the caller
 * passes `compress: false` (the manager sheds compression under CPU pressure), or below
 * `thresholdBytes`; no compression when the value's data type is skipped by the ratio monitor
 * (except on its probes); otherwise lz4 below `largeThresholdBytes` and the large codec (brotli or
 * gzip) from there. The compressed form is kept only when it is smaller than the raw one; the
 * outcome feeds the monitor either way.
 *
 * Stats are plain counters mutated in place, for an exporter to read when scraped.
 */
import { KeelError } from '../errors.js';
import { type CompressionCodec, compress, decompress } from './codec/compression.js';
import { type EnvelopeMeta, readEnvelope, writeEnvelope } from './codec/envelope.js';
import {
  type CompressionOptions,
  DEFAULT_MIN_RATIO,
  DEFAULT_PROBE_EVERY,
  type ResolvedCompressionOptions,
  resolveCompressionOptions,
} from './codec/options.js';
import { type DataTypeRatio, RatioMonitor } from './codec/ratio-monitor.js';
import { deserializeValue } from './codec/serialization.js';

export type { CompressionCodec } from './codec/compression.js';
export {
  ENVELOPE_OVERHEAD_BYTES,
  ENVELOPE_VERSION,
  type EnvelopeMeta,
  MAX_DATA_TYPE_BYTES,
  MAX_RAW_BYTES,
  MAX_TAG_BYTES,
  MAX_TAGS,
  ownedCopy,
} from './codec/envelope.js';
export { type CompressionOptions, compressionOptionsSchema } from './codec/options.js';
export { type DataTypeRatio, MAX_TRACKED_DATA_TYPES, OVERFLOW_DATA_TYPE } from './codec/ratio-monitor.js';
export { deserializeValue, serializeValue } from './codec/serialization.js';

export interface DecodedEnvelope<T = unknown> {
  meta: EnvelopeMeta;
  value: T;
  /** The codec the payload was stored with. */
  codec: CompressionCodec;
  /** The envelope's size in bytes. */
  storedBytes: number;
}

/** Values stored with one codec: how many, their serialized bytes, and their stored payload bytes. */
export class CodecCounters {
  values = 0;
  rawBytes = 0;
  storedBytes = 0;
}

export class CodecStats {
  /** Encoded values by the codec their payload is stored with ('none' includes every uncompressed one). */
  readonly byCodec: Readonly<Record<CompressionCodec, CodecCounters>> = {
    none: new CodecCounters(),
    lz4: new CodecCounters(),
    brotli: new CodecCounters(),
    gzip: new CodecCounters(),
  };
  /** Values at or above the threshold stored uncompressed because the caller passed `compress: false`. */
  shedByCaller = 0;
  /** Values at or above the threshold stored uncompressed because their data type is skipped. */
  skippedByDataType = 0;
  /** Values compressed, then stored uncompressed because the compressed form was not smaller. */
  notSmaller = 0;
  /** Serialized and stored payload bytes of the values the Codec decided for (see `compressionRatio`). */
  decidedRawBytes = 0;
  decidedStoredBytes = 0;
  /** Envelopes decoded successfully, and envelopes refused with DECODE_FAILED (by decode or decodeMeta). */
  decoded = 0;
  decodeErrors = 0;
}

export class Codec {
  readonly stats = new CodecStats();
  /** Undefined when built with `false`: never compress. */
  private readonly options: ResolvedCompressionOptions | undefined;
  private readonly monitor: RatioMonitor;

  /** `false` never compresses. Throws ConfigError naming the bad option (`compression.thresholdBytes`). */
  constructor(options?: CompressionOptions | false) {
    this.options = options === false ? undefined : resolveCompressionOptions(options);
    this.monitor = new RatioMonitor(
      this.options?.minRatio ?? DEFAULT_MIN_RATIO,
      this.options?.probeEvery ?? DEFAULT_PROBE_EVERY,
    );
  }

  /**
   * Packs an already-serialized value into an envelope, compressing by size and data type. Pass
   * `owned: false` for an envelope that will not be kept (envelope.ts tells why it is cheaper), and
   * `keyHash` (a uint32 of the key's choosing) for an envelope that names its key, so that a reader
   * passing the same hash to `decode` refuses it under any other key.
   * Throws KeelError INVALID_ARGUMENT when `meta` cannot be stored (see envelope.ts for the limits).
   */
  encode(
    serialized: Uint8Array,
    meta: EnvelopeMeta,
    options?: { compress?: boolean; owned?: boolean; keyHash?: number },
  ): Buffer {
    const rawLength = serialized.byteLength;
    const settings = this.options;
    const stats = this.stats;
    let codec: CompressionCodec = 'none';
    let payload = serialized;
    let decided = false;
    if (settings !== undefined && rawLength >= settings.thresholdBytes) {
      if (options?.compress === false) stats.shedByCaller++;
      else if (!this.monitor.shouldCompress(meta.dataType)) {
        stats.skippedByDataType++;
        decided = true;
      } else {
        decided = true;
        const candidate = rawLength >= settings.largeThresholdBytes ? settings.largeCodec : 'lz4';
        const compressed = compress(candidate, serialized, settings.brotliQuality);
        this.monitor.observe(meta.dataType, rawLength, compressed.byteLength);
        if (compressed.byteLength < rawLength) {
          codec = candidate;
          payload = compressed;
        } else stats.notSmaller++;
      }
    }
    const envelope = writeEnvelope(codec, meta, rawLength, payload, options?.owned ?? true, options?.keyHash);
    const counters = stats.byCodec[codec];
    counters.values++;
    counters.rawBytes += rawLength;
    counters.storedBytes += payload.byteLength;
    if (decided) {
      stats.decidedRawBytes += rawLength;
      stats.decidedStoredBytes += payload.byteLength;
    }
    return envelope;
  }

  /**
   * Unpacks an envelope: its metadata and value. Throws KeelError DECODE_FAILED on anything
   * malformed, and, when `keyHash` is given, on an envelope that does not carry that key hash.
   */
  decode<T = unknown>(envelope: Uint8Array, keyHash?: number): DecodedEnvelope<T> {
    try {
      const header = readEnvelope(envelope, true, keyHash);
      const stored = envelope.subarray(header.payloadStart, header.payloadEnd);
      let raw: Uint8Array;
      try {
        raw = decompress(header.codec, stored, header.rawLength);
      } catch (error) {
        throw new KeelError(
          'DECODE_FAILED',
          `Not a readable cache envelope: its ${header.codec} payload is corrupt (${error instanceof Error ? error.message : String(error)}). Treat it as a miss and drop it.`,
          { cause: error },
        );
      }
      const value = deserializeValue<T>(raw);
      this.stats.decoded++;
      return { meta: header.meta, value, codec: header.codec, storedBytes: envelope.byteLength };
    } catch (error) {
      this.stats.decodeErrors++;
      throw error;
    }
  }

  /**
   * Reads only the header: no checksum, no decompression. Structural checks only, so use it as a
   * cheap pre-filter (is it expired?) and rely on `decode` for the value. DECODE_FAILED if malformed.
   */
  decodeMeta(envelope: Uint8Array): EnvelopeMeta {
    try {
      return readEnvelope(envelope, false).meta;
    } catch (error) {
      this.stats.decodeErrors++;
      throw error;
    }
  }

  /** Stored/raw payload bytes over the values the Codec decided for (at or above the threshold, not shed); 1 when none. */
  compressionRatio(): number {
    const { decidedRawBytes, decidedStoredBytes } = this.stats;
    return decidedRawBytes === 0 ? 1 : decidedStoredBytes / decidedRawBytes;
  }

  /** The data types whose values are currently stored uncompressed because they do not shrink. */
  skippedDataTypes(): string[] {
    return this.monitor.skippedDataTypes();
  }

  /** Each tracked data type's smoothed ratio, sample count and skipped state. */
  dataTypeRatios(): DataTypeRatio[] {
    return this.monitor.snapshot();
  }
}
