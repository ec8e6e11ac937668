/**
 * Durations as people write them in configuration: `250ms`, `30s`, `5m`, `2h`, `1d`, a bare number
 * of milliseconds, or a combination (`1m30s`). Code works in milliseconds; this is the one place
 * that reads the written forms, so a routes file, an environment variable and a CLI flag accept
 * the same spellings.
 *
 * The syntax is strict: decimal digits (a fraction is allowed: `1.5s`), units, nothing else: no
 * sign, no exponent, no hexadecimal, no surrounding whitespace. The result is whole milliseconds
 * but not bounded: each caller refuses what is out of its own range (and says the range).
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

const BARE_MS = /^\d+(?:\.\d+)?$/;

/** Whole milliseconds of a written duration (a number: of ms), or undefined when it is not one. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return wholeMs(text);
  if (BARE_MS.test(text)) return wholeMs(Number(text));
  PART.lastIndex = 0;
  let total = 0;
  let matched = 0;
  for (let part = PART.exec(text); part !== null; part = PART.exec(text)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
    matched = PART.lastIndex;
  }
  return matched > 0 && matched === text.length ? wholeMs(total) : undefined;
}

function wholeMs(ms: number): number | undefined {
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : undefined;
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
