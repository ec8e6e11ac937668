/**
 * A disk cache of parsed traces, so that reruns skip decompression and key remapping.
 *
 * Parsing P2, P6 or P12 means inflating a few MB, expanding half a million block ranges into 13 M
 * accesses and remapping them through a Map of up to 3 M keys: seconds per trace. The result, the
 * dense-id Int32Array, is written raw to `.bench-cache/hitratio/` (gitignored) and read back in
 * milliseconds. The file name carries the source file's size and modification time and a
 * format version, so a changed trace or a changed parser is parsed afresh rather than served
 * stale. The bytes are in the machine's native order (the cache is local, never shipped). The
 * unique-key count is not stored: ids are dense and assigned in order, so it is the largest id + 1.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TraceSpec } from './catalog.js';
import { type DenseTrace, readTrace } from './readers.js';

/** Bump when the parsing rules or the id assignment change, to invalidate cached files. */
const CACHE_VERSION = 1;

export interface LoadedTrace {
  trace: DenseTrace;
  fromCache: boolean;
}

/** The dense trace of `spec`, from the cache when it is current, else parsed and then cached. */
export async function loadTrace(spec: TraceSpec, tracesDir: string, cacheDir: string): Promise<LoadedTrace> {
  const source = join(tracesDir, spec.file);
  const info = await stat(source).catch(() => {
    throw new Error(
      `trace file ${source} not found (point --traces-dir at the traces, or choose others with --traces)`,
    );
  });
  const cached = join(
    cacheDir,
    `${spec.file}.${info.size}.${Math.trunc(info.mtimeMs)}.v${CACHE_VERSION}.i32`,
  );
  const bytes = await readFile(cached).catch(() => undefined);
  if (bytes !== undefined) {
    // Copy when the Buffer is not 4-byte aligned in its ArrayBuffer (small files come from a pool).
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    const ids = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    let maxId = -1;
    for (let i = 0; i < ids.length; i++) if (ids[i] > maxId) maxId = ids[i];
    return { trace: { ids, unique: maxId + 1 }, fromCache: true };
  }
  const trace = await readTrace(source, spec.format, spec.accesses);
  await mkdir(cacheDir, { recursive: true });
  // Older versions of this trace's cache are dead weight once a new one is written.
  for (const name of await readdir(cacheDir)) {
    if (name.startsWith(`${spec.file}.`)) await rm(join(cacheDir, name), { force: true });
  }
  const partial = `${cached}.${process.pid}.tmp`;
  await writeFile(partial, new Uint8Array(trace.ids.buffer, trace.ids.byteOffset, trace.ids.byteLength));
  await rename(partial, cached);
  return { trace, fromCache: false };
}
