/**
 * Trace readers: the parsing rules of the shared traces' README, streamed into dense key ids.
 *
 * Formats (README "Formats"; the same rules as Caffeine's simulator parsers):
 * - `arc`: text lines `start_block num_blocks ignore request_no`; the line accesses the blocks
 *   start … start+num-1, one key each, in order (Caffeine `ArcTraceReader`; this expansion gives the
 *   request counts of Table III of the ARC paper).
 * - `lirs`: one non-negative integer key per line; `*` lines (the LIRS simulator's checkpoint
 *   markers) and empty lines are skipped, a trailing `\r` is trimmed (Caffeine `LirsTraceReader`).
 * - `corda`: big-endian signed 64-bit integers, no header (Java `DataInputStream.readLong`). Keys
 *   use the full 64 bits, beyond a double's 53, so they stay `bigint`.
 * - `cache2k`: big-endian signed 32-bit integers, no header (`DataInputStream.readInt`).
 * A line or a byte count that breaks these rules is an error naming the file and line: a trace
 * silently parsed another way would give plausible but wrong hit ratios.
 *
 * Dense ids. Each distinct key becomes the id 0, 1, 2, … in order of first appearance, and a trace
 * is an Int32Array of ids. The policies then index typed arrays by id instead of hashing keys,
 * and the 13 M accesses of P12 take 53 MB instead of a JS array of boxed numbers.
 */
import { basename } from 'node:path';
import type { TraceFormat } from './catalog.js';
import { decompressedChunks } from './decompress.js';

/** A trace as dense ids: `ids[i]` is the key of access i, and every id is below `unique`. */
export interface DenseTrace {
  ids: Int32Array;
  unique: number;
}

/** Initial capacity of the id array when the caller gives no hint; it doubles as needed. */
const DEFAULT_CAPACITY = 1 << 16;

/** Maps keys to dense ids in order of first appearance and appends them to a growing Int32Array. */
class DenseTraceBuilder {
  private readonly idOf = new Map<number | bigint, number>();
  private ids: Int32Array;
  private length = 0;

  constructor(expectedAccesses: number) {
    this.ids = new Int32Array(Math.max(1, expectedAccesses));
  }

  add(key: number | bigint): void {
    let id = this.idOf.get(key);
    if (id === undefined) {
      id = this.idOf.size;
      this.idOf.set(key, id);
    }
    if (this.length === this.ids.length) {
      const grown = new Int32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.length++] = id;
  }

  finish(): DenseTrace {
    const ids = this.length === this.ids.length ? this.ids : this.ids.slice(0, this.length);
    return { ids, unique: this.idOf.size };
  }
}

/**
 * Reads a compressed trace file into dense ids. `expectedAccesses` only sizes the first buffer
 * (the catalog knows it), so a right guess parses without a copy.
 */
export async function readTrace(
  path: string,
  format: TraceFormat,
  expectedAccesses = DEFAULT_CAPACITY,
): Promise<DenseTrace> {
  const builder = new DenseTraceBuilder(expectedAccesses);
  const chunks = decompressedChunks(path);
  const file = basename(path);
  switch (format) {
    case 'arc':
      await parseArc(chunks, file, builder);
      break;
    case 'lirs':
      await parseLirs(chunks, file, builder);
      break;
    case 'corda':
      await parseBigEndian(chunks, file, 8, (bytes, at) => builder.add(bytes.readBigInt64BE(at)));
      break;
    case 'cache2k':
      await parseBigEndian(chunks, file, 4, (bytes, at) => builder.add(bytes.readInt32BE(at)));
      break;
  }
  return builder.finish();
}

/** A non-negative integer field, or an error that names the file and line. */
function nonNegativeInteger(field: string, file: string, lineNo: number): number {
  const value = /^\d+$/.test(field) ? Number(field) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new Error(`${file}:${lineNo}: expected a non-negative integer`);
  return value;
}

async function parseArc(chunks: AsyncIterable<Buffer>, file: string, builder: DenseTraceBuilder) {
  let lineNo = 0;
  for await (const line of lines(chunks)) {
    lineNo++;
    const fields = line.split(' ');
    if (fields.length !== 4) {
      throw new Error(
        `${file}:${lineNo}: expected "start_block num_blocks ignore request_no", got "${line}"`,
      );
    }
    const start = nonNegativeInteger(fields[0], file, lineNo);
    const end = start + nonNegativeInteger(fields[1], file, lineNo);
    for (let block = start; block < end; block++) builder.add(block);
  }
}

async function parseLirs(chunks: AsyncIterable<Buffer>, file: string, builder: DenseTraceBuilder) {
  let lineNo = 0;
  for await (const line of lines(chunks)) {
    lineNo++;
    if (line === '' || line === '*') continue;
    builder.add(nonNegativeInteger(line, file, lineNo));
  }
}

/** The lines of ASCII text chunks, without their `\n` or `\r\n`; a last unterminated line is kept. */
async function* lines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let pending = '';
  for await (const chunk of chunks) {
    const parts = (pending + chunk.toString('latin1')).split('\n');
    pending = parts.pop()!;
    for (const part of parts) yield part.endsWith('\r') ? part.slice(0, -1) : part;
  }
  if (pending !== '') yield pending.endsWith('\r') ? pending.slice(0, -1) : pending;
}

/** Calls `read` at every `width`-byte record of the stream, carrying a split record to the next chunk. */
async function parseBigEndian(
  chunks: AsyncIterable<Buffer>,
  file: string,
  width: number,
  read: (bytes: Buffer, at: number) => void,
) {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    const whole = bytes.length - (bytes.length % width);
    for (let at = 0; at < whole; at += width) read(bytes, at);
    carry = bytes.subarray(whole);
  }
  if (carry.length !== 0) {
    throw new Error(`${file}: ${carry.length} trailing bytes; the length must be a multiple of ${width}`);
  }
}
