/**
 * Byte sizes as people write them in configuration: `512kb`, `256mb`, `1gb` (powers of 1,024),
 * or a bare number of bytes. As strict as durations (duration.ts): decimal digits, an optional
 * fraction, one optional space before the unit, and nothing else.
 */
const UNIT_BYTES: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const SIZE = /^(\d+(?:\.\d+)?)(?: ?(b|kb|mb|gb))?$/i;

/** Bytes of a written size (positive, a safe integer), or undefined when it is not one. */
export function parseBytes(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text > 0 ? text : undefined;
  const match = SIZE.exec(text);
  if (match === null) return undefined;
  const bytes = Math.round(Number(match[1]) * (UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] as number));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** `268435456` → `256 MiB`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) return `${(bytes / size).toFixed(bytes % size === 0 ? 0 : 1)} ${unit}`;
  }
  return `${bytes} B`;
}
