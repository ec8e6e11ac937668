/**
 * Per-data-type compression ratio monitor: stops compressing the kinds of values that do not
 * shrink, and keeps checking whether they still don't.
 *
 * Some data types never compress — JPEG or PNG bytes, random tokens, values that are already
 * compressed — and compressing them is pure CPU cost. The monitor keeps, per data type, an
 * exponentially weighted moving average of the ratio stored/raw of the values that went through a
 * compressor. Once a type has WARMUP_SAMPLES observations and its average is above `minRatio`, the
 * type is skipped: its values are stored uncompressed. Every `probeEvery`-th value of a skipped type
 * is compressed anyway (a probe) and feeds the average, so a type whose values become compressible
 * resumes; a compressible type simply keeps compressing.
 *
 * Why an EWMA and a count-based probe: the average needs one number per type and follows a type
 * whose data changes, with SMOOTHING setting how fast (a weight of 0.25 lets one probe that halves
 * the data pull an average of 1.0 down to 0.875, under the default 0.9, so a type resumes on its
 * first good probe). Counting values instead of reading a clock keeps the hot path free of clock
 * calls, and makes the probe cost a fixed fraction (1/probeEvery) of a skipped type's values.
 *
 * The map is bounded: data types are chosen by the application, and a bug that derives them from
 * keys or ids must not grow memory without bound. The first MAX_TRACKED_DATA_TYPES types get their
 * own entry; later ones share one overflow entry, reported as OVERFLOW_DATA_TYPE. Entries are never
 * removed, so a type keeps its history.
 */

/** Most data types with an entry of their own. */
export const MAX_TRACKED_DATA_TYPES = 256;
/** The name under which types beyond MAX_TRACKED_DATA_TYPES are reported, together. */
export const OVERFLOW_DATA_TYPE = '(other)';
/** Observations before a type may be skipped: one odd value must not switch compression off. */
const WARMUP_SAMPLES = 5;
/** Weight of the newest observation in the moving average. */
const SMOOTHING = 0.25;

/** One data type's compression record, as `snapshot()` reports it. */
export interface DataTypeRatio {
  dataType: string;
  /** Smoothed stored/raw ratio of the values that were compressed (1 = no gain). */
  ratio: number;
  /** Values that went through a compressor. */
  samples: number;
  /** True while the type's values are stored uncompressed, except for probes. */
  skipped: boolean;
}

class TypeEntry {
  ratio = 1;
  samples = 0;
  skipped = false;
  /** Values of this type stored uncompressed since it was skipped or last probed. */
  sinceProbe = 0;

  constructor(readonly dataType: string) {}
}

export class RatioMonitor {
  private readonly entries = new Map<string, TypeEntry>();
  private readonly overflow = new TypeEntry(OVERFLOW_DATA_TYPE);

  constructor(
    private readonly minRatio: number,
    private readonly probeEvery: number,
  ) {}

  /** Whether the next value of `dataType` should be compressed: false while skipped, except on probes. */
  shouldCompress(dataType: string): boolean {
    const entry = this.entryFor(dataType);
    if (!entry.skipped) return true;
    entry.sinceProbe++;
    if (entry.sinceProbe < this.probeEvery) return false;
    entry.sinceProbe = 0;
    return true;
  }

  /** Records the outcome of compressing a value of `dataType`: `rawBytes` in, `compressedBytes` out. */
  observe(dataType: string, rawBytes: number, compressedBytes: number): void {
    const entry = this.entryFor(dataType);
    const ratio = compressedBytes / rawBytes;
    entry.ratio = entry.samples === 0 ? ratio : entry.ratio + SMOOTHING * (ratio - entry.ratio);
    entry.samples++;
    entry.skipped = entry.samples >= WARMUP_SAMPLES && entry.ratio > this.minRatio;
  }

  /** The data types currently skipped. */
  skippedDataTypes(): string[] {
    const skipped: string[] = [];
    for (const entry of this.allEntries()) if (entry.skipped) skipped.push(entry.dataType);
    return skipped;
  }

  /** Every tracked type's record (the overflow entry last, once used). */
  snapshot(): DataTypeRatio[] {
    return this.allEntries().map(({ dataType, ratio, samples, skipped }) => ({
      dataType,
      ratio,
      samples,
      skipped,
    }));
  }

  private entryFor(dataType: string): TypeEntry {
    let entry = this.entries.get(dataType);
    if (entry === undefined) {
      if (this.entries.size >= MAX_TRACKED_DATA_TYPES) return this.overflow;
      entry = new TypeEntry(dataType);
      this.entries.set(dataType, entry);
    }
    return entry;
  }

  private allEntries(): TypeEntry[] {
    const all = [...this.entries.values()];
    if (this.overflow.samples > 0) all.push(this.overflow);
    return all;
  }
}
