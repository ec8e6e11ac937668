/**
 * The decompressed bytes of a trace file, as a stream of chunks, chosen by the file's extension.
 *
 * The traces are kept compressed exactly as published (zstd, xz, gzip). gzip is inflated in
 * process by node:zlib. Node has no zstd or xz codec (zstd arrives in Node 22.15) and the npm ports
 * are slow or native, so `.zst` and `.xz` are piped through the standard CLIs, `zstd -dc` and
 * `xz -dc`, which stream at hundreds of MB/s. A missing CLI is reported with the Debian package to
 * install; a CLI that exits non-zero (a corrupt file) is reported with its stderr. Nothing is
 * buffered whole: the parsers in `readers.ts` consume the chunks as they arrive.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';

/** A decompressing CLI and the Debian package that provides it. */
interface CliTool {
  command: string;
  debianPackage: string;
}

const ZSTD: CliTool = { command: 'zstd', debianPackage: 'zstd' };
const XZ: CliTool = { command: 'xz', debianPackage: 'xz-utils' };

/** Decompressed chunks of `path`; `.zst`, `.xz` and `.gz` are understood. */
export function decompressedChunks(path: string): AsyncIterable<Buffer> {
  if (path.endsWith('.zst')) return throughCli(ZSTD, path);
  if (path.endsWith('.xz')) return throughCli(XZ, path);
  if (path.endsWith('.gz')) return gunzip(path);
  throw new Error(`${basename(path)}: unknown compression (expected a .zst, .xz or .gz file)`);
}

async function* gunzip(path: string): AsyncGenerator<Buffer> {
  const file = createReadStream(path);
  const inflate = createGunzip();
  file.once('error', (error) => inflate.destroy(error));
  yield* file.pipe(inflate);
}

async function* throughCli(tool: CliTool, path: string): AsyncGenerator<Buffer> {
  const child = spawn(tool.command, ['-dc', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Settles once, with the exit code or the spawn error, so no rejection is ever left unhandled.
  const ended = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let drained = false;
  try {
    yield* child.stdout;
    drained = true;
  } finally {
    // The consumer may stop early (a parse error): do not leave the decompressor running.
    if (!drained) child.kill();
  }
  const { code, error } = await ended;
  if (error?.code === 'ENOENT') {
    throw new Error(
      `\`${tool.command}\` is not installed; it is needed to decompress ${basename(path)}. ` +
        `Install the Debian package ${tool.debianPackage} (apt-get install ${tool.debianPackage}).`,
    );
  }
  if (error) throw new Error(`${tool.command} could not be started for ${basename(path)}: ${error.message}`);
  if (code !== 0) {
    throw new Error(`${tool.command} -dc ${basename(path)} exited with code ${code}: ${stderr.trim()}`);
  }
}
