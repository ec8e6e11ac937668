import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Codec, type EnvelopeMeta, serializeValue } from '../../../../src/cache/codec.js';
import { isKeelError } from '../../../../src/errors.js';

const META: EnvelopeMeta = {
  createdAt: 1_700_000_000_000,
  ttlMs: 60_000,
  graceMs: 0,
  dataType: 'product',
  tags: ['a'],
};
/** Fixed header (29) + data type (7) + one tag (2 + 1). */
const PAYLOAD_START = 39;
const OFFSET_VERSION = 2;
const OFFSET_CODEC = 3;
const OFFSET_FLAGS = 4;
const OFFSET_RAW_LENGTH = 24;

const codec = new Codec({ thresholdBytes: 64 });
const small = codec.encode(serializeValue({ id: 7, name: 'small' }), META);
const KEY_HASH = 0x9e3779b9;
const keyed = codec.encode(serializeValue({ id: 7, name: 'small' }), META, { keyHash: KEY_HASH });
const compressedValue = { rows: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `row ${i % 10}` })) };
const envelopes = {
  lz4: codec.encode(serializeValue(compressedValue), META),
  brotli: new Codec({ largeThresholdBytes: 1024 }).encode(serializeValue(compressedValue), META),
  gzip: new Codec({ largeThresholdBytes: 1024, largeCodec: 'gzip' }).encode(
    serializeValue(compressedValue),
    META,
  ),
};

/** Rewrites the trailing CRC-32 so that only the deliberate change is wrong. */
function reseal(envelope: Buffer): Buffer {
  const end = envelope.byteLength - 4;
  envelope.writeUInt32BE(crc32(envelope.subarray(0, end)), end);
  return envelope;
}

function modified(envelope: Buffer, change: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(envelope);
  change(copy);
  return copy;
}

function expectDecodeFailed(run: () => unknown, message?: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(isKeelError(thrown, 'DECODE_FAILED'), `expected DECODE_FAILED, got ${String(thrown)}`).toBe(true);
  if (message) expect((thrown as Error).message).toMatch(message);
}

describe('envelope: malformed input gives DECODE_FAILED, never a crash or an untyped error', () => {
  it('the fixtures decode when intact', () => {
    expect(codec.decode(small).value).toStrictEqual({ id: 7, name: 'small' });
    for (const [name, envelope] of Object.entries(envelopes)) {
      expect(codec.decode(envelope).codec).toBe(name);
      expect(codec.decode(envelope).value).toStrictEqual(compressedValue);
    }
  });

  it('random bytes of every length up to 200', () => {
    for (let length = 0; length <= 200; length++) {
      const bytes = randomBytes(length);
      expectDecodeFailed(() => codec.decode(bytes));
    }
  });

  it('random bytes behind valid magic, version, codec and flags', () => {
    for (let i = 0; i < 500; i++) {
      const bytes = randomBytes(33 + (i % 100));
      bytes.set([0x4b, 0x4c, 1, i % 4, 0]);
      expectDecodeFailed(() => codec.decode(bytes));
    }
  });

  it('an uncompressed envelope truncated at every length, by decode and by decodeMeta', () => {
    for (let length = 0; length < small.byteLength; length++) {
      const truncated = small.subarray(0, length);
      expectDecodeFailed(() => codec.decode(truncated));
      expectDecodeFailed(() => codec.decodeMeta(truncated));
    }
  });

  it('compressed envelopes truncated at every length', () => {
    for (const envelope of Object.values(envelopes)) {
      for (let length = 0; length < envelope.byteLength; length++) {
        expectDecodeFailed(() => codec.decode(envelope.subarray(0, length)));
      }
    }
  });

  it('every single-bit flip of an envelope', () => {
    for (const envelope of [small, keyed, envelopes.lz4]) {
      for (let bit = 0; bit < envelope.byteLength * 8; bit++) {
        const flipped = modified(envelope, (copy) => {
          copy[bit >> 3]! ^= 1 << (bit & 7);
        });
        expectDecodeFailed(() => codec.decode(flipped));
      }
    }
  });

  it('a wrong magic, even with a valid checksum', () => {
    const foreign = reseal(modified(small, (copy) => copy.write('XX', 0)));
    expectDecodeFailed(() => codec.decode(foreign), /not written by Keel/);
    expectDecodeFailed(() => codec.decodeMeta(foreign), /not written by Keel/);
    expectDecodeFailed(() => codec.decode(Buffer.from('{"json":true}')), /not written by Keel/);
  });

  it('an unknown version: newer says to upgrade, older is refused', () => {
    const newer = reseal(modified(small, (copy) => (copy[OFFSET_VERSION] = 2)));
    expectDecodeFailed(() => codec.decode(newer), /newer.*upgrade/);
    expectDecodeFailed(() => codec.decodeMeta(newer), /newer/);
    const older = reseal(modified(small, (copy) => (copy[OFFSET_VERSION] = 0)));
    expectDecodeFailed(() => codec.decode(older), /unknown envelope format 0/);
  });

  it('an unknown codec id', () => {
    const unknown = reseal(modified(small, (copy) => (copy[OFFSET_CODEC] = 9)));
    expectDecodeFailed(() => codec.decode(unknown), /unknown codec id 9/);
  });

  it('flags this version does not define', () => {
    for (const flag of [0x02, 0x80, 0x03]) {
      const flagged = reseal(modified(small, (copy) => (copy[OFFSET_FLAGS] = flag)));
      expectDecodeFailed(() => codec.decode(flagged), /flags/);
    }
  });

  it('a corrupt compressed body, detected by the checksum', () => {
    for (const envelope of Object.values(envelopes)) {
      for (let at = PAYLOAD_START; at < envelope.byteLength - 4; at += 7) {
        const corrupt = modified(envelope, (copy) => {
          copy[at]! ^= 0xa5;
        });
        expectDecodeFailed(() => codec.decode(corrupt), /checksum/);
      }
    }
  });

  it('a corrupt compressed body behind a valid checksum, detected by the decompressor', () => {
    for (const [name, envelope] of Object.entries(envelopes)) {
      // Cut the compressed stream short and seal it, as a buggy writer would.
      const cut = Buffer.concat([envelope.subarray(0, envelope.byteLength - 40), Buffer.alloc(4)]);
      expectDecodeFailed(() => codec.decode(reseal(cut)), new RegExp(`${name} payload is corrupt`));
    }
  });

  it('an lz4 body whose size prefix disagrees with the raw length', () => {
    const wrongSize = reseal(
      modified(envelopes.lz4, (copy) =>
        copy.writeUInt32LE(copy.readUInt32LE(PAYLOAD_START) + 1, PAYLOAD_START),
      ),
    );
    expectDecodeFailed(() => codec.decode(wrongSize), /lz4 payload is corrupt/);
  });

  it('a raw length that the stored or decompressed payload does not match', () => {
    const none = reseal(
      modified(small, (copy) =>
        copy.writeUInt32BE(copy.readUInt32BE(OFFSET_RAW_LENGTH) + 1, OFFSET_RAW_LENGTH),
      ),
    );
    expectDecodeFailed(() => codec.decode(none), /inconsistent/);
    for (const envelope of [envelopes.brotli, envelopes.gzip]) {
      for (const delta of [-1, 1]) {
        const wrong = reseal(
          modified(envelope, (copy) =>
            copy.writeUInt32BE(copy.readUInt32BE(OFFSET_RAW_LENGTH) + delta, OFFSET_RAW_LENGTH),
          ),
        );
        expectDecodeFailed(() => codec.decode(wrong), /payload is corrupt/);
      }
    }
  });

  it('a raw length beyond 512 MiB, without allocating it', () => {
    const huge = reseal(
      modified(envelopes.brotli, (copy) => copy.writeUInt32BE(0xffffffff, OFFSET_RAW_LENGTH)),
    );
    expectDecodeFailed(() => codec.decode(huge), /out of range/);
  });

  it('a valid envelope around a payload that is not a serialized value', () => {
    const garbage = Buffer.from([0xc1, 0xc1, 0xc1]);
    const envelope = codec.encode(garbage, META);
    expectDecodeFailed(() => codec.decode(envelope), /malformed/);
  });

  it('input that is not bytes at all', () => {
    expectDecodeFailed(() => codec.decode('KL' as unknown as Uint8Array));
    expectDecodeFailed(() => codec.decodeMeta(null as unknown as Uint8Array));
  });

  it('reads a plain Uint8Array (not a Buffer) and a view at an offset', () => {
    const framed = new Uint8Array(small.byteLength + 10);
    framed.set(small, 5);
    const view = framed.subarray(5, 5 + small.byteLength);
    expect(codec.decode(view).value).toStrictEqual({ id: 7, name: 'small' });
    expect(codec.decodeMeta(view)).toStrictEqual(META);
  });
});

describe('envelope: the key hash', () => {
  it('round-trips, and costs four bytes', () => {
    expect(keyed.byteLength).toBe(small.byteLength + 4);
    expect(keyed[OFFSET_FLAGS]).toBe(0x01);
    const decoded = codec.decode(keyed, KEY_HASH);
    expect(decoded.value).toStrictEqual({ id: 7, name: 'small' });
    expect(decoded.meta).toStrictEqual(META);
    expect(codec.decodeMeta(keyed)).toStrictEqual(META);
    // a signed int32 names the same key as its unsigned form
    expect(codec.decode(keyed, KEY_HASH | 0).value).toStrictEqual({ id: 7, name: 'small' });
  });

  it('another key hash is DECODE_FAILED, counted', () => {
    const before = codec.stats.decodeErrors;
    expectDecodeFailed(() => codec.decode(keyed, KEY_HASH + 1), /written for another key/);
    expect(codec.stats.decodeErrors).toBe(before + 1);
  });

  it('an envelope without one is DECODE_FAILED when a key hash is expected, and read when none is', () => {
    expectDecodeFailed(() => codec.decode(small, KEY_HASH), /does not name the key/);
    expect(codec.decode(small).value).toStrictEqual({ id: 7, name: 'small' });
    expect(codec.decode(keyed).value).toStrictEqual({ id: 7, name: 'small' });
  });

  it('compressed envelopes carry it too', () => {
    const value = compressedValue;
    const envelope = codec.encode(serializeValue(value), META, { keyHash: 1 });
    expect(codec.decode(envelope, 1)).toMatchObject({ codec: 'lz4', value });
    expectDecodeFailed(() => codec.decode(envelope, 2), /another key/);
  });

  it('truncated inside the key hash', () => {
    for (let length = 29; length < 37; length++) {
      expectDecodeFailed(() => codec.decode(keyed.subarray(0, length), KEY_HASH));
    }
  });
});
