/**
 * Keel's version, read once from its package.json (the one beside `src/` in a checkout, beside
 * `dist/` in an installed package), for `keel --version` and `/api/status`.
 */
import { readFileSync } from 'node:fs';

export const KEEL_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
