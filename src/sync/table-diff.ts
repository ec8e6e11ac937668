/**
 * Field-level differences between two listing tables of one database (the old system's and the
 * new one's, or a table and its shadow), found without moving the rows: each side reduces a key
 * range to a count and a sum of row hashes, and only the ranges whose figures differ are split
 * and compared again, as data-diff does (https://github.com/datafold/data-diff, "hashdiff").
 *
 * A range is split into SPLIT parts at the keys that cut it into equal shares (ntile over the
 * primary key, an index scan), and both sides are grouped by those same bounds (width_bucket) in
 * one query each. A range of at most ROWS_COMPARED_DIRECTLY rows on both sides is fetched and
 * compared row by row. So 1,000,000 rows with 10 differing cost a scan of each table, then scans
 * of the ~10 ranges that differ at each level, each SPLIT times smaller.
 *
 * A row's hash is hashtextextended over its compared columns joined with a separator (NULL as
 * its own marker), summed as numeric so no sum overflows. Two tables whose hashes sum alike by
 * chance would hide a difference: with 64-bit hashes, the odds are negligible.
 */
import type { Queryable } from './database.js';

/** Parts a differing range is split into. */
const SPLIT = 16;
/** A range this small on both sides is compared row by row. */
const ROWS_COMPARED_DIRECTLY = 256;

export interface RowDifference {
  key: string;
  /** `missing`: in `expected` only; `extra`: in `actual` only; `changed`: the columns differ. */
  kind: 'missing' | 'extra' | 'changed';
  /** For `changed`: column → [expected, actual]. */
  columns?: Record<string, [unknown, unknown]>;
}

export interface TableDiffOptions {
  /** The table holding what should be there. */
  expected: string;
  /** The table compared with it. */
  actual: string;
  key: string;
  /** The columns compared (the key included or not). */
  columns: readonly string[];
  /** Stop after this many differences (the report says it stopped). */
  limit?: number;
}

export interface TableDiff {
  differences: RowDifference[];
  /** Whether `limit` cut the search short. */
  truncated: boolean;
  /** Queries run, for the report. */
  queries: number;
}

interface Range {
  /** Inclusive lower bound; undefined: from the first key. */
  from: string | undefined;
  /** Exclusive upper bound; undefined: to the last key. */
  to: string | undefined;
}

interface Figures {
  count: number;
  sum: string;
}

export async function diffTables(db: Queryable, options: TableDiffOptions): Promise<TableDiff> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const differences: RowDifference[] = [];
  let queries = 0;
  const rowHash = `hashtextextended(concat_ws('|', ${options.columns.map((column) => `coalesce(${column}::text, '∅')`).join(', ')}), 0)::numeric`;
  const where = (range: Range, first: number) => {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (range.from !== undefined) {
      params.push(range.from);
      conditions.push(`${options.key} >= $${first + params.length - 1}`);
    }
    if (range.to !== undefined) {
      params.push(range.to);
      conditions.push(`${options.key} < $${first + params.length - 1}`);
    }
    return { sql: conditions.length === 0 ? 'true' : conditions.join(' AND '), params };
  };

  /** The keys cutting `range` of `table` into SPLIT parts of equal size. */
  const bounds = async (table: string, range: Range): Promise<string[]> => {
    const filter = where(range, 1);
    queries++;
    const { rows } = await db.query<{ bound: string }>(
      `SELECT min(${options.key}) AS bound FROM (
         SELECT ${options.key}, ntile(${SPLIT}) OVER (ORDER BY ${options.key}) AS part FROM ${table} WHERE ${filter.sql}
       ) parts GROUP BY part HAVING part > 1 ORDER BY 1`,
      filter.params,
    );
    return rows.map((row) => row.bound);
  };

  /** Count and hash sum of each part of `range` cut at `cuts` (part 0 before the first cut). */
  const figures = async (table: string, range: Range, cuts: string[]): Promise<Map<number, Figures>> => {
    const filter = where(range, 2);
    queries++;
    const { rows } = await db.query<{ part: number; count: string; sum: string }>(
      `SELECT width_bucket(${options.key}, $1::text[]) AS part, count(*) AS count, sum(${rowHash})::text AS sum
       FROM ${table} WHERE ${filter.sql} GROUP BY 1`,
      [cuts, ...filter.params],
    );
    return new Map(rows.map((row) => [Number(row.part), { count: Number(row.count), sum: row.sum }]));
  };

  const rowsOf = async (table: string, range: Range): Promise<Map<string, Record<string, unknown>>> => {
    const filter = where(range, 1);
    queries++;
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT ${[options.key, ...options.columns.filter((column) => column !== options.key)].join(', ')} FROM ${table} WHERE ${filter.sql}`,
      filter.params,
    );
    return new Map(rows.map((row) => [String(row[options.key]), row]));
  };

  const compareRows = async (range: Range): Promise<void> => {
    const [expected, actual] = await Promise.all([
      rowsOf(options.expected, range),
      rowsOf(options.actual, range),
    ]);
    for (const [key, row] of [...expected].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (differences.length >= limit) return;
      const other = actual.get(key);
      if (other === undefined) differences.push({ key, kind: 'missing' });
      else {
        const columns = changedColumns(row, other, options.columns);
        if (columns !== undefined) differences.push({ key, kind: 'changed', columns });
      }
    }
    for (const key of [...actual.keys()].sort()) {
      if (differences.length >= limit) return;
      if (!expected.has(key)) differences.push({ key, kind: 'extra' });
    }
  };

  const visit = async (
    range: Range,
    sizes: { expected: number; actual: number } | undefined,
  ): Promise<void> => {
    if (differences.length >= limit) return;
    if (sizes !== undefined && Math.max(sizes.expected, sizes.actual) <= ROWS_COMPARED_DIRECTLY)
      return compareRows(range);
    // Cut at the larger side's keys, so a side with rows the other lacks still splits evenly.
    const cuts = await bounds(
      sizes !== undefined && sizes.actual > sizes.expected ? options.actual : options.expected,
      range,
    );
    if (cuts.length === 0) return compareRows(range);
    const [left, right] = await Promise.all([
      figures(options.expected, range, cuts),
      figures(options.actual, range, cuts),
    ]);
    for (let part = 0; part <= cuts.length; part++) {
      const a = left.get(part) ?? { count: 0, sum: '0' };
      const b = right.get(part) ?? { count: 0, sum: '0' };
      if (a.count === b.count && (a.sum ?? '0') === (b.sum ?? '0')) continue;
      const sub: Range = {
        from: part === 0 ? range.from : cuts[part - 1],
        to: part === cuts.length ? range.to : cuts[part],
      };
      await visit(sub, { expected: a.count, actual: b.count });
    }
  };

  await visit({ from: undefined, to: undefined }, undefined);
  return { differences, truncated: differences.length >= limit, queries };
}

function changedColumns(
  expected: Record<string, unknown>,
  actual: Record<string, unknown>,
  columns: readonly string[],
): Record<string, [unknown, unknown]> | undefined {
  let changed: Record<string, [unknown, unknown]> | undefined;
  for (const column of columns) {
    const a = expected[column];
    const b = actual[column];
    if (a === b || (a != null && b != null && String(a) === String(b))) continue;
    changed ??= {};
    changed[column] = [a, b];
  }
  return changed;
}
