import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RatioMonitor } from '../../../../src/cache/codec/ratio-monitor.js';
import {
  Codec,
  type EnvelopeMeta,
  MAX_TRACKED_DATA_TYPES,
  OVERFLOW_DATA_TYPE,
  serializeValue,
} from '../../../../src/cache/codec.js';

const meta = (dataType: string): EnvelopeMeta => ({
  createdAt: 0,
  ttlMs: 1000,
  graceMs: 0,
  dataType,
  tags: [],
});
/** Incompressible: what JPEG bytes or random tokens look like to a compressor. */
const randomValue = () => serializeValue(randomBytes(4096));
const compressibleValue = () => serializeValue({ text: 'abc '.repeat(2000) });
const ratioOf = (codec: Codec, dataType: string) =>
  codec.dataTypeRatios().find((r) => r.dataType === dataType);

describe('ratio monitor through the Codec', () => {
  it('skips an incompressible type after the warm-up, probes it every probeEvery-th value, keeps compressing the rest', () => {
    const codec = new Codec({ probeEvery: 10 });
    for (let i = 0; i < 5; i++) {
      codec.encode(randomValue(), meta('image'));
      codec.encode(compressibleValue(), meta('page'));
    }
    expect(codec.skippedDataTypes()).toStrictEqual(['image']);
    expect(ratioOf(codec, 'image')).toMatchObject({ samples: 5, skipped: true });
    expect(ratioOf(codec, 'image')!.ratio).toBeGreaterThan(0.9);
    expect(ratioOf(codec, 'page')!.ratio).toBeLessThan(0.1);

    // The next nine images are stored without trying; the tenth is a probe.
    for (let i = 0; i < 9; i++) codec.encode(randomValue(), meta('image'));
    expect(codec.stats.skippedByDataType).toBe(9);
    expect(ratioOf(codec, 'image')!.samples).toBe(5);
    codec.encode(randomValue(), meta('image'));
    expect(ratioOf(codec, 'image')!.samples).toBe(6);
    expect(codec.skippedDataTypes()).toStrictEqual(['image']);

    // The compressible type was never skipped and is stored with lz4.
    const envelope = codec.encode(compressibleValue(), meta('page'));
    expect(codec.decode(envelope).codec).toBe('lz4');
  });

  it('resumes a skipped type on a probe that shows its values now compress', () => {
    const codec = new Codec({ probeEvery: 3 });
    for (let i = 0; i < 5; i++) codec.encode(randomValue(), meta('blob'));
    expect(codec.skippedDataTypes()).toStrictEqual(['blob']);
    const first = codec.encode(compressibleValue(), meta('blob'));
    const second = codec.encode(compressibleValue(), meta('blob'));
    expect(codec.decode(first).codec).toBe('none');
    expect(codec.decode(second).codec).toBe('none');
    const probe = codec.encode(compressibleValue(), meta('blob'));
    expect(codec.decode(probe).codec).toBe('lz4');
    expect(codec.skippedDataTypes()).toStrictEqual([]);
    expect(codec.decode(codec.encode(compressibleValue(), meta('blob'))).codec).toBe('lz4');
  });

  it('does not count values below the threshold or shed by the caller', () => {
    const codec = new Codec();
    codec.encode(serializeValue('tiny'), meta('image'));
    for (let i = 0; i < 10; i++) codec.encode(randomValue(), meta('image'), { compress: false });
    expect(codec.dataTypeRatios()).toStrictEqual([]);
  });
});

describe('RatioMonitor', () => {
  it('needs the warm-up samples before skipping', () => {
    const monitor = new RatioMonitor(0.9, 100);
    for (let i = 0; i < 4; i++) monitor.observe('t', 100, 100);
    expect(monitor.skippedDataTypes()).toStrictEqual([]);
    monitor.observe('t', 100, 100);
    expect(monitor.skippedDataTypes()).toStrictEqual(['t']);
  });

  it('smooths: one good value among bad ones does not resume a type whose data mostly does not compress', () => {
    const monitor = new RatioMonitor(0.9, 1);
    for (let i = 0; i < 5; i++) monitor.observe('t', 100, 101);
    monitor.observe('t', 100, 80);
    expect(monitor.snapshot()[0]!.ratio).toBeGreaterThan(0.9);
    expect(monitor.skippedDataTypes()).toStrictEqual(['t']);
  });

  it('honours minRatio', () => {
    const monitor = new RatioMonitor(0.5, 100);
    for (let i = 0; i < 5; i++) {
      monitor.observe('half', 100, 50);
      monitor.observe('more', 100, 60);
    }
    expect(monitor.skippedDataTypes()).toStrictEqual(['more']);
  });

  it('bounds the number of tracked types; the rest share one entry', () => {
    const monitor = new RatioMonitor(0.9, 100);
    for (let i = 0; i < MAX_TRACKED_DATA_TYPES + 50; i++) monitor.observe(`type-${i}`, 100, 100);
    const snapshot = monitor.snapshot();
    expect(snapshot).toHaveLength(MAX_TRACKED_DATA_TYPES + 1);
    expect(snapshot.at(-1)).toMatchObject({ dataType: OVERFLOW_DATA_TYPE, samples: 50, skipped: true });
    expect(monitor.skippedDataTypes()).toStrictEqual([OVERFLOW_DATA_TYPE]);
    expect(monitor.shouldCompress(`type-${MAX_TRACKED_DATA_TYPES + 60}`)).toBe(false);
    expect(monitor.shouldCompress('type-0')).toBe(true);
  });
});
