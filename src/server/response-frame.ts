/**
 * The bytes the gateway caches for a URL: a stored response or a Vary marker (stored-response.ts)
 * packed into one buffer of its own.
 *
 * Why a frame and not the object: the cache holds a Buffer value as it is (one allocation, charged
 * its length plus a buffer's overhead), so the L1 budget counts the memory really held, where a
 * live object graph of headers would weigh several times its serialized size. A hit reads the
 * frame in about a microsecond (the body is a view into it, never copied), against several for a
 * generic MessagePack decode of the same object. Redis stores the frame as a binary value.
 *
 * Layout (integers big-endian, strings latin1 as HTTP header bytes are):
 *
 *   response  u8 kind = 1, u8 flags (bit 0: stale forbidden), u16 status,
 *             f64 storedAt, f64 initialAgeMs, f64 freshUntil, f64 staleUntil,
 *             u8 header count, per header u16 name length + name, u16 value length + value,
 *             then the body to the end
 *   vary      u8 kind = 2, u8 name count, per name u8 length + name
 *
 * A frame this version cannot read (another kind, truncated) unpacks to `undefined`: a miss.
 * The validators (ETag, Last-Modified) are read back from the headers.
 */
import type { CachedValue, StoredResponse } from './stored-response.js';

const KIND_RESPONSE = 1;
const KIND_VARY = 2;
const FLAG_FORBIDS_STALE = 1;
/** kind, flags, status, four f64 times, header count. */
const RESPONSE_FIXED_BYTES = 1 + 1 + 2 + 4 * 8 + 1;
const MAX_HEADERS = 255;
const MAX_STRING_BYTES = 0xffff;
const MAX_VARY_NAME_BYTES = 0xff;

/**
 * Packs a value the gateway caches; `undefined` when no frame can hold it (more than 255 headers
 * or Vary names, a header over 64 KiB, a Vary name over 255 characters): it is then served and not
 * stored. Origins' header limits (16 KiB in Node and undici) keep real answers far below these.
 */
export function packCached(value: CachedValue): Buffer | undefined {
  return value.kind === 'vary' ? packVary(value.names) : packResponse(value);
}

/** The value a frame holds, or `undefined` when it is not a frame this version reads. */
export function unpackCached(frame: unknown): CachedValue | undefined {
  if (!Buffer.isBuffer(frame) || frame.byteLength < 2) return undefined;
  try {
    if (frame[0] === KIND_RESPONSE) return unpackResponse(frame);
    if (frame[0] === KIND_VARY) return unpackVary(frame);
  } catch (error) {
    if (error instanceof RangeError) return undefined; // truncated: a read past the end
    throw error;
  }
  return undefined;
}

function packResponse(stored: StoredResponse): Buffer | undefined {
  const { headers } = stored;
  if (headers.length > MAX_HEADERS) return undefined;
  if (headers.some(([name, value]) => name.length > MAX_STRING_BYTES || value.length > MAX_STRING_BYTES))
    return undefined;
  let size = RESPONSE_FIXED_BYTES + stored.body.byteLength;
  for (const [name, value] of headers) size += 4 + name.length + value.length; // latin1: a byte a character
  // A buffer of its own, not a slice of Node's shared pool: the cache keeps it (envelope.ts).
  const frame = Buffer.allocUnsafeSlow(size);
  let at = frame.writeUInt8(KIND_RESPONSE, 0);
  at = frame.writeUInt8(stored.forbidsStale ? FLAG_FORBIDS_STALE : 0, at);
  at = frame.writeUInt16BE(stored.status, at);
  at = frame.writeDoubleBE(stored.storedAt, at);
  at = frame.writeDoubleBE(stored.initialAgeMs, at);
  at = frame.writeDoubleBE(stored.freshUntil, at);
  at = frame.writeDoubleBE(stored.staleUntil, at);
  at = frame.writeUInt8(headers.length, at);
  for (const [name, value] of headers) {
    at = writeString16(frame, name, at);
    at = writeString16(frame, value, at);
  }
  frame.set(stored.body, at);
  return frame;
}

function unpackResponse(frame: Buffer): StoredResponse {
  const flags = frame.readUInt8(1);
  const status = frame.readUInt16BE(2);
  const storedAt = frame.readDoubleBE(4);
  const initialAgeMs = frame.readDoubleBE(12);
  const freshUntil = frame.readDoubleBE(20);
  const staleUntil = frame.readDoubleBE(28);
  const count = frame.readUInt8(36);
  const headers: [string, string][] = new Array(count);
  let etag: string | undefined;
  let lastModified: string | undefined;
  let at = RESPONSE_FIXED_BYTES;
  for (let i = 0; i < count; i++) {
    const name = readString16(frame, at);
    at += 2 + name.length;
    const value = readString16(frame, at);
    at += 2 + value.length;
    headers[i] = [name, value];
    if (name === 'etag') etag ??= value;
    else if (name === 'last-modified') lastModified ??= value;
  }
  if (at > frame.byteLength) throw new RangeError('frame truncated');
  return {
    kind: 'response',
    status,
    headers,
    body: frame.subarray(at),
    storedAt,
    initialAgeMs,
    freshUntil,
    staleUntil,
    forbidsStale: (flags & FLAG_FORBIDS_STALE) !== 0,
    etag,
    lastModified,
  };
}

function packVary(names: readonly string[]): Buffer | undefined {
  if (names.length > MAX_HEADERS || names.some((name) => name.length > MAX_VARY_NAME_BYTES)) return undefined;
  let size = 2;
  for (const name of names) size += 1 + name.length;
  const frame = Buffer.allocUnsafeSlow(size);
  let at = frame.writeUInt8(KIND_VARY, 0);
  at = frame.writeUInt8(names.length, at);
  for (const name of names) {
    at = frame.writeUInt8(name.length, at);
    at += frame.write(name, at, 'latin1');
  }
  return frame;
}

function unpackVary(frame: Buffer): CachedValue {
  const count = frame.readUInt8(1);
  const names: string[] = new Array(count);
  let at = 2;
  for (let i = 0; i < count; i++) {
    const length = frame.readUInt8(at);
    if (at + 1 + length > frame.byteLength) throw new RangeError('frame truncated');
    names[i] = frame.toString('latin1', at + 1, at + 1 + length);
    at += 1 + length;
  }
  return { kind: 'vary', names };
}

function writeString16(frame: Buffer, text: string, at: number): number {
  const next = frame.writeUInt16BE(text.length, at);
  return next + frame.write(text, next, 'latin1');
}

function readString16(frame: Buffer, at: number): string {
  const length = frame.readUInt16BE(at);
  if (at + 2 + length > frame.byteLength) throw new RangeError('frame truncated');
  return frame.toString('latin1', at + 2, at + 2 + length);
}
