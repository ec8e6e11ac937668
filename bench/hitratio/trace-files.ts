/**
 * Which of the selected trace files a folder holds, and where to get the others.
 *
 * The traces are not in this repository (they are public, see `catalog.ts`), so the benchmark
 * checks the folder before it runs anything: it runs the files that are there and names the
 * missing ones with their source, rather than failing on the first absent file after minutes of
 * work on the others. Only a name is looked for: a file that is there but damaged fails when
 * decompressed, with the decompressor's message.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceFolder, TraceSpec } from './catalog.js';

export interface TraceFiles {
  /** False when `dir` does not exist or is not a folder; then every file is missing. */
  folderExists: boolean;
  present: TraceSpec[];
  missing: TraceSpec[];
}

/** Splits `specs` into the files that are in `dir` and those that are not, in catalog order. */
export async function locateTraces(specs: readonly TraceSpec[], dir: string): Promise<TraceFiles> {
  const folder = await stat(dir).catch(() => undefined);
  if (folder?.isDirectory() !== true) return { folderExists: false, present: [], missing: [...specs] };
  const found = await Promise.all(specs.map((spec) => isFile(join(dir, spec.file))));
  return {
    folderExists: true,
    present: specs.filter((_, i) => found[i]),
    missing: specs.filter((_, i) => !found[i]),
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** One line per source folder of `specs`: the folder's address at its commit, then its files. */
export function whereToGet(specs: readonly TraceSpec[]): string[] {
  const byFolder = new Map<SourceFolder, string[]>();
  for (const spec of specs) byFolder.set(spec.source, [...(byFolder.get(spec.source) ?? []), spec.file]);
  return [...byFolder].map(([source, files]) => `${folderAddress(source)}: ${files.join(', ')}`);
}

function folderAddress({ repository, commit, folder }: SourceFolder): string {
  return `https://github.com/${repository}/tree/${commit}/${folder}`;
}
