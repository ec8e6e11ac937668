/**
 * A watched figure held against its row of the thresholds table, as `keel status` and the sync's
 * dashboard show it: the value and the target in the row's unit, and the level reached.
 */
import { formatValue } from './alert-rules.js';
import { levelOf, type Severity, type ThresholdRow } from './thresholds.js';

export interface JudgedRow {
  name: string;
  title: string;
  value: string;
  target: string;
  /** The level reached, 'ok', or 'n/a' when there is no value to judge. */
  level: Severity | 'ok' | 'n/a';
}

export function judgeRow(row: ThresholdRow, value: number | undefined): JudgedRow {
  const target = `${row.direction === 'above' ? '≤' : '≥'} ${formatValue(row, row.target)}`;
  if (value === undefined) return { name: row.name, title: row.title, value: '–', target, level: 'n/a' };
  return {
    name: row.name,
    title: row.title,
    value: formatValue(row, value),
    target,
    level: levelOf(row, value)?.severity ?? 'ok',
  };
}
