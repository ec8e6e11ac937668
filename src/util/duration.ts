/**
 * Durations as people write them in configuration: `250ms`, `30s`, `5m`, `2h`, `1d`, a bare number
 * of milliseconds, or a combination (`1m30s`). Code works in milliseconds; this is the one place
 * that reads the written forms, so a routes file, an environment variable and a CLI flag accept
 * the same spellings.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds of a written duration, or undefined when it is not one. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed);
  PART.lastIndex = 0;
  let total = 0;
  let matched = 0;
  for (let part = PART.exec(trimmed); part !== null; part = PART.exec(trimmed)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
    matched = PART.lastIndex;
  }
  return matched > 0 && matched === trimmed.length ? Math.round(total) : undefined;
}

/** A duration for messages: `90000` → `1m30s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}
