/**
 * Value serialization: JavaScript values to MessagePack bytes and back, with msgpackr.
 *
 * What round-trips exactly: plain objects, arrays, strings, numbers (NaN, ±Infinity; -0 becomes 0),
 * booleans, null, `undefined` (top level, in objects and in arrays), Dates (ms precision, invalid
 * Dates too), Maps (any key type, including objects), Sets, BigInts of any size, Buffers (back as
 * Buffer), Uint8Arrays and the other typed arrays (back as their own class), ArrayBuffers, RegExps,
 * and Errors (name, message, cause; not the stack).
 *
 * Why these Packr options:
 * - `useRecords: true` with no shared structures. Plain objects and Maps must come back as what they
 *   were, and a standard MessagePack map cannot say which one it was: with `useRecords: false` a
 *   decoder must turn every map into an object (losing Maps) or into a Map (losing objects).
 *   msgpackr's record extension encodes objects as records and Maps as maps. Because no
 *   `structures` are shared, each message carries the record definitions it uses inline, so
 *   any process with msgpackr and these options decodes it alone (the tests decode every message
 *   with a fresh Unpackr). Measured on arrays of 40 and 1,500 six-field objects, records are half
 *   the bytes of plain maps and decode 2-3x faster; records also leave no per-shape state behind
 *   (300,000 distinct shapes packed grew the heap by 0.2 MB).
 * - `moreTypes: true`: Sets, typed arrays, Errors, RegExps and large BigInts get msgpackr's
 *   extensions.
 * - `copyBuffers: true`: a decoded Buffer or Uint8Array owns its memory instead of being a view into
 *   the envelope, so mutating it cannot corrupt what a cache holds.
 * - `writeFunction` throws: by default msgpackr encodes a function as `undefined`, which would lose
 *   it silently. Throwing from msgpackr's own hook costs nothing on values without functions.
 * - No `structuredClone`: it preserves shared references and cycles but tracks every object in a
 *   Map while packing (3x slower packing on 1,500 objects). A cyclic value is rejected instead
 *   (msgpackr recurses until the stack overflows; the RangeError becomes SERIALIZATION_FAILED).
 *
 * What is refused with SERIALIZATION_FAILED: functions (anywhere), symbols as values, cycles, and a
 * Promise at the top level (almost always a missing `await`).
 *
 * What is accepted but changes shape, as with `structuredClone()` and JSON: an instance of a class
 * comes back as a plain object of its own enumerable properties (its prototype and methods are not
 * data); objects with no data of their own (a nested Promise, a WeakMap) come back as `{}`;
 * symbol-keyed properties are not written; an own `__proto__` key is renamed by msgpackr's
 * prototype-pollution guard. Refusing these would need either a walk over every object of every value
 * (the cost this module avoids) or a msgpackr extension, and msgpackr extensions are process-global:
 * registering one would change how every other msgpackr user in the process encodes objects.
 *
 * The bytes `serializeValue` returns may be a view into a larger buffer msgpackr allocated for many
 * values: measure them with `byteLength`, and copy them (`Uint8Array.prototype.slice`) before keeping
 * them for long, or they keep that whole buffer alive. `Codec.encode` copies them into the envelope.
 *
 * Reference: MessagePack specification, https://github.com/msgpack/msgpack/blob/master/spec.md;
 * msgpackr README (records, moreTypes, copyBuffers).
 */
import { Packr } from 'msgpackr';
import { KeelError } from '../../errors.js';

const packr = new Packr({
  useRecords: true,
  moreTypes: true,
  copyBuffers: true,
  writeFunction: rejectFunction,
});

function rejectFunction(): never {
  throw new TypeError('a function cannot be cached; cache the data it produces');
}

/** Serializes `value` with msgpackr. Throws KeelError SERIALIZATION_FAILED (with `cause`). */
export function serializeValue(value: unknown): Uint8Array {
  if (value instanceof Promise) {
    throw new KeelError(
      'SERIALIZATION_FAILED',
      'Cannot cache a Promise: await it and cache the result it resolves to.',
    );
  }
  try {
    return packr.pack(value);
  } catch (error) {
    throw new KeelError('SERIALIZATION_FAILED', `Cannot serialize the value: ${serializeFailure(error)}.`, {
      cause: error,
    });
  }
}

/** Deserializes bytes written by `serializeValue`. Throws KeelError DECODE_FAILED (with `cause`). */
export function deserializeValue<T = unknown>(bytes: Uint8Array): T {
  if (bytes.byteLength === 0) {
    throw new KeelError('DECODE_FAILED', 'Cannot decode a value from zero bytes; drop the entry.');
  }
  try {
    return packr.unpack(bytes) as T;
  } catch (error) {
    throw new KeelError(
      'DECODE_FAILED',
      `The serialized value is malformed; drop the entry (${message(error)}).`,
      {
        cause: error,
      },
    );
  }
}

function serializeFailure(error: unknown): string {
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return 'it contains a cycle (a reference back to itself) or is nested too deeply';
  }
  return message(error);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
