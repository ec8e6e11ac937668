/**
 * Plain-text tables for the terminal: a header, a rule, and right-aligned cells, one space of
 * padding around each `|`, as markdown would show them. Every cell is already a string, so number
 * formatting stays with the caller, which knows the units.
 */

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${widths.map((width, column) => (cells[column] ?? '').padStart(width)).join(' | ')} |`;
  const rule = `|${widths.map((width) => `${'-'.repeat(width + 1)}:`).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A percentage with two decimals, the precision of the reference tables. */
export function pct(value: number): string {
  return value.toFixed(2);
}
