/**
 * The reference tables of `reference-lru-opt.md`: the LRU and OPT-bypass hit ratios that an
 * independent simulator computed for each trace at the cache sizes of the catalog.
 *
 * The file is optional: it is in neither this repository nor the traces' source repositories, and is
 * looked for in the traces folder. When there, the benchmark compares its own LRU and OPT with it,
 * so a parsing or simulation bug shows up before it distorts a SmartCache number. Its shape is a
 * `**name**` line per trace followed by a table `| cache size | LRU % | OPT bypass % | OPT demand % |`
 * whose sizes use thousands separators. A file with no such table is an error: a file that is
 * there but unreadable must not pass for a check that found nothing wrong.
 */
import { readFile } from 'node:fs/promises';

export interface ReferenceRow {
  size: number;
  lru: number;
  optBypass: number;
}

const TRACE_HEADING = /^\*\*([^*]+)\*\*\s*$/;
const TABLE_ROW = /^\|\s*([\d,]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*$/;

/** Rows by trace name, in the file's order; undefined when there is no file at `path`. */
export async function readReference(path: string): Promise<Map<string, ReferenceRow[]> | undefined> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`${path} cannot be read: ${error.message}`);
  });
  if (text === undefined) return undefined;
  const tables = new Map<string, ReferenceRow[]>();
  let rows: ReferenceRow[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const heading = TRACE_HEADING.exec(line);
    if (heading) {
      rows = [];
      tables.set(heading[1].trim(), rows);
      continue;
    }
    const row = TABLE_ROW.exec(line);
    if (row && rows) {
      rows.push({ size: Number(row[1].replaceAll(',', '')), lru: Number(row[2]), optBypass: Number(row[3]) });
    }
  }
  for (const [name, table] of tables) if (table.length === 0) tables.delete(name);
  if (tables.size === 0) throw new Error(`${path}: no reference tables found`);
  return tables;
}
