/**
 * Whole numbers as configuration writes them: plain decimal digits, nothing else. `Number()` is
 * too lenient for settings: it reads "" and " " as 0, "0x1F9B" as 8091, "8.1e3" as 8100 and
 * " +80 " as 80, so a typo or a stray character would pass for a different value. Every numeric
 * setting goes through this rule (durations and sizes through the same digits-only syntax).
 */
const DIGITS = /^\d+$/;

/** The number `text` writes in plain decimal digits, or undefined (also when it is not a safe integer). */
export function parseWholeNumber(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
