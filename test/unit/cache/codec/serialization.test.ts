import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deserializeValue, serializeValue } from '../../../../src/cache/codec.js';
import { isKeelError } from '../../../../src/errors.js';

const roundTrip = <T>(value: T): T => deserializeValue<T>(serializeValue(value));

function expectCode(run: () => unknown, code: 'SERIALIZATION_FAILED' | 'DECODE_FAILED'): Error {
  try {
    run();
  } catch (error) {
    expect(isKeelError(error, code)).toBe(true);
    return error as Error;
  }
  throw new Error(`expected ${code}`);
}

describe('serializeValue / deserializeValue', () => {
  it.each([
    ['a plain object', { a: 1, b: 'two', c: [true, false, null], d: { e: -1.5 } }],
    ['an array', [1, 'x', null, true, { y: 2 }]],
    ['an empty string', ''],
    ['unicode', 'héllo wörld 🌍 日本語 \u0000 \uFFFD'],
    ['numbers', [0, -1, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, Number.MAX_VALUE, Number.MIN_VALUE]],
    ['NaN and infinities', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]],
    ['booleans and null', [true, false, null]],
    ['a Date', new Date(1_700_000_000_123)],
    ['a Date inside an array', [1, new Date(1_700_000_000_000), new Date(-86_400_000), 'x']],
    ['a Date before 1970 and far ahead', [new Date(-1e12), new Date(8.64e15)]],
    ['an invalid Date', new Date(Number.NaN)],
    [
      'a Map with mixed keys',
      new Map<unknown, unknown>([
        [1, 'a'],
        ['x', { y: 2 }],
        [true, null],
      ]),
    ],
    ['a nested Map in an object', { outer: { map: new Map([['k', new Map([['deep', [1, 2]]])]]) } }],
    ['an empty Map and an empty object side by side', { m: new Map(), o: {} }],
    ['a Set', new Set([1, 'a', null])],
    ['BigInts', [0n, 1n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 200n, -(2n ** 130n)]],
    ['a Uint8Array', new Uint8Array([0, 1, 254, 255])],
    ['a Buffer', Buffer.from('bytes ✓')],
    ['an empty Buffer', Buffer.alloc(0)],
    ['a Float64Array', new Float64Array([1.5, -2.25])],
    ['undefined at the top level', undefined],
    ['undefined in an object and an array', { a: undefined, b: [undefined, 1, undefined] }],
    ['a RegExp', /ab+c/gi],
    [
      'a large array',
      Array.from({ length: 50_000 }, (_, i) => ({ id: i, name: `item ${i}`, even: i % 2 === 0 })),
    ],
    ['a deeply nested array', JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`)],
  ])('round-trips %s exactly', (_name, value) => {
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it('keeps plain objects and Maps apart, and Buffers apart from Uint8Arrays', () => {
    const out = roundTrip({
      o: { k: 1 },
      m: new Map([['k', 1]]),
      b: Buffer.from([1]),
      u: new Uint8Array([1]),
    });
    expect(Object.getPrototypeOf(out.o)).toBe(Object.prototype);
    expect(out.m).toBeInstanceOf(Map);
    expect(Buffer.isBuffer(out.b)).toBe(true);
    expect(Buffer.isBuffer(out.u)).toBe(false);
    expect(out.u).toBeInstanceOf(Uint8Array);
  });

  it('keeps the name, message and cause of an Error', () => {
    const out = roundTrip(new TypeError('bad', { cause: 'why' }));
    expect(out).toBeInstanceOf(TypeError);
    expect(out.message).toBe('bad');
    expect(out.cause).toBe('why');
  });

  it('gives back a Buffer that does not share memory with the serialized bytes', () => {
    const bytes = serializeValue({ b: Buffer.from([1, 2, 3]) });
    const out = deserializeValue<{ b: Buffer }>(bytes);
    out.b[0] = 99;
    expect(deserializeValue<{ b: Buffer }>(bytes).b[0]).toBe(1);
  });

  it('turns a class instance into a plain object of its own enumerable properties', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      norm(): number {
        return Math.hypot(this.x, this.y);
      }
    }
    const out = roundTrip(new Point(3, 4));
    expect(out).toStrictEqual({ x: 3, y: 4 });
  });

  it('writes each message self-contained: another process decodes it with no shared state', () => {
    // Serialize several values of the same and of different shapes, so a later message could only
    // be decoded with state from an earlier one if records were shared.
    const values = [
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
      [{ a: 3, b: 'z' }, { c: new Map([[1, { a: 4, b: 'w' }]]) }],
    ];
    const messages = values.map((value) => Buffer.from(serializeValue(value)).toString('base64'));
    const module = fileURLToPath(new URL('../../../../src/cache/codec.ts', import.meta.url));
    const script = `
      const { deserializeValue } = await import(${JSON.stringify(module)});
      const out = ${JSON.stringify(messages)}.reverse().map((m) => deserializeValue(Buffer.from(m, 'base64')));
      const replace = (_k, v) => (v instanceof Map ? { map: [...v] } : v);
      process.stdout.write(JSON.stringify(out.reverse(), replace));
    `;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(JSON.parse(output)).toStrictEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
      [{ a: 3, b: 'z' }, { c: { map: [[1, { a: 4, b: 'w' }]] } }],
    ]);
  });

  describe('refuses what it cannot keep, with SERIALIZATION_FAILED', () => {
    it.each([
      ['a function', () => 1],
      ['a function inside an object', { a: 1, onChange: () => undefined }],
      ['a function inside a Map', new Map([['f', () => 1]])],
      ['a symbol', Symbol('s')],
      ['a symbol inside an array', [1, Symbol('s')]],
      ['a Promise (a missing await)', Promise.resolve(1)],
    ])('%s', (_name, value) => {
      const error = expectCode(() => serializeValue(value), 'SERIALIZATION_FAILED');
      expect(error.message).toMatch(/cache|serialize/i);
    });

    it('a cycle, with a message that names it and the underlying error as cause', () => {
      const node: { name: string; self?: unknown } = { name: 'loop' };
      node.self = node;
      const error = expectCode(() => serializeValue(node), 'SERIALIZATION_FAILED');
      expect(error.message).toMatch(/cycle/);
      expect(error.cause).toBeInstanceOf(RangeError);
    });

    it('and serializes correctly right after a failure', () => {
      expectCode(() => serializeValue({ f: () => 1 }), 'SERIALIZATION_FAILED');
      expect(roundTrip({ ok: [1, 2, 3] })).toStrictEqual({ ok: [1, 2, 3] });
    });
  });

  describe('refuses malformed bytes with DECODE_FAILED', () => {
    it('empty input', () => {
      expectCode(() => deserializeValue(new Uint8Array(0)), 'DECODE_FAILED');
    });

    it('truncated input, at every length', () => {
      const bytes = serializeValue({ list: [1, 2, 3], text: 'hello', when: new Date(0) });
      for (let length = 1; length < bytes.byteLength; length++) {
        expectCode(() => deserializeValue(bytes.subarray(0, length)), 'DECODE_FAILED');
      }
    });

    it('trailing bytes after a value', () => {
      const bytes = Buffer.concat([serializeValue({ a: 1 }), Buffer.from([0x01])]);
      expectCode(() => deserializeValue(bytes), 'DECODE_FAILED');
    });
  });
});
