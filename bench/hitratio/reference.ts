/**
 * The reference tables of `reference-lru-opt.md`: the cache sizes to run per trace, and the LRU
 * and OPT-bypass hit ratios an independent simulator computed at those sizes.
 *
 * The file is read, not copied into code, so the benchmark's sizes and its correctness checks
 * follow the one document that the traces folder keeps. Its shape is a `**name**` line per trace
 * followed by a table `| cache size | LRU % | OPT bypass % | OPT demand % |` whose sizes use
 * thousands separators. A file with no such table is an error rather than an empty benchmark.
 */
import { readFile } from 'node:fs/promises';

export interface ReferenceRow {
  size: number;
  lru: number;
  optBypass: number;
}

const TRACE_HEADING = /^\*\*([^*]+)\*\*\s*$/;
const TABLE_ROW = /^\|\s*([\d,]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*$/;

/** Rows by trace name, in the file's order. */
export async function readReference(path: string): Promise<Map<string, ReferenceRow[]>> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new Error(`${path} not found: it lists the cache sizes and reference hit ratios per trace`);
  });
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
